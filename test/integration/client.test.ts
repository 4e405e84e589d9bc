import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { request } from 'undici';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTokenHubClient, TokenHubError, TokenHubTimeoutError } from 'wechat-token-hub/client';
import { createLocalServer } from '../../lib/http/local-server.js';
import { listen, type Listening } from '../support/listen.js';
import { jsapiSignature } from '../../lib/jssdk.js';
import { MINUTE } from '../support/manual-clock.js';
import { closeSharedDynalite, CRM, READ_KEY, REFRESH_KEY, startWorld, type World } from '../support/world.js';

/** The client library against the real handlers over HTTP (the local API Gateway server), not a mock of them. */
const OA = 'wx_oa_0001';
let world: World;
let server: Listening;
let url: string;
let hubRequests: string[];

beforeEach(async () => {
  world = await startWorld();
  const hub = world.container();
  hubRequests = [];
  server = await listen(createLocalServer({
    getToken: (e) => (hubRequests.push(e.rawPath), hub.getToken(e)),
    forceRefresh: (e) => (hubRequests.push(e.rawPath), hub.forceRefresh(e)),
    tickets: (e) => (hubRequests.push(e.rawPath), hub.tickets(e)),
    compat: (e) => hub.compat(e),
    proxy: (e) => hub.proxy(e),
    status: (e) => hub.status(e),
  }));
  url = server.url;
});
afterEach(async () => {
  await server.close();
  await world.close();
});
afterAll(closeSharedDynalite);

const client = (apiKey = REFRESH_KEY, extra = {}) => createTokenHubClient({ baseUrl: url, apiKey, now: () => world.clock.now(), ...extra });

/** A fetch that never answers, until its signal aborts it. */
const hangingFetch = ((_url: unknown, init?: RequestInit) =>
  new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)))) as typeof fetch;

/** A WeChat API call as a service makes it, against the simulator: getcallbackip with the token. */
async function callWeChat(token: string): Promise<{ errcode?: number; ip_list?: string[] }> {
  const res = await request(`${world.wechatBase}/cgi-bin/getcallbackip?access_token=${encodeURIComponent(token)}`);
  return (await res.body.json()) as { errcode?: number; ip_list?: string[] };
}

describe('wechat-token-hub/client', () => {
  it('caches a token for the expires_in the hub answered (until the hub replaces it), with one request in flight per app', async () => {
    const hub = client();
    const tokens = await Promise.all(Array.from({ length: 20 }, () => hub.getAccessToken('oa')));
    expect(new Set(tokens)).toEqual(new Set([world.sim.currentToken(OA)]));
    expect(hubRequests).toEqual(['/v1/apps/oa/access-token']);
    world.clock.advance(98 * MINUTE);
    await hub.getAccessToken('oa');
    expect(hubRequests).toHaveLength(1);
    world.clock.advance(2 * MINUTE); // 100 minutes: 20 left, past the reuse window
    await hub.getAccessToken('oa');
    expect(hubRequests).toHaveLength(2);
  });

  it('withAccessToken heals a token WeChat rejects: one forced refresh, fn called once more', async () => {
    const hub = client();
    const first = await hub.getAccessToken('oa');
    world.sim.revokeTokens(OA);
    world.clock.advance(11_000);
    const seen: string[] = [];
    const out = await hub.withAccessToken('oa', async (token) => {
      seen.push(token);
      return callWeChat(token);
    });
    expect(out.ip_list?.length).toBeGreaterThan(0);
    expect(seen).toEqual([first, world.sim.currentToken(OA)]);
    expect(world.sim.calls(OA)).toBe(2);
    // The refreshed token is what the client hands out now.
    expect(await hub.getAccessToken('oa')).toBe(world.sim.currentToken(OA));
  });

  it('withAccessToken heals an error that carries the errcode, and leaves other errors alone', async () => {
    const hub = client();
    await hub.getAccessToken('oa');
    world.sim.revokeTokens(OA);
    world.clock.advance(11_000);
    let calls = 0;
    const out = await hub.withAccessToken('oa', async (token) => {
      calls++;
      const r = await callWeChat(token);
      if (r.errcode) throw Object.assign(new Error('WeChat said no'), { errcode: r.errcode });
      return 'ok';
    });
    expect(out).toBe('ok');
    expect(calls).toBe(2);
    await expect(hub.withAccessToken('oa', async () => { throw new Error('other'); })).rejects.toThrow('other');
    // A 40001 for a token WeChat still accepts is not healed by rotating it: fn is not called again.
    let again = 0;
    const result = await hub.withAccessToken('oa', async () => (again++, { errcode: 40001 }));
    expect(result).toEqual({ errcode: 40001 });
    expect(again).toBe(1);
    expect(world.sim.calls(OA)).toBe(2);
  });

  it('tickets and signatures', async () => {
    const hub = client(READ_KEY);
    expect(await hub.getTicket('oa', 'jsapi')).toBe(world.sim.currentTicket(OA, 'jsapi'));
    await hub.getTicket('oa', 'jsapi');
    expect(hubRequests.filter((p) => p.includes('tickets'))).toHaveLength(1);
    const sig = await hub.getJsapiSignature('crm', 'https://crm.example/a#b');
    expect(sig.appId).toBe('ww_corp_0001');
    expect(sig.agentConfig?.signature).toBe(
      jsapiSignature({ ticket: world.sim.currentTicket(CRM, 'agent_config')!, nonceStr: sig.agentConfig!.nonceStr, timestamp: sig.agentConfig!.timestamp, url: 'https://crm.example/a' }),
    );
  });

  it('typed errors: the hub\'s status and code, timeouts, and an unreachable hub', async () => {
    const wrong = await client('not_a_valid_key_0123456789').getAccessToken('oa').catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(TokenHubError);
    expect(wrong).toMatchObject({ status: 401, code: 'unauthorized' });
    const scope = await client(READ_KEY).refreshAccessToken('oa', 'x').catch((e: unknown) => e);
    expect(scope).toMatchObject({ status: 403, code: 'forbidden' });
    world.sim.failNext({ kind: 'errcode', errcode: 40164 }, 1, OA);
    const upstream = await client().getAccessToken('oa').catch((e: unknown) => e);
    expect(upstream).toMatchObject({ status: 502, code: 'wechat_error', errcode: 40164 });
    expect((upstream as TokenHubError).retryAfterSeconds).toBeGreaterThan(0);

    const slow = await createTokenHubClient({ baseUrl: url, apiKey: READ_KEY, timeoutMs: 50, fetch: hangingFetch })
      .getAccessToken('oa')
      .catch((e: unknown) => e);
    expect(slow).toBeInstanceOf(TokenHubTimeoutError);
    const down = await createTokenHubClient({ baseUrl: 'http://127.0.0.1:1', apiKey: READ_KEY }).getAccessToken('oa').catch((e: unknown) => e);
    expect(down).toMatchObject({ status: 0, code: 'unreachable' });
  });

  it('is usable from plain JavaScript (ESM) with node alone, no TypeScript toolchain', async () => {
    const script = `
      import { createTokenHubClient } from 'wechat-token-hub/client';
      const hub = createTokenHubClient({ baseUrl: ${JSON.stringify(url)}, apiKey: ${JSON.stringify(READ_KEY)} });
      console.log(await hub.getAccessToken('oa'));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd() });
    expect(stdout.trim()).toBe(world.sim.currentToken(OA));
  });
});
