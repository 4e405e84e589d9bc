import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { hashApiKey } from '../../lib/http/auth.js';
import { SDK_CACHE_MARGIN } from '../../lib/http/compat-component.js';
import { UNKNOWN_LOOKUPS_BURST } from '../../lib/http/compat-lookup.js';
import { REFRESH_TOKEN } from '../../lib/kinds/authorizer.js';
import type { Hub } from '../../lib/hub.js';
import { AUTHORIZERS_KEY, COMPONENT, PLATFORM_ADMIN_KEY, PLATFORM_NAME, PLATFORM_SECRET, platformEnv, startPlatform } from '../support/platform-world.js';
import { useWorld } from '../support/use-world.js';
import { httpEvent, json, READ_KEY, storePrototype } from '../support/world.js';

/**
 * The platform-mode endpoints (lib/http/compat-component.ts, docs/compat.md "Platform mode") on
 * bad input: every refusal is WeChat's `{"errcode","errmsg"}` with HTTP 200, never a 500, never a
 * token; and an authorizer's token on the pass-through. The SDK end to end is
 * test/sdk/easywechat-open-platform.test.ts.
 */
const AUTH = 'wx_auth_0001';
const SDK_KEY = `test_sdk_${'s'.repeat(24)}`;
const COMPONENT_TOKEN = 'POST /cgi-bin/component/api_component_token';
const AUTHORIZER_TOKEN = 'POST /cgi-bin/component/api_authorizer_token';
const env = { HUB_API_KEYS: platformEnv([{ name: 'platform-sdk', sha256: hashApiKey(SDK_KEY), apps: [PLATFORM_NAME, `${PLATFORM_NAME}/*`], scopes: ['read', 'refresh'] }]).HUB_API_KEYS! };

function post(route: string, body: unknown, query = '', method = 'POST') {
  const path = route.slice('POST '.length);
  const routeKey = method === 'POST' ? route : 'ANY /{path+}';
  return httpEvent({ method, path, routeKey, pathParameters: method === 'POST' ? {} : { path: path.slice(1) }, body, query });
}

function passOn(path: string, token: string) {
  return httpEvent({ method: 'GET', path, routeKey: 'ANY /{path+}', pathParameters: { path: path.slice(1) }, query: `access_token=${encodeURIComponent(token)}` });
}

/** WeChat's refusal shape: HTTP 200, JSON, a non-zero errcode, and no value in it. */
async function refusal(hub: Hub, event: ReturnType<typeof httpEvent>, secrets: string[] = []): Promise<number> {
  const res = await hub.compat(event);
  expect(res.statusCode).toBe(200);
  expect(res.headers?.['content-type']).toMatch(/^application\/json/);
  const body = json(res);
  expect(Object.keys(body).sort()).toEqual(['errcode', 'errmsg']);
  for (const s of secrets) expect(res.body).not.toContain(s);
  return body.errcode;
}

describe('the platform-mode endpoints', () => {
  const world = useWorld();

  async function platform() {
    const p = await startPlatform(world, { env });
    await world.sim.authorize(COMPONENT, AUTH);
    const componentToken = json(await p.hub.compat(post(COMPONENT_TOKEN, { component_appid: COMPONENT, component_appsecret: SDK_KEY, component_verify_ticket: 'x' }))).component_access_token as string;
    expect(componentToken).toBe(world.sim.platformState(COMPONENT).componentToken);
    return { ...p, componentToken };
  }

  it('answer the hub\'s values, with expires_in the seconds until the hub replaces them plus what EasyWeChat takes off; the refresh token echoed, never the hub\'s', async () => {
    const p = await platform();
    try {
      const now = world.clock.now();
      const component = (await world.store.read({ app: PLATFORM_NAME, kind: 'component_access_token' }))!;
      const res = json(await p.hub.compat(post(COMPONENT_TOKEN, { component_appid: COMPONENT, component_appsecret: SDK_KEY })));
      // REFRESH_MARGIN (1200 s) before its expiry is when the hub replaces it.
      expect(res).toEqual({ component_access_token: component.value, expires_in: Math.floor((component.expiresAt! - 1_200_000 - now) / 1000) + SDK_CACHE_MARGIN.component });

      const stored = (await world.store.read({ app: `${PLATFORM_NAME}/${AUTH}`, kind: 'access_token' }))!;
      const raw = await p.hub.compat(post(AUTHORIZER_TOKEN, { component_appid: COMPONENT, authorizer_appid: AUTH, authorizer_refresh_token: 'the-sdks-own' }, `component_access_token=${p.componentToken}`));
      expect(json(raw)).toEqual({
        authorizer_access_token: stored.value,
        expires_in: Math.floor((stored.expiresAt! - 1_200_000 - now) / 1000) + SDK_CACHE_MARGIN.authorizer,
        authorizer_refresh_token: 'the-sdks-own',
      });
      expect(raw.body).not.toContain(stored.state![REFRESH_TOKEN] as string);
      // No refresh token sent: none comes back either.
      expect(json(await p.hub.compat(post(AUTHORIZER_TOKEN, { component_appid: COMPONENT, authorizer_appid: AUTH }, `component_access_token=${p.componentToken}`))).authorizer_refresh_token).toBe('');
    } finally {
      await p.close();
    }
  });

  it('api_component_token refuses a malformed body, missing fields, an unknown platform and every key that may not read the platform and all its authorizers, WeChat\'s way', async () => {
    const p = await platform();
    try {
      const cases: [unknown, number][] = [
        ['{not json', 47001],
        ['[]', 47001],
        ['null', 47001],
        ['"a string"', 47001],
        [JSON.stringify({ component_appid: COMPONENT, component_appsecret: SDK_KEY, pad: 'x'.repeat(5000) }), 47001],
        [{}, 41002],
        [{ component_appid: 123, component_appsecret: SDK_KEY }, 41002],
        [{ component_appsecret: SDK_KEY }, 41002],
        [{ component_appid: COMPONENT }, 41004],
        [{ component_appid: COMPONENT, component_appsecret: ['array'] }, 41004],
        [{ component_appid: 'wx_component_99', component_appsecret: SDK_KEY }, 40013],
        [{ component_appid: 'oa', component_appsecret: SDK_KEY }, 40013], // an app's name is no component appid
        [{ component_appid: COMPONENT, component_appsecret: 'hub_not_a_key_0123456789abcdef' }, 40125],
        [{ component_appid: COMPONENT, component_appsecret: PLATFORM_SECRET }, 40125], // the AppSecret itself
        [{ component_appid: COMPONENT, component_appsecret: READ_KEY }, 40125], // another app's key
        [{ component_appid: COMPONENT, component_appsecret: AUTHORIZERS_KEY }, 40125], // the authorizers, not the platform
        [{ component_appid: COMPONENT, component_appsecret: PLATFORM_ADMIN_KEY }, 40125], // no read scope
        [{ component_appid: COMPONENT, component_appsecret: SDK_KEY.repeat(20) }, 40125],
      ];
      for (const [body, errcode] of cases) {
        expect(await refusal(p.hub, post(COMPONENT_TOKEN, body), [SDK_KEY, PLATFORM_SECRET, p.componentToken]), JSON.stringify(body).slice(0, 80)).toBe(errcode);
      }
      // Another method on its path: WeChat's "require POST method".
      expect(await refusal(p.hub, post(COMPONENT_TOKEN, undefined, `component_appid=${COMPONENT}&component_appsecret=${SDK_KEY}`, 'GET'), [SDK_KEY])).toBe(43002);
    } finally {
      await p.close();
    }
  });

  it('api_authorizer_token refuses a component token the hub did not issue to that platform, a malformed body, and an account that did not (or no longer) authorize it', async () => {
    const p = await platform();
    try {
      const q = `component_access_token=${p.componentToken}`;
      const authorizerToken = (await world.store.read({ app: `${PLATFORM_NAME}/${AUTH}`, kind: 'access_token' }))!.value!;
      const ok = { component_appid: COMPONENT, authorizer_appid: AUTH, authorizer_refresh_token: 'r' };
      const cases: [unknown, string, number][] = [
        [ok, '', 41001],
        [ok, 'component_access_token=', 41001],
        ['{not json', q, 47001],
        ['[1]', q, 47001],
        [{ authorizer_appid: AUTH }, q, 41002],
        [{ ...ok, component_appid: 'wx_component_99' }, q, 40013],
        [ok, 'component_access_token=not-a-token-the-hub-issued', 40001],
        [ok, 'component_access_token=has%20spaces', 40001],
        [ok, `component_access_token=${'x'.repeat(2000)}`, 40001],
        [ok, `component_access_token=${authorizerToken}`, 40001], // an authorizer's token is no component token
        [ok, `component_access_token=${SDK_KEY}`, 40001], // nor is a key
        [{ component_appid: COMPONENT, authorizer_refresh_token: 'r' }, q, 41002],
        [{ ...ok, authorizer_appid: 42 }, q, 41002],
        [{ ...ok, authorizer_appid: 'wx_never_authorized' }, q, 61003],
        [{ ...ok, authorizer_appid: `${AUTH}/../x` }, q, 61003],
        [{ ...ok, authorizer_appid: 'oa' }, q, 61003], // a configured app's name
      ];
      const hubRefresh = (await world.store.read({ app: `${PLATFORM_NAME}/${AUTH}`, kind: 'access_token' }))!.state![REFRESH_TOKEN] as string;
      for (const [body, query, errcode] of cases) {
        expect(await refusal(p.hub, post(AUTHORIZER_TOKEN, body, query), [authorizerToken, hubRefresh]), `${JSON.stringify(body)} ${query.slice(0, 60)}`).toBe(errcode);
      }
      // Revoked: 61003 too, in this container and in a new one.
      await world.sim.unauthorize(COMPONENT, AUTH);
      expect(await refusal(p.hub, post(AUTHORIZER_TOKEN, ok, q), [authorizerToken])).toBe(61003);
      const fresh = world.container({ ...platformEnv(), ...env });
      expect(await refusal(fresh, post(AUTHORIZER_TOKEN, ok, q), [authorizerToken])).toBe(61003);
    } finally {
      await p.close();
    }
  });

  it('component tokens the hub did not issue cost at most the lookup bucket\'s store reads (then none), and the one it handed out still passes', async () => {
    const p = await platform();
    const reads = vi.spyOn(storePrototype(world.storeKind), 'read');
    try {
      const ask = (token: string) => p.hub.compat(post(AUTHORIZER_TOKEN, { component_appid: COMPONENT, authorizer_appid: AUTH }, `component_access_token=${token}`));
      for (let i = 0; i < 3 * UNKNOWN_LOOKUPS_BURST; i++) expect(json(await ask(`junk_component_token_${i}`)).errcode).toBe(40001);
      expect(reads.mock.calls.length).toBeGreaterThan(0);
      expect(reads.mock.calls.length).toBeLessThanOrEqual(UNKNOWN_LOOKUPS_BURST);
      const before = reads.mock.calls.length;
      for (let i = 0; i < UNKNOWN_LOOKUPS_BURST; i++) expect(json(await ask(`junk_component_token_${i}`)).errcode).toBe(40001); // remembered
      expect(reads.mock.calls.length).toBe(before);
      expect(json(await ask(p.componentToken)).authorizer_access_token).toBe((await world.store.read({ app: `${PLATFORM_NAME}/${AUTH}`, kind: 'access_token' }))!.value);
    } finally {
      reads.mockRestore();
      await p.close();
    }
  });

  it('any body and query: WeChat\'s shape, HTTP 200, never a 500 and never a value', async () => {
    const p = await platform();
    try {
      const authorizerToken = (await world.store.read({ app: `${PLATFORM_NAME}/${AUTH}`, kind: 'access_token' }))!.value!;
      const field = fc.oneof(fc.constantFrom(COMPONENT, AUTH, 'wx_component_99', AUTHORIZERS_KEY, ''), fc.string(), fc.integer(), fc.constant(null));
      const body = fc.oneof(
        fc.string(),
        fc.record({ component_appid: field, component_appsecret: field, authorizer_appid: field, authorizer_refresh_token: field }, { requiredKeys: [] }).map((b) => JSON.stringify(b)),
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(COMPONENT_TOKEN, AUTHORIZER_TOKEN), body, fc.string(), async (route, b, query) => {
          const res = await p.hub.compat(post(route, b, query));
          expect(res.statusCode).toBe(200);
          const answer = json(res);
          expect(typeof answer.errcode).toBe('number');
          expect(res.body).not.toContain(p.componentToken);
          expect(res.body).not.toContain(authorizerToken);
        }),
        { numRuns: 60 },
      );
    } finally {
      await p.close();
    }
  });

  it('an authorizer\'s token is passed on (also one no compat path served: the token index has every value written), and a revoked one\'s is not', async () => {
    const p = await platform();
    try {
      // The token its authorization stored, never handed out here: a container finds it in the index.
      const stored = (await world.store.read({ app: `${PLATFORM_NAME}/${AUTH}`, kind: 'access_token' }))!.value!;
      const other = world.container({ ...platformEnv(), ...env });
      expect(json(await other.compat(passOn('/cgi-bin/get_api_domain_ip', stored))).ip_list?.length).toBeGreaterThan(0);
      const token = json(await p.hub.compat(post(AUTHORIZER_TOKEN, { component_appid: COMPONENT, authorizer_appid: AUTH, authorizer_refresh_token: 'r' }, `component_access_token=${p.componentToken}`))).authorizer_access_token as string;
      expect(token).toBe(stored);
      expect(json(await p.hub.compat(passOn('/cgi-bin/getcallbackip', token))).ip_list?.length).toBeGreaterThan(0);
      // Credential APIs never, with an authorizer's token either.
      expect(await refusal(other, passOn('/cgi-bin/component/api_query_auth', token), [token])).toBe(48001);
      await world.sim.unauthorize(COMPONENT, AUTH);
      const later = world.container({ ...platformEnv(), ...env });
      expect(await refusal(later, passOn('/cgi-bin/getcallbackip', token), [token])).toBe(40001);
    } finally {
      await p.close();
    }
  });

  it('a platform without `compat` serves no SDK: its component paths answer 40013 and its authorizers\' tokens are not passed on', async () => {
    const p = await platform();
    try {
      const stored = (await world.store.read({ app: `${PLATFORM_NAME}/${AUTH}`, kind: 'access_token' }))!.value!;
      const apps = JSON.parse(platformEnv().HUB_APPS!) as Record<string, unknown>[];
      const off = world.container({ ...platformEnv(), ...env, HUB_APPS: JSON.stringify(apps.map((a) => (a.type === 'platform' ? { ...a, compat: false } : a))) });
      expect(await refusal(off, post(COMPONENT_TOKEN, { component_appid: COMPONENT, component_appsecret: SDK_KEY, component_verify_ticket: 't' }), [stored])).toBe(40013);
      expect(await refusal(off, passOn('/cgi-bin/getcallbackip', stored), [stored])).toBe(40001);
    } finally {
      await p.close();
    }
  });
});
