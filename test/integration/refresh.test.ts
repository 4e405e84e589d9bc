import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MINUTE } from '../support/manual-clock.js';
import { closeSharedDynalite, httpEvent, json, READ_KEY, REFRESH_KEY, startWorld, TEST_STORES, type World } from '../support/world.js';

const OA = 'wx_oa_0001';
const key = { app: 'oa', kind: 'access_token' } as const;

afterAll(closeSharedDynalite);

describe.each(TEST_STORES)('on the %s store', (storeKind) => {
  let world: World;
  beforeEach(async () => {
    world = await startWorld({ store: storeKind });
  });
  afterEach(async () => {
    await world.close();
  });

  describe('reads', () => {
    it('fetches lazily on the first read, then serves the stored token without calling WeChat', async () => {
      const hub = world.container();
      const first = await hub.getToken(httpEvent({ key: READ_KEY }));
      expect(first.statusCode).toBe(200);
      expect(first.headers?.['cache-control']).toBe('no-store');
      const body = json(first);
      expect(body.access_token).toBe(world.sim.currentToken(OA));
      // expires_in: until the hub replaces it (REFRESH_MARGIN, 20 min, before WeChat's expiry, which expires_at gives).
      expect(body.expires_in).toBe(7200 - 1200);
      expect(new Date(body.expires_at).getTime()).toBe(world.clock.now() + 7200_000);
      expect(world.sim.calls(OA)).toBe(1);

      world.clock.advance(10 * MINUTE);
      const again = json(await world.container().getToken(httpEvent({ key: READ_KEY })));
      expect(again.access_token).toBe(body.access_token);
      expect(again.expires_in).toBe(7200 - 1200 - 600);
      expect(world.sim.calls(OA)).toBe(1);
    });

    it('refreshes synchronously when less than MIN_SERVE is left', async () => {
      const hub = world.container();
      const first = json(await hub.getToken(httpEvent({ key: READ_KEY })));
      world.clock.advance(7200_000 - 30_000);
      const second = json(await hub.getToken(httpEvent({ key: READ_KEY })));
      expect(second.access_token).not.toBe(first.access_token);
      expect(world.sim.calls(OA)).toBe(2);
    });

    it('a stable-token app gets its token from stable_token', async () => {
      const body = json(await world.container().getToken(httpEvent({ key: READ_KEY, app: 'mp' })));
      expect(body.access_token).toBe(world.sim.currentToken('wx_mp_0002', 'stable'));
      expect(world.sim.calls('wx_mp_0002', 'stable_token')).toBe(1);
      expect(world.sim.calls('wx_mp_0002', 'token')).toBe(0);
    });
  });

  describe('the tick', () => {
    it('refreshes at about 100 minutes of age and not before', async () => {
      const hub = world.container();
      expect(await hub.tick()).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'refreshed' });
      const first = await world.store.read(key);
      expect(world.sim.calls(OA)).toBe(1);

      for (const age of [5, 50, 95, 99]) {
        world.clock.set(first!.obtainedAt! + age * MINUTE);
        // Not refreshed (the tick looks only at what the due index says is due: a probe, at most).
        expect(await hub.tick()).not.toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'refreshed' });
      }
      expect(world.sim.calls(OA)).toBe(1);

      world.clock.set(first!.obtainedAt! + 100 * MINUTE);
      expect(await hub.tick()).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'refreshed' });
      expect(world.sim.calls(OA)).toBe(2);
      const second = await world.store.read(key);
      expect(second!.version).toBe(first!.version + 1);
      expect(second!.previousValue).toBe(first!.value);
      expect(second!.previousValidUntil).toBe(world.clock.now() + 5 * MINUTE);
      // WeChat's overlap: the old token still works for five minutes.
      expect(world.sim.isValid(first!.value!)).toBe(true);
    });

    it('one app failing does not stop the others', async () => {
      world.sim.failNext({ kind: 'errcode', errcode: 40164 }, 1, OA);
      const outcomes = await world.container().tick();
      expect(outcomes).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'failed', code: 'configuration:40164' });
      expect(outcomes).toContainEqual({ app: 'mp', kind: 'access_token', outcome: 'refreshed' });
      expect(outcomes).toContainEqual({ app: 'other', kind: 'access_token', outcome: 'refreshed' });
    });
  });

  describe('forced refresh', () => {
    it('100 concurrent callers with the same stale token cause exactly one upstream fetch', async () => {
      const containers = Array.from({ length: 5 }, () => world.container());
      const stale = json(await containers[0]!.getToken(httpEvent({ key: READ_KEY }))).access_token as string;
      expect(world.sim.calls(OA)).toBe(1);
      world.sim.revokeTokens(OA); // WeChat really no longer accepts it

      const responses = await Promise.all(
        Array.from({ length: 100 }, (_, i) => containers[i % 5]!.forceRefresh(httpEvent({ key: REFRESH_KEY, body: { stale_token: stale } }))),
      );
      expect(world.sim.calls(OA)).toBe(2);
      const fresh = world.sim.currentToken(OA);
      expect(fresh).not.toBe(stale);
      for (const r of responses) {
        expect(r.statusCode).toBe(200);
        expect(json(r)).toMatchObject({ access_token: fresh, refreshed: true });
      }
    });

    it('a stale token that was already rotated causes no fetch', async () => {
      const hub = world.container();
      const a = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token;
      world.sim.revokeTokens(OA);
      const b = json(await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, body: { stale_token: a } })));
      expect(b.refreshed).toBe(true);
      expect(world.sim.calls(OA)).toBe(2);

      const again = json(await world.container().forceRefresh(httpEvent({ key: REFRESH_KEY, body: { stale_token: a } })));
      expect(again.access_token).toBe(b.access_token);
      expect(world.sim.calls(OA)).toBe(2);
    });

    it('when WeChat refuses, the caller gets 502 with the errcode and the stored token is kept', async () => {
      const hub = world.container();
      const a = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token;
      world.sim.revokeTokens(OA);
      world.sim.failNext({ kind: 'errcode', errcode: 40164 }, 1, OA);
      const res = await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, body: { stale_token: a } }));
      expect(res.statusCode).toBe(502);
      expect(json(res).error).toMatchObject({ code: 'wechat_error', errcode: 40164 });
      expect(res.body).not.toContain(a);
      const stored = await world.store.read(key);
      expect(stored!.value).toBe(a);
      expect(stored!.lastError?.code).toBe('configuration:40164');
    });

    it('a stable-token app is force-refreshed with force_refresh', async () => {
      const hub = world.container();
      const a = json(await hub.getToken(httpEvent({ key: READ_KEY, app: 'mp' }))).access_token;
      world.sim.revokeTokens('wx_mp_0002'); // the probe (get_api_domain_ip) says it is dead
      const b = json(await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, app: 'mp', body: { stale_token: a } })));
      expect(b.refreshed).toBe(true);
      expect(b.access_token).not.toBe(a);
      expect(world.sim.calls('wx_mp_0002', 'stable_token_force')).toBe(1);
    });

    it('past the daily forced budget answers 429 with Retry-After, and the tick still refreshes', async () => {
      const hub = world.container({ FORCED_DAILY_BUDGET: '2' });
      let token = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token;
      for (let i = 0; i < 2; i++) {
        world.sim.revokeTokens(OA);
        const r = json(await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, body: { stale_token: token } })));
        token = r.access_token;
      }
      world.sim.revokeTokens(OA);
      const refused = await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, body: { stale_token: token } }));
      expect(refused.statusCode).toBe(429);
      expect(Number(refused.headers?.['retry-after'])).toBeGreaterThan(0);
      expect(world.sim.calls(OA)).toBe(3);

      world.clock.advance(101 * MINUTE);
      expect(await hub.tick()).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'refreshed' });
      expect(world.sim.calls(OA)).toBe(4);
    });
  });

  describe('WeChat failing', () => {
    it('-1 twice then success refreshes', async () => {
      world.sim.failNext({ kind: 'errcode', errcode: -1 }, 2, OA);
      const res = await world.container().getToken(httpEvent({ key: READ_KEY }));
      expect(res.statusCode).toBe(200);
      expect(json(res).access_token).toBe(world.sim.currentToken(OA));
      expect(world.sim.calls(OA)).toBe(3);
    });

    it('WeChat down keeps serving the old token while it is valid, and records the failure', async () => {
      const hub = world.container();
      const a = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token;
      world.clock.advance(101 * MINUTE);
      world.sim.failNext({ kind: 'reset' }, 1000, OA);

      expect(await hub.tick()).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'failed', code: 'retry_later' });
      const stored = await world.store.read(key);
      expect(stored!.value).toBe(a);
      expect(stored!.failures).toBe(1);
      expect(stored!.lastError).toMatchObject({ code: 'retry_later', at: world.clock.now() });
      expect(stored!.leaseOwner).toBeUndefined();

      world.clock.advance(5 * MINUTE);
      await hub.tick();
      expect((await world.store.read(key))!.failures).toBe(2);

      // Less than MIN_SERVE left is still served when nothing better can be had.
      world.clock.set(stored!.expiresAt! - 30_000);
      const served = await world.container().getToken(httpEvent({ key: READ_KEY }));
      expect(served.statusCode).toBe(200);
      expect(json(served).access_token).toBe(a);

      world.clock.set(stored!.expiresAt! + 1);
      const none = await world.container().getToken(httpEvent({ key: READ_KEY }));
      expect(none.statusCode).toBe(503);
      expect(none.headers?.['retry-after']).toBeDefined();
      expect(none.body).not.toContain(a);
    });

    it('a hanging WeChat times out inside the deadline and the read answers 503', async () => {
      world.sim.failNext({ kind: 'hang' }, 10, OA);
      const res = await world.container().getToken(httpEvent({ key: READ_KEY }));
      expect(res.statusCode).toBe(503);
      expect(json(res).error.code).toBe('token_unavailable');
      expect((await world.store.read(key))!.lastError?.code).toBe('retry_later');
    });

    it('45009 blocks the app until the next quota day: no more upstream calls before then', async () => {
      const hub = world.container();
      await hub.getToken(httpEvent({ key: READ_KEY }));
      world.clock.advance(101 * MINUTE);
      world.sim.failNext({ kind: 'errcode', errcode: 45009 }, 1, OA);
      expect(await hub.tick()).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'failed', code: 'quota:45009' });
      const calls = world.sim.calls(OA);
      world.clock.advance(5 * MINUTE);
      expect(await hub.tick()).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'blocked', code: 'quota:45009' });
      expect(world.sim.calls(OA)).toBe(calls);
      const blocked = (await world.store.read(key))!.blockedUntil!;
      world.clock.set(blocked + 1);
      expect(await hub.tick()).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'refreshed' });
    });
  });

  describe('lease and fence', () => {
    it('a lease holder that dies lets another refresher take over after the lease, and its late write is rejected', async () => {
      const hub = world.container();
      await hub.getToken(httpEvent({ key: READ_KEY }));
      const before = (await world.store.read(key))!;
      world.clock.advance(101 * MINUTE);

      // A container takes the lease and dies before writing.
      expect(await world.store.acquireLease(key, { owner: 'dead-container', seenVersion: before.version, now: world.clock.now(), leaseMs: 15_000 })).toBe(true);

      // While the lease holds, nobody else calls WeChat.
      const waiting = await world.container().tick();
      expect(waiting).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'failed', code: 'RefreshInProgressError' });
      expect(world.sim.calls(OA)).toBe(1);

      world.clock.advance(20_001); // the lease (15 s) and the clock skew it allows for (5 s)
      expect(await world.container().tick()).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'refreshed' });
      const after = (await world.store.read(key))!;
      expect(after.version).toBe(before.version + 1);
      expect(after.value).toBe(world.sim.currentToken(OA));

      // The dead container wakes up and tries to write what it fetched: the fence refuses.
      const late = await world.store.writeToken(key, {
        owner: 'dead-container',
        seenVersion: before.version,
        value: 'late-token',
        expiresAt: world.clock.now() + 7200_000,
        obtainedAt: world.clock.now(),
      });
      expect(late).toBeUndefined();
      expect((await world.store.read(key))!.value).toBe(after.value);
    });

    it('a waiter that sees the lease lapse while polling takes over', async () => {
      await world.close();
      const { ManualClock } = await import('../support/manual-clock.js');
      world = await startWorld({ clock: new ManualClock(undefined, true), store: storeKind });
      const hub = world.container();
      await hub.getToken(httpEvent({ key: READ_KEY }));
      const before = (await world.store.read(key))!;
      world.clock.advance(101 * MINUTE);
      await world.store.acquireLease(key, { owner: 'dead-container', seenVersion: before.version, now: world.clock.now(), leaseMs: 15_000 });
      // Each poll moves this clock on by the poll interval, so the lease lapses during the wait.
      expect(await world.container().tick()).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'refreshed' });
      expect(world.sim.calls(OA)).toBe(2);
    });
  });
});
