import { OfficialAccount, Work } from 'node-easywechat';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalServer } from '../../lib/http/local-server.js';
import { listen, type Listening } from '../support/listen.js';
import { jsapiSignature } from '../../lib/jssdk.js';
import { closeSharedDynalite, COMPAT_APPS, CRM, READ_KEY, startWorld, type World } from '../support/world.js';

/**
 * A second unmodified SDK from npm, node-easywechat (the Node port of EasyWeChat), on the
 * WeChat-compatible paths: the stable_token API, WeCom's gettoken and both WeCom tickets, and the
 * SDK's own JS-SDK signatures made with the hub's tickets.
 */
const OA = 'wx_oa_0001';
let world: World;
let server: Listening;
let base: string;

beforeEach(async () => {
  world = await startWorld();
  const hub = world.container({ HUB_APPS: JSON.stringify(COMPAT_APPS) });
  await hub.tick();
  server = await listen(createLocalServer(hub));
  base = `${server.url}/`;
});
afterEach(async () => {
  await server.close();
  await world.close();
});
afterAll(closeSharedDynalite);

/** An in-memory cache (the SDK's default writes files into the working directory). */
function memoryCache() {
  const m = new Map<string, unknown>();
  return {
    get: async (k: string) => m.get(k),
    has: async (k: string) => m.has(k),
    set: async (k: string, v: unknown) => void m.set(k, v),
    delete: async (k: string) => void m.delete(k),
  };
}

describe('node-easywechat on the WeChat-compatible paths', () => {
  it('an Official Account with stable_token gets the hub\'s token and jsapi ticket, and signs pages with them', async () => {
    const fetches = world.sim.calls(OA);
    const app = new OfficialAccount({ app_id: OA, secret: READ_KEY, token: '', aes_key: '', use_stable_access_token: true, http: { baseURL: base } } as any);
    app.setCache(memoryCache() as any);
    expect(await app.getAccessToken().getToken()).toBe(world.sim.currentToken(OA));
    const ticket = await app.getTicket().getTicket();
    expect(ticket).toBe(world.sim.currentTicket(OA, 'jsapi'));
    const cfg = await app.getTicket().configSignature('https://shop.example/p', 'abcdefghij', 1795400000);
    expect(cfg.signature).toBe(jsapiSignature({ ticket, nonceStr: 'abcdefghij', timestamp: 1795400000, url: 'https://shop.example/p' }));
    expect(world.sim.calls(OA)).toBe(fetches);
    expect(world.sim.calls(OA, 'stable_token')).toBe(0); // the hub answered; WeChat was not asked
  });

  it('a wrong key gets WeChat\'s error shape', async () => {
    const app = new OfficialAccount({ app_id: OA, secret: 'hub_wrong_0123456789abcdef', token: '', aes_key: '', use_stable_access_token: true, http: { baseURL: base } } as any);
    app.setCache(memoryCache() as any);
    await expect(app.getAccessToken().getToken()).rejects.toThrow(/"errcode":40125/);
  });

  it('a WeCom app gets the hub\'s token, corp ticket and app ticket', async () => {
    const work = new Work({ corp_id: 'ww_corp_0001', secret: READ_KEY, token: '', aes_key: '', http: { baseURL: base } } as any);
    work.setCache(memoryCache() as any);
    expect(await work.getAccessToken().getToken()).toBe(world.sim.currentToken(CRM));
    expect(await work.getTicket().getTicket()).toBe(world.sim.currentTicket(CRM, 'jsapi'));
    expect(await work.getTicket().getAgentTicket(1000002)).toBe(world.sim.currentTicket(CRM, 'agent_config'));
    expect(world.sim.calls(CRM, 'wecom_gettoken')).toBe(1); // the tick's, none for the SDK
  });
});
