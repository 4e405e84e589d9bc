import { Work } from 'node-easywechat';
import { request } from 'undici';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../lib/http/auth.js';
import { createLocalServer } from '../../lib/http/local-server.js';
import { jsapiSignature } from '../../lib/jssdk.js';
import { listen, type Listening } from '../support/listen.js';
import { APPS, closeSharedDynalite, CRM, httpEvent, json, startWorld, ticketEvent, type World } from '../support/world.js';
import type { Hub } from '../../lib/hub.js';

/**
 * A WeCom secret without an AgentId (contacts sync 通讯录同步, customer contact 客户联系): the hub
 * serves its token and the corp ticket, natively and on the WeChat-compatible paths, signs wx.config
 * without agentConfig, and never asks WeCom for an app ticket it cannot have.
 */
const CORP = 'ww_corp_0001';
const CONTACTS = `${CORP}/contacts`; // the secret's id in the simulator
const SECRET = 'contacts-sync-secret-0123456789';
const KEY = `test_contacts_${'c'.repeat(24)}`;
const ADMIN = `test_contacts_admin_${'a'.repeat(20)}`;
const contactsApp = { name: 'contacts', type: 'wecom', corpid: CORP, secret: { env: 'SECRET_CONTACTS' }, compat: true, tickets: ['jsapi'] };

let world: World;
let hub: Hub;
let server: Listening;

beforeEach(async () => {
  world = await startWorld();
  world.sim.addWeComApp({ corpid: CORP, label: 'contacts', secret: SECRET });
  world.setSecret('SECRET_CONTACTS', SECRET);
  hub = world.container({
    HUB_APPS: JSON.stringify([...APPS, contactsApp]),
    HUB_API_KEYS: JSON.stringify([
      { name: 'contacts-sync', sha256: hashApiKey(KEY), apps: ['contacts'], scopes: ['read', 'refresh'] },
      { name: 'operator', sha256: hashApiKey(ADMIN), apps: ['*'], scopes: ['admin'] },
    ]),
    SECRET_CONTACTS: SECRET,
  });
  server = await listen(createLocalServer(hub));
});
afterEach(async () => {
  await server.close();
  await world.close();
});
afterAll(closeSharedDynalite);

const compat = async (path: string) => JSON.parse(await (await request(`${server.url}${path}`)).body.text());

describe('a WeCom secret without an agentid', () => {
  it('has its token and the corp ticket; the tick never asks for an app ticket', async () => {
    await hub.tick();
    const token = json(await hub.getToken(httpEvent({ key: KEY, app: 'contacts' })));
    expect(token.access_token).toBe(world.sim.currentToken(CONTACTS));
    expect(token.access_token).not.toBe(world.sim.currentToken(CRM)); // its own token, not the app's of the same corp
    const corp = json(await hub.tickets(ticketEvent({ app: 'contacts', type: 'jsapi', key: KEY })));
    expect(corp.ticket).toBe(world.sim.currentTicket(CONTACTS, 'jsapi'));
    expect(world.sim.calls(CONTACTS, 'wecom_gettoken')).toBe(1);
    expect(world.sim.calls(CONTACTS, 'wecom_jsapi_ticket')).toBe(1);
    expect(world.sim.calls(CONTACTS, 'wecom_agent_config')).toBe(0);

    const status = json(await hub.status(httpEvent({ method: 'GET', key: ADMIN, path: '/v1/status', routeKey: 'GET /v1/status', pathParameters: {} })));
    const mine = status.apps.find((a: { app: string }) => a.app === 'contacts');
    expect(mine.credentials.map((c: { kind: string }) => c.kind)).toEqual(['access_token', 'jsapi_ticket']);
  });

  it('answers agent_config with a 404 that says why, and signs wx.config without agentConfig', async () => {
    const res = await hub.tickets(ticketEvent({ app: 'contacts', type: 'agent_config', key: KEY }));
    expect(res.statusCode).toBe(404);
    expect(json(res).error.code).toBe('unknown_credential');
    expect(json(res).error.message).toMatch(/has no agent_config ticket \(a WeCom app without an agentid .* has only jsapi, the corp ticket/);
    const refresh = await hub.tickets(ticketEvent({ app: 'contacts', type: 'agent_config', key: KEY, refresh: 'x'.repeat(40) }));
    expect(refresh.statusCode).toBe(404);

    const sig = json(await hub.tickets(ticketEvent({ app: 'contacts', key: KEY, url: 'https://hr.example/people#top' })));
    expect(Object.keys(sig).sort()).toEqual(['appId', 'nonceStr', 'signature', 'timestamp']);
    expect(sig.appId).toBe(CORP);
    const ticket = world.sim.currentTicket(CONTACTS, 'jsapi')!;
    expect(sig.signature).toBe(jsapiSignature({ ticket, nonceStr: sig.nonceStr, timestamp: sig.timestamp, url: 'https://hr.example/people' }));
    expect(world.sim.calls(CONTACTS, 'wecom_agent_config')).toBe(0);
  });

  it('on the WeChat-compatible paths: token and corp ticket as from WeCom, agent_config refused WeCom\'s way', async () => {
    const token = await compat(`/cgi-bin/gettoken?corpid=${CORP}&corpsecret=${KEY}`);
    expect(token).toMatchObject({ errcode: 0, access_token: world.sim.currentToken(CONTACTS) });
    const corp = await compat(`/cgi-bin/get_jsapi_ticket?access_token=${token.access_token}`);
    expect(corp).toMatchObject({ errcode: 0, ticket: world.sim.currentTicket(CONTACTS, 'jsapi') });
    const agent = await compat(`/cgi-bin/ticket/get?type=agent_config&access_token=${token.access_token}`);
    expect(agent.errcode).toBe(48001);
    expect(agent.errmsg).toMatch(/no agentid/);
    expect(await compat(`/cgi-bin/ticket/get?type=other&access_token=${token.access_token}`)).toMatchObject({ errcode: 40058 });
    expect(world.sim.calls(CONTACTS, 'wecom_agent_config')).toBe(0);
  });

  it('serves an unmodified SDK (node-easywechat\'s Work) configured with a hub key as the contacts secret', async () => {
    const m = new Map<string, unknown>();
    const cache = { get: async (k: string) => m.get(k), has: async (k: string) => m.has(k), set: async (k: string, v: unknown) => void m.set(k, v), delete: async (k: string) => void m.delete(k) };
    const work = new Work({ corp_id: CORP, secret: KEY, token: '', aes_key: '', http: { baseURL: `${server.url}/` } } as any);
    work.setCache(cache as any);
    expect(await work.getAccessToken().getToken()).toBe(world.sim.currentToken(CONTACTS));
    expect(await work.getTicket().getTicket()).toBe(world.sim.currentTicket(CONTACTS, 'jsapi'));
  });

  it('the simulator refuses an app ticket to such a secret, as WeCom does (48001)', async () => {
    const t = await compat(`/cgi-bin/gettoken?corpid=${CORP}&corpsecret=${KEY}`);
    const direct = JSON.parse(await (await request(`${world.wechatBase}/cgi-bin/ticket/get?type=agent_config&access_token=${t.access_token}`)).body.text());
    expect(direct.errcode).toBe(48001);
  });
});
