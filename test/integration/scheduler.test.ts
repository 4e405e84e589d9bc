import { randomBytes } from 'node:crypto';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { hashApiKey } from '../../lib/http/auth.js';
import { dueByOf, lambdaDispatch, shardsOf } from '../../lib/scheduler/fan-out.js';
import { shardOf } from '../../lib/scheduler/shards.js';
import { MINUTE } from '../support/manual-clock.js';
import { useWorld } from '../support/use-world.js';
import { APPS, CRM, httpEvent, json, READ_KEY, storePrototype, TEST_STORES, type World } from '../support/world.js';

/**
 * The tick as a scheduler (lib/scheduler): it reads the due index one query per shard, refreshes
 * only what is due, hands whole shards to invocations of its own past its budget, continues a shard
 * past its deadline in another invocation, drops credentials of principals no longer configured,
 * retries a failure at the next tick, and refreshes at once what a changed secret made stale.
 */
const OA = 'wx_oa_0001';
const MP = 'wx_mp_0002';
const OTHER = 'wx_other_03';
const APPIDS = [OA, MP, OTHER, CRM];
/** Many fetches at once on a loaded machine: the world's 300 ms attempt timeout would retry a slow answer (a second upstream call). */
const PATIENT = { wechatTimeouts: { attemptTimeoutMs: 10_000 } };
const silent = new Logger({ serviceName: 'test', logLevel: 'SILENT' });

/** `n` more Official Accounts, known to the simulator and the secret store; `name` picks their names. */
function extraApps(world: World, n: number, name: (i: number) => string = (i) => `x${i}`) {
  const apps = Array.from({ length: n }, (_, i) => {
    const appid = `wx_${name(i)}`;
    const secret = randomBytes(16).toString('hex');
    const env = `SECRET_${name(i).toUpperCase().replace(/-/g, '_')}`;
    world.sim.addApp({ appid, secret });
    world.setSecret(env, secret);
    return { name: name(i), appid, type: 'official_account', tokenApi: 'classic', secret: { env } };
  });
  // The configuration names each secret's variable: it must be set where the container is configured.
  const secrets = Object.fromEntries(apps.map((a) => [a.secret.env, 'set']));
  return { apps, appids: apps.map((a) => a.appid), env: { HUB_APPS: JSON.stringify([...APPS, ...apps]), ...secrets } };
}

/** Every request the simulator gets (any endpoint), from now on. */
function countRequests(world: World) {
  const seen: string[] = [];
  world.sim.onRequest((path) => void seen.push(path));
  return seen;
}

const tokenCalls = (world: World, appid: string) => (appid.includes('/') ? world.sim.calls(appid, 'wecom_gettoken') : world.sim.calls(appid, 'token') + world.sim.calls(appid, 'stable_token'));
const refreshed = (outcomes: readonly { app: string; outcome: string; kind: string }[]) => outcomes.filter((o) => o.outcome === 'refreshed').map((o) => `${o.app}/${o.kind}`).sort();

describe.each(TEST_STORES)('on the %s store', (storeKind) => {
  const world = useWorld(() => ({ store: storeKind }));
  afterEach(() => {
    vi.restoreAllMocks();
  });

  describe('with nothing due', () => {
    it.each([0, 30])('a tick makes exactly one due-index query per shard and no upstream call (%i extra apps)', async (extra) => {
      const { env, appids } = extraApps(world, extra);
      const hub = world.container(env, PATIENT);
      const first = await hub.tickReport();
      // Every configured token was due (registered): each fetched once, on one query per shard (one page each).
      expect(refreshed(first.outcomes)).toHaveLength(4 + extra);
      for (const appid of [...APPIDS, ...appids]) expect(tokenCalls(world, appid)).toBe(1);

      world.clock.advance(60_000); // the next tick: the first probe is 3/4 of SELF_HEAL_INTERVAL away
      const queryDue = vi.spyOn(storePrototype(storeKind), 'queryDue');
      const requests = countRequests(world);
      for (const h of [hub, world.container(env)]) {
        queryDue.mockClear();
        const report = await h.tickReport();
        expect(report.outcomes).toEqual([]);
        expect(report.queries).toBe(16);
        expect(queryDue).toHaveBeenCalledTimes(16);
        expect(new Set(queryDue.mock.calls.map((c) => c[0]))).toEqual(new Set(Array.from({ length: 16 }, (_, i) => i)));
        expect(report.dispatched).toEqual([]);
      }
      expect(requests).toEqual([]);
    });
  });

  describe('only what is due is refreshed', () => {
    it('at one app\'s renewal only that app\'s token is fetched; the others are not even looked at', async () => {
      const env = { SELF_HEAL: 'off' };
      const hub = world.container(env);
      // oa is fetched by a read at T0; the tick fetches the others 30 minutes later.
      expect((await hub.getToken(httpEvent({ key: READ_KEY }))).statusCode).toBe(200);
      const oaItem = (await world.store.read({ app: 'oa', kind: 'access_token' }))!;
      world.clock.advance(30 * MINUTE);
      const second = await hub.tick();
      expect(refreshed(second)).toEqual(['crm/access_token', 'mp/access_token', 'other/access_token']);
      expect(second.filter((o) => o.app === 'oa')).toEqual([]); // not due: not looked at

      // oa's renewal (100 minutes of age): the others (70 minutes old) are not due.
      world.clock.set(oaItem.obtainedAt! + 100 * MINUTE);
      const requests = countRequests(world);
      const third = await world.container(env).tick();
      expect(third).toEqual([{ app: 'oa', kind: 'access_token', outcome: 'refreshed' }]);
      expect(tokenCalls(world, OA)).toBe(2);
      for (const appid of [MP, OTHER, CRM]) expect(tokenCalls(world, appid)).toBe(1);
      expect(requests).toEqual(['/cgi-bin/token']);
    });

    it('with self-heal on, the others are probed at most, never fetched', async () => {
      const hub = world.container();
      await hub.getToken(httpEvent({ key: READ_KEY }));
      const oaItem = (await world.store.read({ app: 'oa', kind: 'access_token' }))!;
      world.clock.advance(30 * MINUTE);
      await hub.tick();
      world.clock.set(oaItem.obtainedAt! + 100 * MINUTE);
      const outcomes = await world.container().tick();
      expect(refreshed(outcomes)).toEqual(['oa/access_token']);
      expect(outcomes.filter((o) => o.app !== 'oa').every((o) => o.outcome === 'fresh')).toBe(true);
      expect(tokenCalls(world, OA)).toBe(2);
      for (const appid of [MP, OTHER, CRM]) expect(tokenCalls(world, appid)).toBe(1);
    });
  });

  describe('fan-out', () => {
    it('past TICK_INVOCATION_BUDGET whole shards are dispatched; their invocations refresh the rest; every due credential exactly once', async () => {
      const { env, appids } = extraApps(world, 12);
      const all = [...APPS.map((a) => a.name), ...JSON.parse(env.HUB_APPS).slice(4).map((a: { name: string }) => a.name)] as string[];
      const shardsWithWork = [...new Set(all.map((app) => shardOf({ app, kind: 'access_token' })))].sort((a, b) => a - b);
      expect(shardsWithWork.length).toBeGreaterThan(2); // the test means something

      // The Lambda dispatch, with a client that records what it would invoke.
      const invoked: { FunctionName?: string; InvocationType?: string; Payload?: Uint8Array }[] = [];
      const client = { send: vi.fn(async (cmd: { input: (typeof invoked)[number] }) => void invoked.push(cmd.input)) } as unknown as LambdaClient;
      const dispatch = vi.fn(lambdaDispatch('hub-tick', silent, client));
      const first = await world.container({ ...env, TICK_INVOCATION_BUDGET: '1' }, { dispatch, ...PATIENT }).tickReport();

      // One shard taken (the first with work), every other one with work dispatched, once.
      const taken = new Set(first.outcomes.map((o) => shardOf(o)));
      expect(taken.size).toBe(1);
      expect(first.dispatched.sort((a, b) => a - b)).toEqual(shardsWithWork.filter((s) => !taken.has(s)));
      expect(dispatch).toHaveBeenCalledTimes(1);
      expect(invoked.map((i) => [i.FunctionName, i.InvocationType])).toEqual(first.dispatched.map(() => ['hub-tick', 'Event']));
      // Each dispatched shard's invocation, on a container of its own (as Lambda would run it).
      const events = invoked.map((i) => JSON.parse(new TextDecoder().decode(i.Payload)));
      const outcomes = [...first.outcomes];
      for (const event of events) {
        const shards = shardsOf(event);
        expect(shards).toHaveLength(1);
        const report = await world.container(env, PATIENT).tickReport({ shards });
        expect(report.dispatched).toEqual([]);
        expect(report.queries).toBe(1);
        expect(report.outcomes.every((o) => shardOf(o) === shards![0])).toBe(true);
        outcomes.push(...report.outcomes);
      }
      expect(refreshed(outcomes)).toEqual(all.map((a) => `${a}/access_token`).sort());
      for (const appid of [...APPIDS, ...appids]) expect(tokenCalls(world, appid)).toBe(1);
      // Nothing left: a scheduled tick right after finds nothing due.
      expect(await world.container(env).tick()).toEqual([]);
      for (const appid of [...APPIDS, ...appids]) expect(tokenCalls(world, appid)).toBe(1);
    });

    it('without dispatch one invocation takes every shard, whatever its budget', async () => {
      const report = await world.container({ TICK_INVOCATION_BUDGET: '1' }).tickReport();
      expect(report.dispatched).toEqual([]);
      expect(refreshed(report.outcomes)).toEqual(['crm/access_token', 'mp/access_token', 'oa/access_token', 'other/access_token']);
    });

    it('shardsOf reads a dispatched event and ignores the scheduled one', () => {
      expect(shardsOf({ shards: [3] })).toEqual([3]);
      expect(shardsOf({ shards: [1, 'x', -1, 2.5, 7] })).toEqual([1, 7]);
      expect(shardsOf({ 'detail-type': 'Scheduled Event', source: 'aws.events' })).toBeUndefined();
      expect(shardsOf({ shards: [] })).toBeUndefined();
      expect(shardsOf(null)).toBeUndefined();
      // The horizon of a dispatched invocation: its dispatcher's, or none (then its own now).
      expect(dueByOf({ shards: [3], dueBy: 1_795_399_200_000 })).toBe(1_795_399_200_000);
      for (const bad of [{ shards: [3] }, { dueBy: 'soon' }, { dueBy: -1 }, { dueBy: Number.NaN }, null]) expect(dueByOf(bad)).toBeUndefined();
    });
  });

  describe('a deadline', () => {
    it('past it, no other shard is started: the shards not begun are handed on, the first one is done', async () => {
      const dispatch = vi.fn(async (_shards: number[], _dueBy: number) => undefined);
      const report = await world.container({}, { dispatch }).tickReport({ deadline: world.clock.now() - 1 });
      // The world's four apps are in shards 0 (other), 5 (oa), 13 (mp), 15 (crm).
      expect(refreshed(report.outcomes)).toEqual(['other/access_token']);
      expect(report.dispatched.sort((a, b) => a - b)).toEqual([5, 13, 15]);
      expect(dispatch).toHaveBeenCalledTimes(1);
      const dueBy = dispatch.mock.calls[0]![1];
      // Each handed-on shard, as its own invocation, finishes what was due.
      for (const shard of [5, 13, 15]) {
        const rest = await world.container().tickReport({ shards: [shard], dueBy });
        expect(rest.outcomes.map((o) => o.outcome)).toEqual(['refreshed']);
      }
    });

    it('a self-heal probe that cannot answer puts the credential due from then: the next tick asks again, a continuation of this one does not', async () => {
      await world.container().tick();
      world.clock.advance(5 * MINUTE); // every token due for its probe
      world.sim.failNext({ kind: 'errcode', errcode: -1 }, 100, 'wx_oa_0001', ['getcallbackip']);
      world.sim.onRequest(() => world.clock.advance(10)); // WeChat takes 10 ms an answer
      const dueBy = world.clock.now();
      const report = await world.container().tickReport();
      expect(report.outcomes).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'fresh' });
      world.clock.advance(1_000);
      const item = await world.store.read({ app: 'oa', kind: 'access_token' });
      expect(item?.dueAt).toBeGreaterThan(dueBy);
      // A continuation with the first invocation's horizon does not take it again…
      const continuation = await world.container().tickReport({ shards: [item!.shard!], dueBy });
      expect(continuation.outcomes.filter((o) => o.app === 'oa')).toEqual([]);
      // …the next tick does.
      world.clock.advance(5 * MINUTE);
      world.sim.clearFaults();
      expect((await world.container().tickReport()).outcomes).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'fresh' });
    });

    it('already passed, with more pages in a shard: the rest of the shard is dispatched (continuation), each credential once', async () => {
      // 105 principals of one shard: more than one page (100) of due entries.
      const names: string[] = [];
      for (let i = 0; names.length < 105; i++) if (shardOf({ app: `c${i}`, kind: 'access_token' }) === 3) names.push(`c${i}`);
      const { env, appids } = extraApps(world, names.length, (i) => names[i]!);
      const dispatch = vi.fn(async (_shards: number[]) => undefined);
      const hub = world.container({ ...env, SELF_HEAL: 'off' }, { dispatch, ...PATIENT });
      // Shard 3's invocation (dispatched by a tick), out of time from the start: its first page is
      // always done (progress), the rest is handed on.
      const first = await hub.tickReport({ shards: [3], deadline: world.clock.now() - 1 });
      expect(first.dispatched).toEqual([3]);
      expect(dispatch).toHaveBeenCalledWith([3], expect.any(Number));
      const inShard = (o: { app: string }) => names.includes(o.app);
      expect(refreshed(first.outcomes).filter((k) => inShard({ app: k.split('/')[0]! }))).toHaveLength(100);

      const rest = await world.container({ ...env, SELF_HEAL: 'off' }, PATIENT).tickReport({ shards: [3] });
      expect(rest.dispatched).toEqual([]);
      expect(refreshed(rest.outcomes)).toHaveLength(5);
      expect(rest.outcomes.every(inShard)).toBe(true);
      const done = [...first.outcomes, ...rest.outcomes].filter(inShard).map((o) => o.app).sort();
      expect(done).toEqual([...names].sort());
      for (const appid of appids) expect(tokenCalls(world, appid), appid).toBe(1);
      for (const name of names) expect((await world.store.read({ app: name, kind: 'access_token' }))?.version, name).toBe(1);
    }, 120_000);

    /**
     * Was a product bug (fixed: a dispatched invocation takes its dispatcher's `dueBy`): a
     * continuation starts its shard from the beginning with its own `now`, so the credentials that
     * failed in the invocation that dispatched it (put due "at once", at their failure's time) are
     * due again and sort among the rest: the continuation retries them a moment later, and when that
     * page again outlasts its deadline it dispatches yet another continuation. "A tick never looks
     * at one credential twice" (schedule.ts) does not hold across a continuation; during an outage
     * of WeChat with more than a page due in a shard, every continuation retries the same failures
     * and hands on again (a chain per tick, bounded only by the reserved concurrency).
     */
    it('a continuation takes only the rest of its shard, not what failed in the invocation that dispatched it', async () => {
      const names: string[] = [];
      for (let i = 0; names.length < 105; i++) if (shardOf({ app: `f${i}`, kind: 'access_token' }) === 3) names.push(`f${i}`);
      const { env } = extraApps(world, names.length, (i) => names[i]!);
      const all = { ...env, SELF_HEAL: 'off' };
      world.sim.onRequest(() => world.clock.advance(10)); // WeChat takes 10 ms an answer
      world.sim.failNext({ kind: 'errcode', errcode: 40013 }, 1_000, '*'); // and refuses every token for now
      const dispatch = vi.fn(async (_shards: number[], _dueBy: number) => undefined);
      const first = await world.container(all, { dispatch, ...PATIENT }).tickReport({ shards: [3], deadline: world.clock.now() - 1 });
      expect(first.dispatched).toEqual([3]);
      const dueBy = dispatch.mock.calls[0]![1]; // the continuation's event carries the dispatching invocation's horizon
      const looked = new Set(first.outcomes.map((o) => o.app));
      expect(looked.size).toBe(100);
      expect(first.outcomes.every((o) => o.outcome === 'failed')).toBe(true);

      // The continuation, a second later, still past its deadline (it was dispatched for lack of time).
      world.clock.advance(1_000);
      dispatch.mockClear();
      const rest = await world.container(all, { dispatch, ...PATIENT }).tickReport({ shards: [3], deadline: world.clock.now() - 1, dueBy });
      // Only the five the first invocation never got to; nothing handed on again.
      expect(rest.outcomes.map((o) => o.app).sort()).toEqual(names.filter((n) => !looked.has(n)).sort());
      expect(rest.dispatched).toEqual([]);
      expect(dispatch).not.toHaveBeenCalled();
    }, 120_000);
  });

  describe('a principal removed from the configuration', () => {
    it('its due credential is reported removed and leaves the due index; its item is kept', async () => {
      await world.container().tick();
      const key = { app: 'other', kind: 'access_token' };
      const shard = shardOf(key);
      const inIndex = async () => (await world.store.queryDue(shard, { limit: 100 })).entries.some((e) => e.key.app === 'other');
      expect(await inIndex()).toBe(true);

      const without = {
        HUB_APPS: JSON.stringify(APPS.filter((a) => a.name !== 'other')),
        HUB_API_KEYS: JSON.stringify([{ name: 'reader', sha256: hashApiKey(READ_KEY), apps: ['oa'], scopes: ['read'] }]),
      };
      world.clock.advance(6 * MINUTE); // its first probe is due
      const outcomes = await world.container(without).tick();
      expect(outcomes).toContainEqual({ app: 'other', kind: 'access_token', outcome: 'removed' });
      expect(outcomes.filter((o) => o.app === 'other')).toHaveLength(1);
      expect(await inIndex()).toBe(false);
      const item = await world.store.read(key);
      expect(item?.value).toBe(world.sim.currentToken(OTHER));
      expect(item?.dueAt).toBeUndefined();
      // Not looked at again, and never fetched.
      world.clock.advance(200 * MINUTE);
      expect((await world.container(without).tick()).filter((o) => o.app === 'other')).toEqual([]);
      expect(tokenCalls(world, OTHER)).toBe(1);
    });
  });

  describe('a failed refresh', () => {
    it('is due again at the next tick, which retries it, while reads wait for the backoff', async () => {
      world.sim.failNext({ kind: 'errcode', errcode: 40164 }, 1, OA); // a configuration error: reads back off
      const hub = world.container();
      const first = await hub.tick();
      expect(first).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'failed', code: 'configuration:40164' });
      expect(tokenCalls(world, OA)).toBe(1);
      const item = (await world.store.read({ app: 'oa', kind: 'access_token' }))!;
      expect(item.dueAt).toBeLessThanOrEqual(world.clock.now());
      expect(item.backoffUntil).toBeGreaterThan(world.clock.now());

      // A read within the backoff does not ask WeChat.
      world.clock.advance(1_000);
      const read = await world.container().getToken(httpEvent({ key: READ_KEY }));
      expect(read.statusCode).toBeGreaterThanOrEqual(500);
      expect(tokenCalls(world, OA)).toBe(1);

      // The next tick, still within the read backoff (CONFIG_ERROR_BACKOFF, 60 s), retries it.
      world.clock.advance(1_000);
      const second = await hub.tick();
      expect(second).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'refreshed' });
      expect(refreshed(second)).toEqual(['oa/access_token']); // the others are not due
      expect(tokenCalls(world, OA)).toBe(2);
      expect(json(await world.container().getToken(httpEvent({ key: READ_KEY }))).access_token).toBe(world.sim.currentToken(OA));
    });
  });

  describe('a changed secret', () => {
    it('makes the next tick refresh the token although it is not due', async () => {
      const hub = world.container();
      await hub.tick();
      const before = (await world.store.read({ app: 'oa', kind: 'access_token' }))!;
      // Long before its renewal and its first probe (3/4 of SELF_HEAL_INTERVAL at the earliest); past the secret cache (60 s).
      world.clock.advance(2 * MINUTE);
      expect(before.dueAt).toBeGreaterThan(world.clock.now());
      const fresh = randomBytes(16).toString('hex');
      world.setSecret('SECRET_OA', fresh);
      world.sim.setSecret(OA, fresh);

      const outcomes = await hub.tick();
      expect(refreshed(outcomes)).toEqual(['oa/access_token']);
      expect(tokenCalls(world, OA)).toBe(2);
      for (const appid of [MP, OTHER, CRM]) expect(tokenCalls(world, appid)).toBe(1);
      const after = (await world.store.read({ app: 'oa', kind: 'access_token' }))!;
      expect(after.value).not.toBe(before.value);
      expect(after.secretFingerprint).not.toBe(before.secretFingerprint);
      // Once: the tick after that does not fetch again.
      world.clock.advance(MINUTE);
      expect(refreshed(await hub.tick())).toEqual([]);
      expect(tokenCalls(world, OA)).toBe(2);
    });

    it('a dispatched shard alone does not look at the secrets, the scheduled tick does', async () => {
      const hub = world.container();
      await hub.tick();
      world.clock.advance(2 * MINUTE);
      const fresh = randomBytes(16).toString('hex');
      world.setSecret('SECRET_OA', fresh);
      world.sim.setSecret(OA, fresh);
      const oaShard = shardOf({ app: 'oa', kind: 'access_token' });
      expect(refreshed((await hub.tickReport({ shards: [oaShard] })).outcomes)).toEqual([]);
      expect(refreshed(await hub.tick())).toEqual(['oa/access_token']);
    });
  });
});
