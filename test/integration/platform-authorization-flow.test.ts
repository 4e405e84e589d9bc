import { describe, expect, it } from 'vitest';
import { REFRESH_TOKEN } from '../../lib/kinds/authorizer.js';
import { useWorld } from '../support/use-world.js';
import { httpEvent, json, READ_KEY } from '../support/world.js';
import { authorizerEvent, AUTHORIZERS_KEY, COMPONENT, PLATFORM_ADMIN_KEY, PLATFORM_NAME, signedPush, startPlatform } from '../support/platform-world.js';

/** An `authorized` push as WeChat makes it. */
function authorizedPush(authorizer: string, code: string, now: number) {
  const t = Math.floor(now / 1000);
  return signedPush(`<xml><AppId><![CDATA[${COMPONENT}]]></AppId><CreateTime>${t}</CreateTime><InfoType><![CDATA[authorized]]></InfoType><AuthorizerAppid><![CDATA[${authorizer}]]></AuthorizerAppid><AuthorizationCode><![CDATA[${code}]]></AuthorizationCode><AuthorizationCodeExpiredTime>${t + 600}</AuthorizationCodeExpiredTime><PreAuthCode><![CDATA[preauthcode@@@x]]></PreAuthCode></xml>`, { at: now, nonce: 'n1' });
}

/**
 * The authorization flow around the authorizer kind: the redirect page and the event share one
 * api_query_auth, the admin's authorization links, the list with each authorizer's state, and the
 * refresh token's recovery (61023: the list's current one) or, when there is none to recover,
 * "needs re-authorization".
 */
describe('authorizing a platform', () => {
  const world = useWorld();
  const AUTH = 'wx_auth_0001';
  const name = `${PLATFORM_NAME}/${AUTH}`;
  const tokenKey = { app: name, kind: 'access_token' };
  const page = (query: string) =>
    httpEvent({ method: 'GET', path: `/v1/platforms/${PLATFORM_NAME}/authorized`, routeKey: 'GET /v1/platforms/{name}/authorized', pathParameters: { name: PLATFORM_NAME }, query });
  const list = (key: string, query = '') =>
    httpEvent({ method: 'GET', path: `/v1/platforms/${PLATFORM_NAME}/authorizers`, routeKey: 'GET /v1/platforms/{name}/authorizers', pathParameters: { name: PLATFORM_NAME }, key, query });

  it('the redirect page completes the authorization once; the event with the same code then finds it done (one api_query_auth), and the page never shows a token', async () => {
    const p = await startPlatform(world);
    try {
      world.sim.setEventUrl(COMPONENT, undefined); // the event comes later (below), after the redirect
      const auth = await world.sim.authorize(COMPONENT, AUTH, { redirectUri: 'https://shop.example/back' });
      const res = await p.hub.platform(page(`auth_code=${encodeURIComponent(auth.code)}&expires_in=600`));
      expect(res.statusCode).toBe(200);
      expect(res.headers?.['content-type']).toMatch(/^text\/html/);
      expect(res.body).toContain('Authorization complete');
      const item = (await world.store.read(tokenKey))!;
      expect(res.body).not.toContain(item.value);
      expect(res.body).not.toContain(item.state![REFRESH_TOKEN]);
      expect(world.sim.calls(COMPONENT, 'query_auth')).toBe(1);
      // Reloaded, or the event with the same code: nothing is asked again, nothing is written again.
      expect((await p.hub.platform(page(`auth_code=${encodeURIComponent(auth.code)}`))).statusCode).toBe(200);
      expect(world.sim.calls(COMPONENT, 'query_auth')).toBe(1);
      expect((await world.store.read(tokenKey))?.version).toBe(item.version);
    } finally {
      await p.close();
    }
  });

  it('a code WeChat does not know is a 400 page, no code a 400 page, an unknown platform a 404 page; nothing is registered', async () => {
    const p = await startPlatform(world);
    try {
      expect((await p.hub.platform(page('auth_code=queryauthcode@@@made-up'))).statusCode).toBe(400);
      expect((await p.hub.platform(page(''))).statusCode).toBe(400);
      expect((await p.hub.platform({ ...page('auth_code=x'), pathParameters: { name: 'oa' } })).statusCode).toBe(404);
      expect((await world.store.listPrincipals({ limit: 10, prefix: `${PLATFORM_NAME}/` })).principals).toEqual([]);
    } finally {
      await p.close();
    }
  });

  it('a failed authorization event (WeChat busy on api_query_auth) is answered 503 and gives its claims back: WeChat\'s retry of the same push registers the account', async () => {
    const p = await startPlatform(world);
    try {
      world.sim.setEventUrl(COMPONENT, undefined);
      const auth = await world.sim.authorize(COMPONENT, AUTH);
      const event = authorizedPush(AUTH, auth.code, world.clock.now());
      world.sim.failNext({ kind: 'errcode', errcode: -1 }, 10, COMPONENT, ['query_auth']);
      const first = await p.hub.platform(event);
      expect([first.statusCode, first.body]).toEqual([503, 'try again']);
      expect(await world.store.getPrincipal(name)).toBeUndefined();
      world.sim.clearFaults();
      // WeChat pushes the same event again (the same body and signature).
      const again = await p.hub.platform(event);
      expect([again.statusCode, again.body]).toEqual([200, 'success']);
      expect(await world.store.getPrincipal(name)).toMatchObject({ doc: { status: 'authorized' } });
      // A signed event whose code WeChat refuses (61009: unknown) is acknowledged: asking again would be refused again.
      const refused = await p.hub.platform(authorizedPush('wx_auth_0009', 'queryauthcode@@@unknown', world.clock.now() + 1000));
      expect([refused.statusCode, refused.body]).toEqual([200, 'success']);
      expect(await world.store.getPrincipal(`${PLATFORM_NAME}/wx_auth_0009`)).toBeUndefined();
    } finally {
      await p.close();
    }
  });

  it('authorization links: an admin of the platform gets a pre_auth_code in PC and mobile URLs for its redirect; others 403; a bad redirect 400', async () => {
    const p = await startPlatform(world);
    try {
      const links = (key: string, body: unknown) =>
        p.hub.platform(httpEvent({ method: 'POST', path: `/v1/platforms/${PLATFORM_NAME}/authorization-links`, routeKey: 'POST /v1/platforms/{name}/authorization-links', pathParameters: { name: PLATFORM_NAME }, key, body }));
      const res = await links(PLATFORM_ADMIN_KEY, { redirect_uri: 'https://shop.example/v1/platforms/shop-platform/authorized', auth_type: 1 });
      expect(res.statusCode).toBe(200);
      const body = json(res);
      const pc = new URL(body.pc_url);
      expect(`${pc.origin}${pc.pathname}`).toBe('https://mp.weixin.qq.com/cgi-bin/componentloginpage');
      expect(Object.fromEntries(pc.searchParams)).toMatchObject({ component_appid: COMPONENT, redirect_uri: 'https://shop.example/v1/platforms/shop-platform/authorized', auth_type: '1' });
      expect(pc.searchParams.get('pre_auth_code')).toMatch(/\S/);
      expect(body.mobile_url).toMatch(/^https:\/\/mp\.weixin\.qq\.com\/safe\/bindcomponent\?action=bindcomponent&no_scan=1&.*#wechat_redirect$/);
      expect(body.expires_in).toBeGreaterThan(0);
      expect(world.sim.calls(COMPONENT, 'preauthcode')).toBe(1);
      expect((await links(READ_KEY, { redirect_uri: 'https://shop.example/x' })).statusCode).toBe(403);
      const bad = await links(PLATFORM_ADMIN_KEY, { redirect_uri: 'javascript:alert(1)' });
      expect([bad.statusCode, json(bad).error.code]).toEqual([400, 'invalid_body']);
      expect((await links(PLATFORM_ADMIN_KEY, { redirect_uri: 'https://x.example', auth_type: 9 })).statusCode).toBe(400);
    } finally {
      await p.close();
    }
  });

  it('WeChat rotated the refresh token and the push was lost: the tick gets 61023, recovers the current one from api_get_authorizer_list and refreshes', async () => {
    const p = await startPlatform(world);
    try {
      await world.sim.authorize(COMPONENT, AUTH);
      world.sim.setEventUrl(COMPONENT, undefined);
      await world.sim.authorize(COMPONENT, AUTH); // re-authorized: a new refresh token; the hub never heard
      const current = world.sim.platformState(COMPONENT).refreshTokens[AUTH];
      world.clock.advance(5 * 60_000 + 1); // the old token's overlap ends; the tick's probe finds it dead
      const outcomes = await p.hub.tick();
      expect(outcomes).toContainEqual({ app: name, kind: 'access_token', outcome: expect.stringMatching(/refreshed|healed/) });
      const item = (await world.store.read(tokenKey))!;
      expect(item.state?.[REFRESH_TOKEN]).toBe(current);
      expect(world.sim.isValid(item.value!)).toBe(true);
      expect(world.sim.calls(COMPONENT, 'authorizer_list')).toBeGreaterThanOrEqual(1);
    } finally {
      await p.close();
    }
  });

  it('61023 with no other refresh token in the list: the authorizer is listed as needs_reauthorization, its token served while WeChat accepts it, then a 502; a new authorization makes it fresh', async () => {
    const p = await startPlatform(world);
    try {
      await world.sim.authorize(COMPONENT, AUTH);
      await world.sim.authorize(COMPONENT, 'wx_auth_0002');
      world.sim.failNext({ kind: 'errcode', errcode: 61023 }, 50, COMPONENT, ['authorizer_token']);
      const before = (await world.store.read(tokenKey))!;
      world.clock.advance(before.expiresAt! - world.clock.now() - 10 * 60_000);
      await p.hub.tick();
      const listed = json(await p.hub.platform(list(PLATFORM_ADMIN_KEY)));
      expect(listed.authorizers.map((a: { appid: string; state: string }) => [a.appid, a.state])).toEqual([[AUTH, 'needs_reauthorization'], ['wx_auth_0002', 'needs_reauthorization']]);
      expect(JSON.stringify(listed)).not.toContain(before.value);
      expect(JSON.stringify(listed)).not.toContain(before.state![REFRESH_TOKEN]);
      // Still valid: served.
      const served = await p.hub.getToken(authorizerEvent(AUTH, '/access-token', '/access-token', { key: AUTHORIZERS_KEY }));
      expect(json(served).access_token).toBe(before.value);
      world.sim.clearFaults();
      await world.sim.authorize(COMPONENT, AUTH);
      const after = json(await p.hub.platform(list(PLATFORM_ADMIN_KEY)));
      expect(after.authorizers.find((a: { appid: string }) => a.appid === AUTH).state).toBe('fresh');
      // The list pages: one at a time.
      const first = json(await p.hub.platform(list(PLATFORM_ADMIN_KEY, 'limit=1')));
      expect(first.authorizers).toHaveLength(1);
      const second = json(await p.hub.platform(list(PLATFORM_ADMIN_KEY, `limit=1&cursor=${encodeURIComponent(first.next)}`)));
      expect(second.authorizers.map((a: { appid: string }) => a.appid)).toEqual(['wx_auth_0002']);
      expect((await p.hub.platform(list(READ_KEY))).statusCode).toBe(403);
      expect((await p.hub.platform(list(PLATFORM_ADMIN_KEY, 'limit=0'))).statusCode).toBe(400);
    } finally {
      await p.close();
    }
  });

  it('an authorization the hub never heard of (its event lost) is found in WeChat\'s list by the roster check: registered, its token fetched with the list\'s refresh token; checked again only 6 hours later', async () => {
    const p = await startPlatform(world);
    try {
      world.sim.setEventUrl(COMPONENT, undefined);
      await world.sim.authorize(COMPONENT, AUTH); // the push is lost: the hub knows nothing
      expect(await world.store.getPrincipal(name)).toBeUndefined();
      await p.hub.tick(); // the roster check registers it and puts its token due
      expect(await world.store.getPrincipal(name)).toMatchObject({ doc: { status: 'authorized', appid: AUTH } });
      expect(await p.hub.tick()).toContainEqual({ app: name, kind: 'access_token', outcome: 'refreshed' });
      const item = (await world.store.read(tokenKey))!;
      expect(item.state?.[REFRESH_TOKEN]).toBe(world.sim.platformState(COMPONENT).refreshTokens[AUTH]);
      expect(world.sim.isValid(item.value!)).toBe(true);
      const lists = world.sim.calls(COMPONENT, 'authorizer_list');
      world.clock.advance(60 * 60_000);
      await p.hub.tick();
      expect(world.sim.calls(COMPONENT, 'authorizer_list')).toBe(lists);
      world.clock.advance(5 * 60 * 60_000 + 60_000);
      await p.hub.tick();
      expect(world.sim.calls(COMPONENT, 'authorizer_list')).toBe(lists + 1);
    } finally {
      await p.close();
    }
  });

  it('61023 while api_get_authorizer_list is busy: the authorizer is failing (to be tried again), not "needs re-authorization"; the next tick recovers it', async () => {
    const p = await startPlatform(world, { env: { PLATFORM_ROSTER_INTERVAL: '0' } });
    try {
      await world.sim.authorize(COMPONENT, AUTH);
      world.sim.setEventUrl(COMPONENT, undefined);
      await world.sim.authorize(COMPONENT, AUTH); // a new refresh token the hub never heard of
      world.sim.failNext({ kind: 'errcode', errcode: -1 }, 20, COMPONENT, ['authorizer_list']); // busy, past the client's retries
      world.clock.advance(5 * 60_000 + 1);
      expect(await p.hub.tick()).toContainEqual({ app: name, kind: 'access_token', outcome: expect.stringMatching(/failed|blocked/), code: expect.not.stringMatching(/61023/) });
      expect(json(await p.hub.platform(list(PLATFORM_ADMIN_KEY))).authorizers[0].state).toBe('failing');
      world.sim.clearFaults();
      world.clock.advance(5 * 60_000);
      await p.hub.tick();
      expect(json(await p.hub.platform(list(PLATFORM_ADMIN_KEY))).authorizers[0].state).toBe('fresh');
      expect((await world.store.read(tokenKey))?.state?.[REFRESH_TOKEN]).toBe(world.sim.platformState(COMPONENT).refreshTokens[AUTH]);
    } finally {
      await p.close();
    }
  });

  it('an account that withdrew while the hub did not hear it (its unauthorized event lost) is marked revoked by the roster check once WeChat no longer lists it, and the tick stops asking for it', async () => {
    const p = await startPlatform(world);
    try {
      await world.sim.authorize(COMPONENT, AUTH);
      await world.sim.authorize(COMPONENT, 'wx_auth_0002');
      await p.hub.tick(); // the roster check: both listed, nothing to change
      world.sim.setEventUrl(COMPONENT, undefined);
      await world.sim.unauthorize(COMPONENT, AUTH);
      world.clock.advance(6 * 3_600_000 + 60_000);
      await p.hub.tick();
      expect(await world.store.getPrincipal(name)).toMatchObject({ doc: { status: 'revoked' } });
      expect(await world.store.getPrincipal(`${PLATFORM_NAME}/wx_auth_0002`)).toMatchObject({ doc: { status: 'authorized' } });
      const calls = world.sim.calls(COMPONENT, 'authorizer_token');
      world.clock.advance(3 * 3_600_000);
      for (let i = 0; i < 3; i++) await p.hub.tick();
      const res = await p.hub.getToken(authorizerEvent(AUTH, '/access-token', '/access-token', { key: AUTHORIZERS_KEY }));
      expect(res.statusCode).toBe(410);
      // Only wx_auth_0002 was refreshed since.
      expect(world.sim.calls(COMPONENT, 'authorizer_token') - calls).toBeLessThanOrEqual(2);
    } finally {
      await p.close();
    }
  });
});
