/**
 * A third-party platform's day (docs/wechat.md §10): 1,000 authorizers (50 with --tiny), each
 * authorized through the event URL (the simulator's encrypted `authorized` push, the hub's
 * api_query_auth) during the 100 minutes before a China quota day starts, then 24 hours of virtual
 * time (4 with --tiny): the tick every 5 minutes with its fan-out (bench/fan-out-harness.ts), a
 * ticket pushed every 10 minutes as WeChat does, reads of random authorizers' tokens every minute
 * (each checked against the simulator at the moment it was served), -1 bursts and 61023s on
 * api_authorizer_token. Every DynamoDB request is counted per function (tick, reads, event URL).
 */
import type { TickOutcome } from '../lib/refresher.js';
import { REFRESH_TOKEN } from '../lib/kinds/authorizer.js';
import { MINUTE, ManualClock } from '../test/support/manual-clock.js';
import { emptyMeter, meterDelta, snapshot, type Meter } from './ddb-meter.js';
import { FanOut, TICK_TIMEOUT_MS } from './fan-out-harness.js';
import { tableSize, type TableSize } from './table-size.js';
import { sharedDynalite } from '../test/support/world.js';
import { authorizerAppid, COMPONENT, PLATFORM_NAME, startPlatformBench } from './platform-world.js';

/** 00:00 China time (16:00 UTC): the start of a quota day, WeChat's and the ledger's. */
const DAY_START = Date.UTC(2026, 10, 23, 16, 0);
const WARMUP_MIN = 100;
const READERS = 3;

export interface PlatformDay {
  authorizers: number;
  minutes: number;
  /** authorizer_token calls per authorizer in the hub's ledger: the most, the mean. */
  callsMax: number;
  callsMean: number;
  /** Tokens fetched per authorizer during the day (its item's version moves once per write): the most, the least. */
  fetchesMax: number;
  fetchesMin: number;
  fetchesTotal: number;
  /** Of the fetches, those the tick made ('refreshed' and 'healed' outcomes); the others were made by a read that found the token due before the next tick. */
  tickFetches: number;
  /** The calls WeChat answered with an injected fault. */
  faultedCalls: number;
  ledgerTotal: number;
  wechatTotal: number;
  /** api_get_authorizer_list calls (61023 recovery). */
  listCalls: number;
  reads: number;
  readsPerMinute: number;
  invalid: number;
  failedReads: number;
  /** Authorizers whose stored refresh token is not the simulator's current one at the end. */
  refreshTokensLost: number;
  faults: { busy: number; refused: number };
  /** Failed outcomes of the tick, by code. */
  failures: Record<string, number>;
  ticks: number;
  slowestTickMs: number;
  invocations: number;
  dispatched: number;
  /** The day's DynamoDB requests and units, per function. */
  tick: Meter;
  readsMeter: Meter;
  /** Ticket pushes (component_verify_ticket events) of the day and what they cost. */
  ticketPushes: number;
  ticketMeter: Meter;
  /** The authorization events (warm-up) and what they cost. */
  authMeter: Meter;
  /** The table at the end of the day. */
  table: TableSize;
  wallMs: number;
}

/** mulberry32: the same random authorizers on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function platformDay(tiny = false): Promise<PlatformDay> {
  const started = performance.now();
  const n = tiny ? 20 : 1000;
  const minutes = tiny ? 3 * 60 : 24 * 60;
  const readsPerMinute = tiny ? 2 : 5;
  const clock = new ManualClock(DAY_START - WARMUP_MIN * MINUTE);
  // Self-healing off: only renewals make a token due (the probes are measured by bench/platform-scale.ts).
  const b = await startPlatformBench({ clock, env: { SELF_HEAL: 'off' } });
  const { world } = b;
  try {
    const tickMeter = emptyMeter();
    const readMeter = emptyMeter();
    const fleet = new FanOut((dispatch) => b.container(tickMeter, {}, { dispatch }), () => tickMeter.requests);
    const coordinator = fleet.invocation(); // the warm container EventBridge's tick lands on
    const readers = Array.from({ length: READERS }, () => b.container(readMeter));
    const appids = Array.from({ length: n }, (_, i) => authorizerAppid(i));
    const rand = random(42);
    let ticketMeter = emptyMeter();
    let authMeter = emptyMeter();
    let ticketPushes = 0;
    const pushTicket = async (counted: boolean) => {
      const m0 = snapshot(b.events);
      const pushed = await world.sim.pushTicket(COMPONENT);
      if (pushed.status !== 200) throw new Error(`the hub did not take a ticket: ${pushed.status}`);
      if (counted) {
        ticketPushes++;
        ticketMeter = add(ticketMeter, meterDelta(b.events, m0));
      }
    };

    // The authorizations, spread over the 100 minutes before the day (the previous quota day: not counted in it).
    let authorized = 0;
    for (let m = 0; m < WARMUP_MIN; m++) {
      clock.set(DAY_START - (WARMUP_MIN - m) * MINUTE);
      if (m % 10 === 0) await pushTicket(false);
      if (m % 5 === 0) await fleet.tick(coordinator);
      const upto = Math.round(((m + 1) * n) / WARMUP_MIN);
      const m0 = snapshot(b.events);
      await b.authorizeAll(appids.slice(authorized, upto), 8);
      authMeter = add(authMeter, meterDelta(b.events, m0));
      authorized = upto;
    }

    // The day: -1 bursts (2 calls each) and single 61023s, at minutes spread over it.
    const at = (f: number) => Math.floor(f * minutes);
    const busy = [0.07, 0.35, 0.77].map(at);
    const refused = [0.21, 0.49, 0.9].map(at);
    const versions = new Map<string, number>();
    for (const appid of appids) versions.set(appid, (await world.store.read({ app: `${PLATFORM_NAME}/${appid}`, kind: 'access_token' }))?.version ?? 0);
    const tick0 = snapshot(tickMeter);
    const read0 = snapshot(readMeter);
    let tickFetches = 0;
    const failures: Record<string, number> = {};
    let reads = 0;
    let invalid = 0;
    let failedReads = 0;
    let ticks = 0;
    let slowestTickMs = 0;
    let invocations = 0;
    let dispatched = 0;
    const count = (outcomes: readonly TickOutcome[]) => {
      for (const o of outcomes) {
        if (o.outcome === 'refreshed' || o.outcome === 'healed') tickFetches++;
        if (o.outcome === 'failed' || o.outcome === 'blocked') failures[o.code] = (failures[o.code] ?? 0) + 1;
      }
    };
    for (let m = 0; m < minutes; m++) {
      clock.set(DAY_START + m * MINUTE);
      if (busy.includes(m)) world.sim.failNext({ kind: 'errcode', errcode: -1 }, 2, COMPONENT, ['authorizer_token']);
      if (refused.includes(m)) world.sim.failNext({ kind: 'errcode', errcode: 61023 }, 1, COMPONENT, ['authorizer_token']);
      if (m % 10 === 0) await pushTicket(true);
      if (m % 5 === 0) {
        const run = await fleet.tick(coordinator);
        ticks++;
        slowestTickMs = Math.max(slowestTickMs, run.wallMs);
        invocations += run.invocations;
        dispatched += run.dispatched;
        for (const e of run.each) count(e.report.outcomes);
      }
      for (let r = 0; r < readsPerMinute; r++) {
        const appid = appids[Math.floor(rand() * n)]!;
        const served = await b.readToken(readers[(m + r) % READERS]!, appid);
        reads++;
        if (served.token === undefined) failedReads++;
        else if (!world.sim.isValid(served.token)) invalid++;
      }
    }

    // What the hub counted, what WeChat counted, and whose refresh token is still the current one.
    const day = new Date(clock.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    const current = world.sim.platformState(COMPONENT).refreshTokens;
    let ledgerTotal = 0;
    let callsMax = 0;
    let refreshTokensLost = 0;
    const fetches: number[] = [];
    for (const appid of appids) {
      const name = `${PLATFORM_NAME}/${appid}`;
      const calls = (await world.store.readQuota(name, 'authorizer_token', day)).count;
      ledgerTotal += calls;
      callsMax = Math.max(callsMax, calls);
      const item = await world.store.read({ app: name, kind: 'access_token' });
      fetches.push((item?.version ?? 0) - versions.get(appid)!);
      if (item?.state?.[REFRESH_TOKEN] === undefined || item.state[REFRESH_TOKEN] !== current[appid]) refreshTokensLost++;
    }
    return {
      authorizers: n,
      minutes,
      callsMax,
      callsMean: ledgerTotal / n,
      fetchesMax: Math.max(...fetches),
      fetchesMin: Math.min(...fetches),
      fetchesTotal: fetches.reduce((a, x) => a + x, 0),
      tickFetches,
      faultedCalls: busy.length * 2 + refused.length,
      ledgerTotal,
      wechatTotal: world.sim.calls(COMPONENT, 'authorizer_token'),
      listCalls: world.sim.calls(COMPONENT, 'authorizer_list'),
      reads,
      readsPerMinute,
      invalid,
      failedReads,
      refreshTokensLost,
      faults: { busy: busy.length, refused: refused.length },
      failures,
      ticks,
      slowestTickMs,
      invocations,
      dispatched,
      tick: meterDelta(tickMeter, tick0),
      readsMeter: meterDelta(readMeter, read0),
      ticketPushes,
      ticketMeter,
      authMeter,
      table: await tableSize((await sharedDynalite()).endpoint, world.tableName),
      wallMs: performance.now() - started,
    };
  } finally {
    await b.close();
  }
}

function add(a: Meter, d: Meter): Meter {
  const byCommand = { ...a.byCommand };
  for (const [k, v] of Object.entries(d.byCommand)) byCommand[k] = (byCommand[k] ?? 0) + v;
  return { requests: a.requests + d.requests, reads: a.reads + d.reads, writes: a.writes + d.writes, rru: a.rru + d.rru, wru: a.wru + d.wru, gsiWru: a.gsiWru + d.gsiWru, byCommand };
}

const per = (m: Meter, n: number) => `${(m.requests / n).toFixed(2)} (${(m.reads / n).toFixed(2)} reads, ${(m.writes / n).toFixed(2)} writes; ${(m.rru / n).toFixed(2)} RRU, ${((m.wru + m.gsiWru) / n).toFixed(2)} WRU)`;

export function platformDaySection(r: PlatformDay, command: string): string {
  const hours = r.minutes / 60;
  const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');
  const goal = hours === 24 ? 15 : Math.ceil((15 * hours) / 24) + 1;
  const failures = Object.entries(r.failures).map(([k, v]) => `${v} × \`${k}\``).join(', ') || 'none';
  return `## Third-party platform: ${r.authorizers.toLocaleString('en')} authorizers over a compressed day

\`${command}\` (bench/platform-day.ts): one platform in the simulator, ${r.authorizers.toLocaleString('en')} authorizers, each authorized
through the event URL (the simulator's encrypted \`authorized\` push to the hub's local server, the hub's
api_query_auth) during the ${WARMUP_MIN} minutes before a China quota day starts; then ${hours} h of virtual time: the
tick every 5 minutes with its fan-out (each dispatched shard a container of its own), a
component_verify_ticket pushed every 10 minutes, ${r.readsPerMinute} reads of random authorizers' tokens a minute over
${READERS} containers, each checked with the simulator at the moment it was served. Faults on
api_authorizer_token: ${r.faults.busy} bursts of two \`-1\` (system busy) and ${r.faults.refused} single \`61023\` (refresh token refused).
\`SELF_HEAL=off\` (only renewals make a token due; the self-heal probes are measured in the next section),
other settings default; dynalite and the simulator on loopback, no added latency.

| measure | result | goal |
|---|---|---|
| tokens fetched per authorizer (api_authorizer_token answered with a token) | ${r.fetchesMin}-${r.fetchesMax}, mean ${(r.fetchesTotal / r.authorizers).toFixed(2)}; ${r.tickFetches} by the tick, ${r.fetchesTotal - r.tickFetches} by a read that found its token due before the next tick | ≤ ${goal}${hours === 24 ? '' : ` in ${hours} h`}: ${verdict(r.fetchesMax <= goal)} |
| api_authorizer_token calls per authorizer (hub ledger) | at most ${r.callsMax}, mean ${r.callsMean.toFixed(2)}: the fetches and the ${r.faultedCalls} calls answered with a fault (${r.fetchesTotal} + ${r.faultedCalls} = ${r.fetchesTotal + r.faultedCalls}) | |
| hub ledger = WeChat's count (api_authorizer_token, all authorizers) | ${r.ledgerTotal} = ${r.wechatTotal} | equal: ${verdict(r.ledgerTotal === r.wechatTotal)} |
| invalid tokens served | ${r.invalid} of ${r.reads.toLocaleString('en')} reads (${r.failedReads} failed) | 0: ${verdict(r.invalid === 0 && r.failedReads === 0)} |
| refresh tokens lost (stored ≠ WeChat's current one at the end) | ${r.refreshTokensLost} of ${r.authorizers} | 0: ${verdict(r.refreshTokensLost === 0)} |
| api_get_authorizer_list calls (61023 recovery) | ${r.listCalls} | |
| tick failures | ${failures} | retried by the next tick |
| ticks | ${r.ticks}, ${r.invocations} invocations (${r.dispatched} shards dispatched), slowest ${(r.slowestTickMs / 1000).toFixed(1)} s | < ${TICK_TIMEOUT_MS / 1000} s |

A \`-1\` is retried within the fetch (the ledger counts each call, as WeChat does). A \`61023\` makes the hub read
api_get_authorizer_list (pages of 500) for the current refresh token; the list has the one it stored, so the
fetch is tried once more with it (lib/kinds/authorizer.ts: a refusal that passes), which succeeds: no account is
shown as \`needs_reauthorization\` for a single refusal, and the extra call is in the ledger as in WeChat's count.

DynamoDB over the ${hours} h (requests, and on-demand units: table units as dynalite sizes the items, and gsi1's
writes, bench/ddb-meter.ts):

| function | requests | reads | writes | RRU | WRU (of which gsi1) | per |
|---|---|---|---|---|---|---|
| refreshTick (all invocations) | ${r.tick.requests} | ${r.tick.reads} | ${r.tick.writes} | ${r.tick.rru.toFixed(1)} | ${r.tick.wru + r.tick.gsiWru} (${r.tick.gsiWru}) | tick: ${per(r.tick, r.ticks)} |
| getToken (the reads) | ${r.readsMeter.requests} | ${r.readsMeter.reads} | ${r.readsMeter.writes} | ${r.readsMeter.rru.toFixed(1)} | ${r.readsMeter.wru + r.readsMeter.gsiWru} (${r.readsMeter.gsiWru}) | read: ${per(r.readsMeter, r.reads)} |
| platform: ticket pushes | ${r.ticketMeter.requests} | ${r.ticketMeter.reads} | ${r.ticketMeter.writes} | ${r.ticketMeter.rru.toFixed(1)} | ${r.ticketMeter.wru + r.ticketMeter.gsiWru} (${r.ticketMeter.gsiWru}) | push: ${per(r.ticketMeter, r.ticketPushes)} |
| platform: authorization events (before the day) | ${r.authMeter.requests} | ${r.authMeter.reads} | ${r.authMeter.writes} | ${r.authMeter.rru.toFixed(1)} | ${r.authMeter.wru + r.authMeter.gsiWru} (${r.authMeter.gsiWru}) | event: ${per(r.authMeter, r.authorizers)} |

${(r.wallMs / 1000).toFixed(0)} s of wall time here.
`;
}
