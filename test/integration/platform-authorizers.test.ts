import { describe, expect, it } from 'vitest';
import { REFRESH_TOKEN } from '../../lib/kinds/authorizer.js';
import { useWorld } from '../support/use-world.js';
import { json, READ_KEY } from '../support/world.js';
import { authorizerEvent, AUTHORIZERS_KEY, COMPONENT, ONE_AUTHORIZER_KEY, PLATFORM_NAME, startPlatform } from '../support/platform-world.js';

/**
 * A platform's authorizers end to end, against the simulator's platform: an authorization pushed to
 * the event URL registers the account and stores its tokens; its token is served on the platform's
 * routes to keys scoped to the platform; the tick keeps it fresh with the stored refresh token; an
 * unauthorized event stops it and keeps the record.
 */
describe("a platform's authorizers", () => {
  const world = useWorld();
  const AUTH = 'wx_auth_0001';
  const tokenKey = { app: `${PLATFORM_NAME}/${AUTH}`, kind: 'access_token' };

  it('an authorized event registers the account with its token and refresh token (one write), and its token is served to a key for the platform\'s authorizers', async () => {
    const p = await startPlatform(world);
    try {
      const auth = await world.sim.authorize(COMPONENT, AUTH);
      expect([auth.push.status, auth.push.body]).toEqual([200, 'success']);
      const item = await world.store.read(tokenKey);
      expect(item).toMatchObject({ version: 1, state: { [REFRESH_TOKEN]: world.sim.platformState(COMPONENT).refreshTokens[AUTH] } });
      const row = await world.store.getPrincipal(`${PLATFORM_NAME}/${AUTH}`);
      expect(row).toMatchObject({ type: 'authorizer', source: `platform:${PLATFORM_NAME}`, doc: { appid: AUTH, status: 'authorized', componentAppid: COMPONENT } });
      const res = await p.hub.getToken(authorizerEvent(AUTH, '/access-token', '/access-token', { key: AUTHORIZERS_KEY }));
      expect(res.statusCode).toBe(200);
      expect(json(res).access_token).toBe(item!.value);
      expect(world.sim.isValid(item!.value!)).toBe(true);
      // Scoped keys: one authorizer's key reads it; an app key does not.
      expect((await p.hub.getToken(authorizerEvent(AUTH, '/access-token', '/access-token', { key: ONE_AUTHORIZER_KEY }))).statusCode).toBe(200);
      expect((await p.hub.getToken(authorizerEvent(AUTH, '/access-token', '/access-token', { key: READ_KEY }))).statusCode).toBe(403);
      expect((await p.hub.getToken(authorizerEvent('wx_unknown_9', '/access-token', '/access-token', { key: AUTHORIZERS_KEY }))).statusCode).toBe(404);
    } finally {
      await p.close();
    }
  });

  it('the tick refreshes an authorizer with its stored refresh token before it expires; an unauthorized event stops it (410) and keeps the record', async () => {
    const p = await startPlatform(world);
    try {
      await world.sim.authorize(COMPONENT, AUTH);
      const first = (await world.store.read(tokenKey))!;
      world.clock.advance(first.expiresAt! - world.clock.now() - 10 * 60_000);
      const outcomes = await p.hub.tick();
      expect(outcomes).toContainEqual({ app: `${PLATFORM_NAME}/${AUTH}`, kind: 'access_token', outcome: 'refreshed' });
      const second = (await world.store.read(tokenKey))!;
      expect(second.value).not.toBe(first.value);
      expect(world.sim.isValid(second.value!)).toBe(true);
      expect(world.sim.calls(COMPONENT, 'authorizer_token')).toBe(1);

      const gone = await world.sim.unauthorize(COMPONENT, AUTH);
      expect([gone.status, gone.body]).toEqual([200, 'success']);
      const res = await p.hub.getToken(authorizerEvent(AUTH, '/access-token', '/access-token', { key: AUTHORIZERS_KEY }));
      expect([res.statusCode, json(res).error.code]).toEqual([410, 'authorizer_revoked']);
      expect(await world.store.getPrincipal(`${PLATFORM_NAME}/${AUTH}`)).toMatchObject({ doc: { status: 'revoked' } });
      world.clock.advance(3 * 3_600_000);
      expect(await p.hub.tick()).toContainEqual({ app: `${PLATFORM_NAME}/${AUTH}`, kind: 'access_token', outcome: 'removed' });
      expect(world.sim.calls(COMPONENT, 'authorizer_token')).toBe(1);
    } finally {
      await p.close();
    }
  });

  it("an authorizer's JS-SDK ticket and signature come with its own token, and the proxy calls WeChat with it; a forced refresh reports its token stale", async () => {
    const p = await startPlatform(world);
    try {
      await world.sim.authorize(COMPONENT, AUTH);
      const token = (await world.store.read(tokenKey))!.value!;
      const ticket = await p.hub.tickets(authorizerEvent(AUTH, '/tickets/jsapi', '/tickets/{type}', { key: AUTHORIZERS_KEY, extra: { type: 'jsapi' } }));
      expect(ticket.statusCode).toBe(200);
      expect(world.sim.isTicketValid(json(ticket).ticket)).toBe(true);
      const signed = await p.hub.tickets(authorizerEvent(AUTH, '/jsapi-signature', '/jsapi-signature', { key: AUTHORIZERS_KEY, body: { url: 'https://shop.example/page' } }));
      expect(signed.statusCode).toBe(200);
      expect(json(signed)).toMatchObject({ appId: AUTH, signature: expect.stringMatching(/^[0-9a-f]{40}$/) });
      const proxied = await p.hub.proxy({ ...authorizerEvent(AUTH, '/wechat/cgi-bin/get_api_domain_ip', '/wechat/{path+}', { key: AUTHORIZERS_KEY, method: 'GET', extra: { path: 'cgi-bin/get_api_domain_ip' } }), routeKey: 'ANY /v1/platforms/{name}/authorizers/{appid}/wechat/{path+}' });
      expect(proxied.statusCode).toBe(200);
      expect(json(proxied).errcode ?? 0).toBe(0);
      // WeChat told a service the token is dead; it is not (the probe says so): not replaced.
      const forced = await p.hub.forceRefresh(authorizerEvent(AUTH, '/access-token/refresh', '/access-token/refresh', { key: AUTHORIZERS_KEY, body: { stale_token: token } }));
      expect(json(forced)).toMatchObject({ access_token: token, refreshed: false });
      world.sim.revokeTokens(AUTH);
      world.clock.advance(11_000); // past PROBE_TTL: WeChat's answer about that token is asked again
      const replaced = await p.hub.forceRefresh(authorizerEvent(AUTH, '/access-token/refresh', '/access-token/refresh', { key: AUTHORIZERS_KEY, body: { stale_token: token } }));
      expect(json(replaced)).toMatchObject({ refreshed: true });
      expect(world.sim.isValid(json(replaced).access_token)).toBe(true);
    } finally {
      await p.close();
    }
  });
});
