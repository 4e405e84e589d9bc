import { createServer } from 'node:http';
import { OpenPlatform } from 'node-easywechat';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { hashApiKey } from '../../lib/http/auth.js';
import { REFRESH_TOKEN } from '../../lib/kinds/authorizer.js';
import type { ManualClock } from '../support/manual-clock.js';
import { listen, type Listening } from '../support/listen.js';
import { AUTHORIZERS_KEY, COMPONENT, PLATFORM_AES, PLATFORM_NAME, PLATFORM_TOKEN, platformEnv, startPlatform, type PlatformWorld } from '../support/platform-world.js';
import { useWorld } from '../support/use-world.js';
import type { World } from '../support/world.js';

/**
 * An unmodified node-easywechat (3.6.2, node-socialite pinned to 1.4.1: docs/sdks.md) as a third
 * party platform's SDK in platform mode (docs/compat.md, "Platform mode"): its OpenPlatform, with
 * only `http.baseURL` pointed at the hub and a hub key as its `secret`, gets the hub's component
 * token and the hub's token of each authorizer, never the hub's refresh token, and keeps each no
 * longer than the hub serves it (its cache on the world's clock, as its FileCache keeps it).
 */
const AUTH = 'wx_auth_0001';
/** The SDK's "component AppSecret": read on the platform and on all its authorizers. */
const SDK_KEY = `test_sdk_${'s'.repeat(24)}`;
/** Read on the platform only: not enough for the component token, which opens every authorizer. */
const PLATFORM_ONLY_KEY = `test_ponly_${'p'.repeat(24)}`;
const SDK_KEYS = [
  { name: 'platform-sdk', sha256: hashApiKey(SDK_KEY), apps: [PLATFORM_NAME, `${PLATFORM_NAME}/*`], scopes: ['read'] },
  { name: 'platform-only', sha256: hashApiKey(PLATFORM_ONLY_KEY), apps: [PLATFORM_NAME], scopes: ['read'] },
];
const authorizerKey = { app: `${PLATFORM_NAME}/${AUTH}`, kind: 'access_token' };
const componentKey = { app: PLATFORM_NAME, kind: 'component_access_token' };

/**
 * node-easywechat's FileCache, in memory and on the world's clock: a lifetime in seconds, and a
 * lifetime not above 0 (or NaN) kept forever, as FileCache keeps it (`lifeTime > 0 ? … : 0`).
 */
function clockCache(clock: ManualClock) {
  const m = new Map<string, { data: unknown; until: number }>();
  const live = (k: string) => {
    const e = m.get(k);
    return e && (e.until === 0 || e.until >= clock.now()) ? e : undefined;
  };
  return {
    get: async (k: string) => live(k)?.data ?? null,
    has: async (k: string) => live(k) !== undefined,
    set: async (k: string, data: unknown = null, lifeTime = 0) => {
      m.set(k, { data, until: lifeTime > 0 ? clock.now() + lifeTime * 1000 : 0 });
      return true;
    },
    delete: async (k: string) => m.delete(k),
    /** The keys it would keep forever. */
    forever: () => [...m].filter(([, e]) => e.until === 0).map(([k]) => k),
  };
}

/** Between the SDK and the hub: every answer the SDK received, as it received it. */
async function recorder(target: string): Promise<Listening & { answers: string[] }> {
  const answers: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const up = await request(`${target}${req.url}`, {
        method: req.method as 'GET' | 'POST',
        headers: req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {},
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      const text = await up.body.text();
      answers.push(text);
      res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'application/json') }).end(text);
    });
  });
  return { ...(await listen(server)), answers };
}

function openPlatform(base: string, secret: string, clock: ManualClock, appId = COMPONENT) {
  const app = new OpenPlatform({ app_id: appId, secret, token: PLATFORM_TOKEN, aes_key: PLATFORM_AES, http: { baseURL: `${base}/` } } as any);
  const cache = clockCache(clock);
  app.setCache(cache as any); // before anything reads the cache
  // The SDK insists on a component_verify_ticket, and WeChat pushes it to the hub, never to the SDK:
  // one that never runs out (its own keeps a ticket 6000 s), which the hub ignores.
  app.setVerifyTicket({ getKey: () => 'unused', setKey() { return this; }, async setTicket() { return this; }, getTicket: async () => 'pushed-to-the-hub' } as any);
  return { app, cache };
}

async function platformMode(world: World): Promise<{ p: PlatformWorld; rec: Listening & { answers: string[] }; close(): Promise<void> }> {
  const p = await startPlatform(world, { env: { HUB_API_KEYS: platformEnv(SDK_KEYS).HUB_API_KEYS! } });
  await world.sim.authorize(COMPONENT, AUTH);
  const rec = await recorder(p.url);
  return { p, rec, close: async () => (await rec.close(), await p.close()) };
}

describe('node-easywechat OpenPlatform (platform mode) against the hub', () => {
  const world = useWorld();

  it('gets the hub\'s component token and authorizer token, its refresh token echoed and the hub\'s never sent; its authorizer\'s own calls and ticket go through the hub', async () => {
    const { p, rec, close } = await platformMode(world);
    try {
      const fetched = { component: world.sim.calls(COMPONENT, 'component_token'), authorizer: world.sim.calls(COMPONENT, 'authorizer_token') };
      const { app, cache } = openPlatform(rec.url, SDK_KEY, world.clock);

      const componentToken = await app.getComponentAccessToken().getToken();
      expect(componentToken).toBe((await world.store.read(componentKey))!.value);
      expect(componentToken).toBe(world.sim.platformState(COMPONENT).componentToken);

      const token = await app.getAuthorizerAccessToken(AUTH, 'any-refresh-token');
      const stored = (await world.store.read(authorizerKey))!;
      expect(token).toBe(stored.value);
      expect(world.sim.isValid(token)).toBe(true);
      const raw = await app.refreshAuthorizerToken(AUTH, 'any-refresh-token');
      expect(raw).toMatchObject({ authorizer_access_token: stored.value, authorizer_refresh_token: 'any-refresh-token' });
      expect(raw.expires_in).toBeGreaterThan(500); // what node-easywechat keeps is expires_in - 500

      // The authorizer's own calls (the SDK copies its base URL) pass through the hub with its token.
      // Its ticket needs a `secret` in the account's config, which it never sends (its cache key has only the appid).
      const oa = await app.getOfficialAccountWithRefreshToken(AUTH, 'any-refresh-token', { secret: 'unused' } as any);
      oa.setCache(cache as any); // its own, or a FileCache in the working directory
      expect((await oa.getClient().get('cgi-bin/getcallbackip')).toObject().ip_list?.length).toBeGreaterThan(0);
      expect(await oa.getTicket().getTicket()).toBe((await world.store.read({ app: `${PLATFORM_NAME}/${AUTH}`, kind: 'jsapi_ticket' }))!.value);

      const refreshToken = stored.state![REFRESH_TOKEN] as string;
      expect(refreshToken).toBe(world.sim.platformState(COMPONENT).refreshTokens[AUTH]);
      expect(rec.answers.length).toBeGreaterThanOrEqual(5);
      for (const answer of rec.answers) expect(answer).not.toContain(refreshToken);
      // The hub answered from what it keeps: WeChat was asked for no token.
      expect({ component: world.sim.calls(COMPONENT, 'component_token'), authorizer: world.sim.calls(COMPONENT, 'authorizer_token') }).toEqual(fetched);
      expect(cache.forever()).toEqual([]);
    } finally {
      await close();
    }
  });

  it('over the hub\'s own rotations the SDK never holds a token WeChat no longer accepts, and takes the new one once its cache expires', { timeout: 90_000 }, async () => {
    const { p, rec, close } = await platformMode(world);
    try {
      const { app, cache } = openPlatform(rec.url, SDK_KEY, world.clock);
      const seen = new Set<string>();
      const components = new Set<string>();
      const hubs = new Set<string>();
      for (let minute = 0; minute <= 210; minute += 5) {
        hubs.add((await world.store.read(authorizerKey))!.value!);
        const token = await app.getAuthorizerAccessToken(AUTH, 'any-refresh-token');
        expect(world.sim.isValid(token), `minute ${minute}`).toBe(true);
        expect(cache.forever(), `minute ${minute}`).toEqual([]);
        seen.add(token);
        components.add(await app.getComponentAccessToken().getToken());
        world.clock.advance(5 * 60_000);
        await p.hub.tick();
      }
      // The hub rotated both (every 100 minutes), and the SDK followed with the hub's values only.
      expect(hubs.size).toBeGreaterThanOrEqual(3);
      expect(seen.size).toBeGreaterThanOrEqual(3);
      expect(components.size).toBeGreaterThanOrEqual(3);
      expect([...seen].filter((t) => !hubs.has(t))).toEqual([]);
      expect(world.sim.calls(COMPONENT, 'authorizer_token')).toBe(hubs.size - 1); // the hub's rotations (the first came with the authorization), none for the SDK
      world.clock.advance(100 * 60_000);
      await p.hub.tick();
      // Past the cache life it was given, the SDK asks again and gets the hub's current one.
      expect((await world.store.read(authorizerKey))!.value).not.toBe([...hubs].pop());
      expect(await app.getAuthorizerAccessToken(AUTH, 'any-refresh-token')).toBe((await world.store.read(authorizerKey))!.value);
    } finally {
      await close();
    }
  });

  it('a wrong key, a key without the platform\'s authorizers, or an unknown component appid get WeChat\'s errcode, which the SDK throws', async () => {
    const { rec, close } = await platformMode(world);
    try {
      for (const [secret, appId, errcode] of [
        ['hub_not_a_key_0123456789abcdef', COMPONENT, 40125],
        [AUTHORIZERS_KEY, COMPONENT, 40125], // the authorizers, not the platform
        [PLATFORM_ONLY_KEY, COMPONENT, 40125],
        [SDK_KEY, 'wx_component_99', 40013],
      ] as const) {
        const { app } = openPlatform(rec.url, secret, world.clock, appId);
        const error = await app.getComponentAccessToken().getToken().then(() => undefined, (e: unknown) => e as Error);
        expect(error?.message, `${appId} ${secret}`).toContain(`"errcode":${errcode}`);
        expect(error?.message).not.toContain(secret);
        await expect(app.getAuthorizerAccessToken(AUTH, 'any-refresh-token')).rejects.toThrow(`"errcode":${errcode}`);
      }
      // A known platform's SDK asking for an account that never authorized it.
      const { app } = openPlatform(rec.url, SDK_KEY, world.clock);
      await expect(app.getAuthorizerAccessToken('wx_never_authorized', 'any-refresh-token')).rejects.toThrow('"errcode":61003');
    } finally {
      await close();
    }
  });
});
