import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { hashApiKey } from '../../lib/http/auth.js';
import { useWorld } from '../support/use-world.js';
import { ADMIN_KEY, APPS, COMPAT_APPS, httpEvent, json, PROXY_KEY, READ_KEY, REFRESH_KEY, storePrototype, TEST_STORES, type World } from '../support/world.js';

/**
 * Principals as rows of the table (lib/principals/sync.ts): the configured apps are written as rows
 * (secrets as references), a container with the same configuration pays one meta read, a removed
 * app loses its row (not its credentials); GET /v1/principals lists them, GET /v1/status pages.
 */
const NAMES = APPS.map((a) => a.name).sort(); // crm, mp, oa, other

/** `n` more Official Accounts (x0, x1, …), configured with the world's four. */
function withExtraApps(world: World, n: number): Record<string, string> {
  const extra = Array.from({ length: n }, (_, i) => {
    const secret = randomBytes(16).toString('hex');
    world.sim.addApp({ appid: `wx_x${i}`, secret });
    world.setSecret(`SECRET_X${i}`, secret);
    return { name: `x${i}`, appid: `wx_x${i}`, type: 'official_account', secret: { env: `SECRET_X${i}` } };
  });
  return { HUB_APPS: JSON.stringify([...APPS, ...extra]), ...Object.fromEntries(extra.map((a) => [a.secret.env, 'set'])) };
}

/** Every call any container makes on the world's store (spied on its class), by method name. */
function spyStore(kind: World['storeKind']): { calls: () => string[] } {
  const proto = storePrototype(kind) as unknown as Record<string, unknown>;
  const names = Object.getOwnPropertyNames(proto).filter((n) => n !== 'constructor' && typeof proto[n] === 'function');
  const spies = names.map((n) => [n, vi.spyOn(proto as any, n)] as const);
  return { calls: () => spies.flatMap(([n, s]) => s.mock.calls.map(() => n)) };
}

const principalsEvent = (key: string | undefined, query = '') =>
  httpEvent({ method: 'GET', key, path: '/v1/principals', routeKey: 'GET /v1/principals', pathParameters: {}, query });
const statusEvent = (key: string | undefined, query = '') => httpEvent({ method: 'GET', key, path: '/v1/status', routeKey: 'GET /v1/status', pathParameters: {}, query });

afterEach(() => {
  vi.restoreAllMocks();
});

describe.each(TEST_STORES)('on the %s store', (storeKind) => {
  const world = useWorld(() => ({ store: storeKind }));

  it('the configured apps become principal rows, their secrets as references and never as values', async () => {
    await world.container().syncApps();
    const { principals, cursor } = await world.store.listPrincipals({ limit: 100 });
    expect(cursor).toBeUndefined();
    expect(principals.map((p) => p.name)).toEqual(NAMES);
    const oa = await world.store.getPrincipal('oa');
    expect(oa).toMatchObject({ name: 'oa', type: 'official_account', source: 'config', updatedAt: world.clock.now() });
    expect(oa!.doc).toMatchObject({ name: 'oa', appid: 'wx_oa_0001', tokenApi: 'classic', secret: { env: 'SECRET_OA' } });
    expect(typeof oa!.digest).toBe('string');
    expect(await world.store.getPrincipal('crm')).toMatchObject({ type: 'wecom', doc: { corpid: 'ww_corp_0001', agentid: 1000002, secret: { env: 'SECRET_CRM' } } });
    expect((await world.store.getPrincipal('mp'))!.doc).toMatchObject({ type: 'mini_program', tokenApi: 'stable', secret: { env: 'SECRET_MP' } });
    const everything = JSON.stringify(principals);
    for (const secret of Object.values(world.secrets)) expect(everything).not.toContain(secret);
    // The tokens the tick keeps fresh from the start are in the due index, due now.
    for (const name of NAMES) expect((await world.store.read({ app: name, kind: 'access_token' }))?.dueAt).toBe(world.clock.now());
  });

  it('an SSM secret is kept as its parameter name', async () => {
    const apps = [...APPS.slice(0, 3), { ...APPS[3], secret: { ssm: '/hub/crm/secret' } }];
    await world.container({ HUB_APPS: JSON.stringify(apps) }, { ssm: { get: async () => world.secrets.SECRET_CRM } as never }).syncApps();
    expect((await world.store.getPrincipal('crm'))!.doc.secret).toEqual({ ssm: '/hub/crm/secret' });
  });

  it('a second container with the same configuration makes one meta read and no writes when it syncs', async () => {
    await world.container().syncApps();
    const before = await world.store.listPrincipals({ limit: 100 });
    const store = spyStore(storeKind);
    const second = world.container();
    await second.syncApps();
    expect(store.calls()).toEqual(['getMeta']);
    // And once per container: a second sync (the next request) reads nothing.
    await second.syncApps();
    expect(store.calls()).toEqual(['getMeta']);
    vi.restoreAllMocks();
    expect(await world.store.listPrincipals({ limit: 100 })).toEqual(before);
  });

  it('a changed configuration is written again: a new app gets its row and is due, the others keep their place in the index', async () => {
    const first = world.container();
    await first.tick();
    const oaDue = (await world.store.read({ app: 'oa', kind: 'access_token' }))!.dueAt!;
    expect(oaDue).toBeGreaterThan(world.clock.now());
    world.clock.advance(1_000);
    await world.container(withExtraApps(world, 1)).syncApps();
    expect((await world.store.getPrincipal('x0'))?.doc.secret).toEqual({ env: 'SECRET_X0' });
    expect((await world.store.read({ app: 'x0', kind: 'access_token' }))?.dueAt).toBe(world.clock.now());
    // Registering never delays (or advances) a credential already scheduled.
    expect((await world.store.read({ app: 'oa', kind: 'access_token' }))!.dueAt).toBe(oaDue);
  });

  it('an app removed from the configuration loses its row; its credentials stay in the store', async () => {
    await world.container().tick();
    const token = await world.store.read({ app: 'other', kind: 'access_token' });
    expect(token?.value).toBeDefined();
    const without = {
      HUB_APPS: JSON.stringify(APPS.filter((a) => a.name !== 'other')),
      HUB_API_KEYS: JSON.stringify([{ name: 'operator', sha256: hashApiKey(ADMIN_KEY), apps: ['*'], scopes: ['admin'] }]),
    };
    await world.container(without).syncApps();
    expect(await world.store.getPrincipal('other')).toBeUndefined();
    expect((await world.store.listPrincipals({ limit: 100 })).principals.map((p) => p.name)).toEqual(['crm', 'mp', 'oa']);
    const kept = await world.store.read({ app: 'other', kind: 'access_token' });
    expect(kept?.value).toBe(token!.value);
    expect(kept?.version).toBe(token!.version);
  });

  it('upgrading from a hub without the due index: a compat app\'s stored token goes into the token-hash index, so SDKs holding it are recognised', async () => {
    const now = world.clock.now();
    const key = { app: 'oa', kind: 'access_token' };
    expect(await world.store.acquireLease(key, { owner: 'old', seenVersion: 0, now, leaseMs: 15_000 })).toBe(true);
    await world.store.writeToken(key, { owner: 'old', seenVersion: 0, value: 'token-from-before', expiresAt: now + 7_200_000, obtainedAt: now });
    const hash = createHash('sha256').update('token-from-before').digest('base64url');
    expect(await world.store.lookupToken(hash)).toBeUndefined();
    await world.container({ HUB_APPS: JSON.stringify(COMPAT_APPS) }).syncApps();
    expect(await world.store.lookupToken(hash)).toEqual({ app: 'oa', kind: 'access_token', until: now + 7_200_000 });
  });

  it('upgrading from a hub without the due index: a ticket already asked for is scheduled by the first sync, one nobody asked for gets no item', async () => {
    // As an older hub left it: the token and a jsapi_ticket stored, neither in the due index.
    const now = world.clock.now();
    for (const kind of ['access_token', 'jsapi_ticket']) {
      const key = { app: 'oa', kind };
      expect(await world.store.acquireLease(key, { owner: `old-${kind}`, seenVersion: 0, now, leaseMs: 15_000 })).toBe(true);
      expect(await world.store.writeToken(key, { owner: `old-${kind}`, seenVersion: 0, value: `${kind}-value`, expiresAt: now + 7_200_000, obtainedAt: now })).toBeDefined();
      expect((await world.store.read(key))?.dueAt).toBeUndefined();
    }
    await world.container().syncApps();
    expect((await world.store.read({ app: 'oa', kind: 'access_token' }))?.dueAt).toBe(now);
    expect((await world.store.read({ app: 'oa', kind: 'jsapi_ticket' }))?.dueAt).toBe(now);
    expect(await world.store.read({ app: 'oa', kind: 'wx_card_ticket' })).toBeUndefined();
    // The next tick looks at both (their renewal is far off: not fetched), and puts them back for later
    // (self-healing off: the made-up token here would not pass WeChat's probe).
    const outcomes = await world.container({ SELF_HEAL: 'off' }).tick();
    expect(outcomes.filter((o) => o.app === 'oa').map((o) => `${o.kind}:${o.outcome}`).sort()).toEqual(['access_token:fresh', 'jsapi_ticket:fresh']);
    expect((await world.store.read({ app: 'oa', kind: 'jsapi_ticket' }))?.dueAt).toBeGreaterThan(now);
  });
});

describe('GET /v1/principals', () => {
  const world = useWorld();

  it('needs the admin scope: 401 without a key, 403 for a read, refresh or proxy key', async () => {
    const hub = world.container();
    expect((await hub.status(principalsEvent(undefined))).statusCode).toBe(401);
    for (const key of [READ_KEY, REFRESH_KEY, PROXY_KEY]) expect((await hub.status(principalsEvent(key))).statusCode).toBe(403);
    const res = await hub.status(principalsEvent(ADMIN_KEY));
    expect(res.statusCode).toBe(200);
    const body = json(res);
    expect(body.principals.map((p: { name: string }) => p.name)).toEqual(NAMES);
    expect(body.next).toBeUndefined();
    expect(body.principals.find((p: { name: string }) => p.name === 'oa')).toMatchObject({
      name: 'oa', type: 'official_account', source: 'config', updatedAt: new Date(world.clock.now()).toISOString(), doc: { appid: 'wx_oa_0001', secret: { env: 'SECRET_OA' } },
    });
    for (const secret of Object.values(world.secrets)) expect(res.body).not.toContain(secret);
  });

  it('pages with limit and next/cursor over every app, each once, in name order', async () => {
    const hub = world.container(withExtraApps(world, 3)); // 7 apps
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await hub.status(principalsEvent(ADMIN_KEY, `limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`));
      expect(res.statusCode).toBe(200);
      const body = json(res);
      expect(body.principals.length).toBeLessThanOrEqual(2);
      seen.push(...body.principals.map((p: { name: string }) => p.name));
      cursor = body.next;
      pages++;
      expect(pages).toBeLessThan(10);
    } while (cursor);
    expect(seen).toEqual([...NAMES, 'x0', 'x1', 'x2'].sort());
    expect(pages).toBe(4);
  });

  it('answers 400 to a bad limit, a bad cursor or a query parameter it does not take', async () => {
    const hub = world.container();
    for (const query of ['limit=0', 'limit=101', 'limit=abc', 'limit=1.5', 'limit=', 'page=2', 'limit=2&foo=bar', 'cursor=%00%01']) {
      const res = await hub.status(principalsEvent(ADMIN_KEY, query));
      expect(res.statusCode, query).toBe(400);
      expect(json(res).error?.code, query).toMatch(/invalid_limit|unexpected_query|invalid_cursor/);
    }
    expect((await hub.status(principalsEvent(ADMIN_KEY, 'limit=100'))).statusCode).toBe(200);
  });

  it('shows only the apps the admin key may see', async () => {
    const env = {
      ...withExtraApps(world, 3),
      HUB_API_KEYS: JSON.stringify([{ name: 'oa-ops', sha256: hashApiKey(ADMIN_KEY), apps: ['oa', 'x1'], scopes: ['admin'] }]),
    };
    const hub = world.container(env);
    const all = json(await hub.status(principalsEvent(ADMIN_KEY)));
    expect(all.principals.map((p: { name: string }) => p.name)).toEqual(['oa', 'x1']);
    // Paged, the other apps are never shown either.
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const body = json(await hub.status(principalsEvent(ADMIN_KEY, `limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)));
      seen.push(...body.principals.map((p: { name: string }) => p.name));
      cursor = body.next;
    } while (cursor);
    expect(seen).toEqual(['oa', 'x1']);
  });
});

describe('GET /v1/status paging', () => {
  const world = useWorld();

  it('shows all four of the world\'s apps by default, without next', async () => {
    const body = json(await world.container().status(statusEvent(ADMIN_KEY)));
    expect(body.apps.map((a: { app: string }) => a.app)).toEqual(APPS.map((a) => a.name)); // the configuration's order
    expect(body.next).toBeUndefined();
  });

  it('pages with limit and next/cursor, each app once', async () => {
    const hub = world.container(withExtraApps(world, 2)); // 6 apps
    const first = json(await hub.status(statusEvent(ADMIN_KEY, 'limit=4')));
    expect(first.apps).toHaveLength(4);
    expect(first.next).toEqual(expect.any(String));
    const second = json(await hub.status(statusEvent(ADMIN_KEY, `limit=4&cursor=${encodeURIComponent(first.next)}`)));
    expect(second.next).toBeUndefined();
    expect([...first.apps, ...second.apps].map((a: { app: string }) => a.app)).toEqual([...APPS.map((a) => a.name), 'x0', 'x1']);
    // An exact fit has no next page.
    expect(json(await hub.status(statusEvent(ADMIN_KEY, 'limit=6'))).next).toBeUndefined();
  });

  it('answers 400 to a bad limit or an unknown query parameter', async () => {
    const hub = world.container();
    for (const query of ['limit=0', 'limit=101', 'limit=x', 'app=oa', 'cursor=no-such-app']) expect((await hub.status(statusEvent(ADMIN_KEY, query))).statusCode, query).toBe(400);
  });
});
