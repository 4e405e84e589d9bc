import fc from 'fast-check';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { REFRESH_TOKEN } from '../../lib/kinds/authorizer.js';
import { useWorld } from '../support/use-world.js';
import { ADMIN_KEY, READ_KEY } from '../support/world.js';
import { AUTHORIZERS_KEY, COMPONENT, ONE_AUTHORIZER_KEY, PLATFORM_ADMIN_KEY, PLATFORM_NAME, PLATFORM_SECRET, startPlatform } from '../support/platform-world.js';

/**
 * Arbitrary requests on a platform's routes over a real socket (the event URL, the authorization
 * page and links, the authorizers list, an authorizer's routes, WeChat's component paths): never a
 * 5xx, a stack trace, a secret or a refresh token; a token only in a 200; and nothing in the table
 * changes (no authorizer registered, revoked or rewritten).
 */
describe("a platform's routes under arbitrary requests", () => {
  const world = useWorld();
  const AUTH = 'wx_auth_0001';

  it('never answer a 5xx, a stack trace, a secret or a refresh token, and change nothing', async () => {
    const p = await startPlatform(world);
    try {
      await world.sim.authorize(COMPONENT, AUTH);
      const key = { app: `${PLATFORM_NAME}/${AUTH}`, kind: 'access_token' };
      const before = (await world.store.read(key))!;
      const rows = await world.store.listPrincipals({ limit: 100 });
      const refreshToken = before.state![REFRESH_TOKEN]!;
      const secrets = [...Object.values(world.secrets), PLATFORM_SECRET, refreshToken];
      const segment = fc.oneof(
        fc.constantFrom('v1', 'platforms', PLATFORM_NAME, 'oa', 'authorizers', AUTH, 'wx_none', 'access-token', 'refresh', 'tickets', 'jsapi', 'wx_card', 'jsapi-signature', 'wechat', 'cgi-bin', 'component', 'api_component_token', 'api_authorizer_token', 'authorized', 'authorization-links', 'events', '..', '%00', '%2F'),
        fc.string({ maxLength: 12 }).map(encodeURIComponent),
      );
      const query = fc.oneof(
        fc.constant(''),
        fc.string({ maxLength: 40 }).map((s) => `?${s}`),
        fc.constantFrom('?auth_code=queryauthcode@@@x', '?limit=0', '?limit=101', '?cursor=zz', `?component_access_token=${before.value}`, '?auth_code=%00'),
      );
      const body = fc.option(fc.oneof(fc.string({ maxLength: 200 }), fc.json().map(String), fc.constantFrom(
        '{"redirect_uri":"https://x.example/back"}', '{"redirect_uri":"javascript:1"}', '{"stale_token":"abc"}', '{"url":"https://x.example/"}',
        `{"component_appid":"${COMPONENT}","component_appsecret":"${AUTHORIZERS_KEY}","component_verify_ticket":"t"}`,
        `{"component_appid":"${COMPONENT}","authorizer_appid":"${AUTH}","authorizer_refresh_token":"x"}`,
        '<xml><Encrypt>AAAA</Encrypt></xml>',
      )), { nil: undefined });
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
          fc.oneof(
            fc.array(segment, { minLength: 1, maxLength: 7 }),
            // The routes themselves, with their variables from what is and what is not there.
            fc.tuple(
              fc.constantFrom('events', 'authorized', 'authorization-links', 'authorizers', 'authorizers/{a}/access-token', 'authorizers/{a}/access-token/refresh', 'authorizers/{a}/tickets/jsapi', 'authorizers/{a}/tickets/wx_card/refresh', 'authorizers/{a}/jsapi-signature', 'authorizers/{a}/wechat/cgi-bin/get_api_domain_ip', 'authorizers/{a}/wechat/sns/x'),
              fc.constantFrom(PLATFORM_NAME, 'oa', 'nope', '%2e%2e'),
              fc.oneof(fc.constantFrom(AUTH, 'wx_none', '..', 'a%2Fb'), fc.string({ maxLength: 8 }).map(encodeURIComponent)),
            ).map(([route, platform, a]) => ['v1', 'platforms', platform, ...route.replace('{a}', a || 'x').split('/')]),
            fc.constantFrom(['cgi-bin', 'component', 'api_component_token'], ['cgi-bin', 'component', 'api_authorizer_token']),
          ),
          query,
          fc.option(fc.constantFrom(AUTHORIZERS_KEY, ONE_AUTHORIZER_KEY, PLATFORM_ADMIN_KEY, ADMIN_KEY, READ_KEY, 'x'), { nil: undefined }),
          body,
          fc.constantFrom('application/json', 'text/xml', ''),
          async (method, segs, q, k, b, type) => {
            const headers: Record<string, string> = {};
            if (k) headers.authorization = `Bearer ${k}`;
            if (type) headers['content-type'] = type;
            const res = await request(`${p.url}/${segs.join('/')}${q}`, { method: method as 'GET', headers, body: method === 'GET' ? undefined : b });
            const text = await res.body.text();
            expect(res.statusCode, `${method} /${segs.join('/')}${q}`).toBeLessThan(500);
            expect(text).not.toMatch(/\bat .*\.(ts|js):\d+/);
            for (const s of secrets) expect(text).not.toContain(s);
            if (res.statusCode !== 200) expect(text).not.toContain(before.value);
          },
        ),
        { numRuns: 200 },
      );
      expect(await world.store.listPrincipals({ limit: 100 })).toEqual(rows);
      const after = (await world.store.read(key))!;
      expect([after.value, after.state]).toEqual([before.value, before.state]);
    } finally {
      await p.close();
    }
  }, 60_000);
});
