import API from 'co-wechat-api';
import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalServer } from '../../lib/http/local-server.js';
import { listen, type Listening } from '../support/listen.js';
import type { Hub } from '../../lib/hub.js';
import { closeSharedDynalite, COMPAT_APPS, CRM, OTHER_APP_KEY, PROXY_KEY, READ_KEY, REFRESH_KEY, startWorld, type World } from '../support/world.js';

/**
 * WeChat's own paths, exercised by an unmodified SDK from npm (co-wechat-api, configured with a hub
 * key as its "secret" and the hub as its base URL) and by plain HTTP for what it does not cover.
 */
const OA = 'wx_oa_0001';
const MP = 'wx_mp_0002';
let world: World;
let hub: Hub;
let server: Listening;
let base: string;

beforeEach(async () => {
  world = await startWorld();
  hub = world.container({ HUB_APPS: JSON.stringify(COMPAT_APPS) });
  await hub.tick(); // tokens, and the tickets the apps list, as a running hub has them
  server = await listen(createLocalServer(hub));
  base = server.url;
});
afterEach(async () => {
  await server.close();
  await world.close();
});
afterAll(closeSharedDynalite);

function sdk(appid: string, key: string): API {
  let stored: { accessToken: string; expireTime: number } | null = null;
  const api = new API(appid, key, async () => stored, async (t) => void (stored = t));
  api.prefix = `${base}/cgi-bin/`; // the only change a service makes
  return api;
}

async function get(path: string) {
  const res = await request(`${base}${path}`);
  return { status: res.statusCode, type: res.headers['content-type'], text: await res.body.text() };
}

describe('an unmodified SDK (co-wechat-api) on the WeChat-compatible paths', () => {
  it('gets the hub\'s token and jsapi ticket exactly as from WeChat, with no new upstream fetch', async () => {
    const tokens = world.sim.calls(OA);
    const tickets = world.sim.calls(OA, 'ticket_jsapi');
    const api = sdk(OA, READ_KEY);
    const token = await api.getAccessToken();
    expect(token.accessToken).toBe(world.sim.currentToken(OA));
    expect(token.isValid()).toBe(true);
    const ticket = await api.getTicket('jsapi');
    expect(ticket.ticket).toBe(world.sim.currentTicket(OA, 'jsapi'));
    expect(world.sim.calls(OA)).toBe(tokens);
    expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(tickets);
  });

  it('gets WeChat-shaped errors for a wrong key, a key of another app, and an appid the hub does not serve', async () => {
    for (const [appid, key] of [[OA, 'hub_not_a_key_0123456789abcdef'], [OA, OTHER_APP_KEY], [OA, PROXY_KEY]] as const) {
      const err = await sdk(appid, key).getAccessToken().catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'WeChatAPIError', code: 40125 });
      expect(String((err as Error).message)).not.toContain(key);
    }
    const unknown = await sdk('wx_not_here', READ_KEY).getAccessToken().catch((e: unknown) => e);
    expect(unknown).toMatchObject({ name: 'WeChatAPIError', code: 40013 });
    const notCompat = await sdk('wx_other_03', OTHER_APP_KEY).getAccessToken().catch((e: unknown) => e);
    expect(notCompat).toMatchObject({ code: 40013 });
  });

  it('its other calls are passed on to WeChat, and a token WeChat rejects is healed with one refresh', async () => {
    const api = sdk(OA, READ_KEY);
    expect((await api.getIp()).ip_list.length).toBeGreaterThan(0);
    world.sim.revokeTokens(OA); // someone outside fetched with the AppSecret
    world.clock.advance(11_000);
    // The SDK meets 40001, asks for a token again (as it does), gets the healed one and succeeds.
    expect((await api.getIp()).ip_list.length).toBeGreaterThan(0);
    expect(world.sim.calls(OA)).toBe(2);
    expect((await api.getAccessToken()).accessToken).toBe(world.sim.currentToken(OA));
  });
});

describe('the WeChat-compatible paths', () => {
  it('/cgi-bin/token answers as WeChat: the token, or {errcode, errmsg} with HTTP 200', async () => {
    const ok = await get(`/cgi-bin/token?grant_type=client_credential&appid=${OA}&secret=${READ_KEY}`);
    expect(ok.status).toBe(200);
    expect(ok.type).toContain('application/json');
    expect(JSON.parse(ok.text)).toEqual({ access_token: world.sim.currentToken(OA), expires_in: 7200 - 1200 }); // until the hub replaces it
    const cases: [string, number][] = [
      [`/cgi-bin/token?grant_type=password&appid=${OA}&secret=${READ_KEY}`, 40002],
      [`/cgi-bin/token?grant_type=client_credential&secret=${READ_KEY}`, 41002],
      [`/cgi-bin/token?grant_type=client_credential&appid=${OA}`, 41004],
      [`/cgi-bin/token?grant_type=client_credential&appid=wx_nope&secret=${READ_KEY}`, 40013],
      [`/cgi-bin/token?grant_type=client_credential&appid=${OA}&secret=wrong`, 40125],
      [`/cgi-bin/ticket/getticket?type=jsapi`, 41001],
      [`/cgi-bin/ticket/getticket?type=jsapi&access_token=made_up`, 40001],
      [`/cgi-bin/ticket/getticket?type=nope&access_token=${world.sim.currentToken(OA)}`, 40097],
      [`/cgi-bin/stable_token`, 43002],
      [`/cgi-bin/gettoken?corpsecret=${READ_KEY}`, 41002],
      [`/cgi-bin/gettoken?corpid=ww_corp_0001`, 41004],
      [`/cgi-bin/gettoken?corpid=ww_nope&corpsecret=${READ_KEY}`, 40013],
      [`/cgi-bin/gettoken?corpid=ww_corp_0001&corpsecret=${OTHER_APP_KEY}`, 40001],
      [`/cgi-bin/get_jsapi_ticket?access_token=made_up`, 40014],
      [`/cgi-bin/message/custom/send?access_token=made_up`, 40001],
    ];
    for (const [path, errcode] of cases) {
      const r = await get(path);
      expect(r.status, path).toBe(200);
      const body = JSON.parse(r.text);
      expect(body.errcode, path).toBe(errcode);
      expect(typeof body.errmsg).toBe('string');
      expect(body.error).toBeUndefined();
      expect(r.text).not.toContain(READ_KEY);
    }
  });

  it('a ticket for a token in its overlap; stable_token; WeCom token and both tickets', async () => {
    const old = world.sim.currentToken(OA)!;
    await hub.refresher.forceRefresh('oa', old).catch(() => undefined); // WeChat still accepts it: not rotated
    world.sim.revokeTokens(OA);
    world.clock.advance(11_000);
    await hub.refresher.forceRefresh('oa', old); // rotated; the old one was issued by the hub and is within its life
    const viaOld = JSON.parse((await get(`/cgi-bin/ticket/getticket?access_token=${old}&type=jsapi`)).text);
    expect(viaOld).toMatchObject({ errcode: 0, errmsg: 'ok', ticket: world.sim.currentTicket(OA, 'jsapi') });

    const stable = await request(`${base}/cgi-bin/stable_token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'client_credential', appid: MP, secret: READ_KEY }) });
    expect(await stable.body.json()).toEqual({ access_token: world.sim.currentToken(MP, 'stable'), expires_in: expect.any(Number) });
    const wrong = await request(`${base}/cgi-bin/stable_token`, { method: 'POST', body: JSON.stringify({ grant_type: 'client_credential', appid: MP, secret: 'wrong' }) });
    expect(await wrong.body.json()).toMatchObject({ errcode: 40125 });

    const wecom = JSON.parse((await get(`/cgi-bin/gettoken?corpid=ww_corp_0001&corpsecret=${READ_KEY}`)).text);
    expect(wecom).toEqual({ errcode: 0, errmsg: 'ok', access_token: world.sim.currentToken(CRM), expires_in: expect.any(Number) });
    const corp = JSON.parse((await get(`/cgi-bin/get_jsapi_ticket?access_token=${wecom.access_token}`)).text);
    expect(corp).toEqual({ errcode: 0, errmsg: 'ok', ticket: world.sim.currentTicket(CRM, 'jsapi'), expires_in: expect.any(Number) });
    const agent = JSON.parse((await get(`/cgi-bin/ticket/get?&type=agent_config&access_token=${wecom.access_token}`)).text);
    expect(agent).toEqual({ errcode: 0, errmsg: 'ok', ticket: world.sim.currentTicket(CRM, 'agent_config'), expires_in: expect.any(Number) });
    expect(world.sim.calls(CRM, 'wecom_gettoken')).toBe(1);
  });

  it('force_refresh goes through the guarded forced refresh only for a key with the refresh scope', async () => {
    const force = async (key: string) => {
      const r = await request(`${base}/cgi-bin/stable_token`, { method: 'POST', body: JSON.stringify({ grant_type: 'client_credential', appid: OA, secret: key, force_refresh: true }) });
      return (await r.body.json()) as { access_token?: string; errcode?: number };
    };
    const before = world.sim.currentToken(OA);
    // A token WeChat accepts is never rotated: read scope answers a plain read, refresh scope is refused by the probe.
    expect((await force(READ_KEY)).access_token).toBe(before);
    expect((await force(REFRESH_KEY)).access_token).toBe(before);
    expect(world.sim.calls(OA)).toBe(1);
    world.sim.revokeTokens(OA);
    world.clock.advance(11_000);
    expect((await force(READ_KEY)).access_token).toBe(before); // read scope: never a fetch
    expect(world.sim.calls(OA)).toBe(1);
    const healed = await force(REFRESH_KEY);
    expect(healed.access_token).toBe(world.sim.currentToken(OA));
    expect(world.sim.calls(OA)).toBe(2);
  });

  it('hostile requests never give a 5xx and never echo a key', async () => {
    const keys = [READ_KEY, REFRESH_KEY, PROXY_KEY, OTHER_APP_KEY];
    const segment = fc.stringMatching(/^[A-Za-z0-9_.%~-]{0,12}$/);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/cgi-bin/token', '/cgi-bin/stable_token', '/cgi-bin/ticket/getticket', '/cgi-bin/gettoken', '/cgi-bin/get_jsapi_ticket', '/cgi-bin/ticket/get', '/cgi-bin/x', '/wxa/y', '/v1/apps/oa/wechat/cgi-bin/getcallbackip', '/v1/apps/oa/wechat/'),
        fc.array(segment, { maxLength: 3 }),
        fc.dictionary(fc.constantFrom('grant_type', 'appid', 'secret', 'corpid', 'corpsecret', 'access_token', 'type', 'x'), fc.oneof(fc.constantFrom(OA, 'ww_corp_0001', ...keys, 'client_credential', 'jsapi'), fc.string({ maxLength: 20 }))),
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
        fc.oneof(fc.constant(undefined), fc.string({ maxLength: 200 }), fc.json()),
        fc.constantFrom(undefined, `Bearer ${PROXY_KEY}`, 'Bearer nope_nope_nope_nope_nope'),
        async (path, extra, query, method, body, authorization) => {
          const full = `${path}${extra.length ? `/${extra.join('/')}` : ''}?${new URLSearchParams(query).toString()}`;
          const res = await request(`${base}${full}`, { method, body: method === 'GET' ? undefined : body, headers: authorization ? { authorization } : {} });
          const text = await res.body.text();
          expect(res.statusCode, full).toBeLessThan(500);
          for (const k of keys) expect(text).not.toContain(k);
        },
      ),
      { numRuns: 200 },
    );
  });
});
