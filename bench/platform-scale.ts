/**
 * 10,000 authorizers of one platform (40 with --tiny) refreshed by the tick's fan-out: all
 * authorized at the same moment (through Authorizations.authorize with the code the simulator
 * issued, the code path the authorization event takes, without 10,000 HTTP pushes), so that all
 * are due at once 100 minutes later; the tick then runs with its self-invocation fan-out
 * (bench/fan-out-harness.ts, as bench/scale.ts), 100 ms of simulated WeChat latency on every call.
 * Then the self-heal probes of all of them, due at once half an hour later, and a tick with
 * nothing due. Every DynamoDB request of every invocation is counted. Returns what it measured.
 */
import type { PlatformApp } from '../lib/apps.js';
import { REFRESH_TOKEN } from '../lib/kinds/authorizer.js';
import { DUE_SHARDS } from '../lib/scheduler/shards.js';
import { MINUTE, ManualClock } from '../test/support/manual-clock.js';
import { emptyMeter, meterDelta, snapshot, type Meter } from './ddb-meter.js';
import { FanOut, TICK_TIMEOUT_MS, type Run } from './fan-out-harness.js';
import { authorizerAppid, COMPONENT, PLATFORM_NAME, startPlatformBench, type PlatformBench } from './platform-world.js';

/** 10:00 China time: the day's ledger rows and WeChat's counts are one day's. */
const T0 = Date.UTC(2026, 10, 24, 2, 0);
export const SCALE_SELF_HEAL_INTERVAL = 1800;

export interface PhaseResult {
  run: Run;
  meter: Meter;
  /** WeChat calls the phase made (api_authorizer_token, get_api_domain_ip, component token). */
  wechat: { authorizerToken: number; probes: number; componentToken: number };
  outcomes: Record<string, number>;
}

export interface PlatformScale {
  authorizers: number;
  latencyMs: number;
  budget: number;
  registerMs: number;
  register: Meter;
  refresh: PhaseResult;
  nothingDue: PhaseResult;
  /** The self-heal probes, measured over fewer authorizers (see platformScale). */
  probeAuthorizers: number;
  probe: PhaseResult;
  probeNothingDue: PhaseResult;
  /** A sample of authorizers checked after the refresh: token valid at WeChat and the refresh token the current one. */
  sampled: number;
  sampleBad: number;
  wallMs: number;
}

interface Registered {
  b: PlatformBench;
  appids: string[];
  registerMs: number;
  register: Meter;
}

/**
 * `n` authorizers authorized at T0 (not timed as a tick): the code WeChat's authorization issues,
 * exchanged by the hub as the event would (api_query_auth, the row, the token and refresh token in
 * one fenced write), 32 at a time.
 */
async function registered(n: number, env: Record<string, string>): Promise<Registered> {
  const b = await startPlatformBench({ clock: new ManualClock(T0), env });
  const register = emptyMeter();
  const registrar = b.container(register);
  const platform = (await registrar.refresher.load(PLATFORM_NAME)) as PlatformApp;
  b.world.sim.setEventUrl(COMPONENT, undefined);
  const appids = Array.from({ length: n }, (_, i) => authorizerAppid(i));
  const r0 = performance.now();
  let next = 0;
  const one = async () => {
    const { code } = await b.world.sim.authorize(COMPONENT, appids[next++]!);
    if (!(await registrar.authorizations.authorize(platform, code)).done) throw new Error('an authorization code was taken twice');
  };
  await one(); // the component token first
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < appids.length) await one();
  }));
  return { b, appids, registerMs: performance.now() - r0, register };
}

/** Ticks with the fan-out, `latencyMs` on every WeChat call, each phase at a virtual time. */
function phases({ b, appids }: Registered, latencyMs: number) {
  const { world } = b;
  const tickMeter = emptyMeter();
  const fleet = new FanOut((dispatch) => b.container(tickMeter, {}, { dispatch }), () => tickMeter.requests);
  const wechat = () => ({
    authorizerToken: world.sim.calls(COMPONENT, 'authorizer_token'),
    componentToken: world.sim.calls(COMPONENT, 'component_token'),
    probes: appids.reduce((s, a) => s + world.sim.calls(a, 'get_api_domain_ip'), 0),
  });
  return async (at: number): Promise<PhaseResult> => {
    world.clock.set(at);
    world.sim.onRequest(() => new Promise((r) => setTimeout(r, latencyMs)));
    try {
      const m0 = snapshot(tickMeter);
      const w0 = wechat();
      const run = await fleet.tick();
      const w1 = wechat();
      const outcomes: Record<string, number> = {};
      for (const e of run.each) for (const o of e.report.outcomes) outcomes[o.outcome] = (outcomes[o.outcome] ?? 0) + 1;
      return {
        run,
        meter: meterDelta(tickMeter, m0),
        wechat: { authorizerToken: w1.authorizerToken - w0.authorizerToken, probes: w1.probes - w0.probes, componentToken: w1.componentToken - w0.componentToken },
        outcomes,
      };
    } finally {
      world.sim.onRequest(undefined);
    }
  };
}

export async function platformScale(tiny = false): Promise<PlatformScale> {
  const started = performance.now();
  const n = tiny ? 20 : 10_000;
  const probeN = tiny ? 20 : 1000;
  const latencyMs = tiny ? 5 : 100;
  // --tiny: a budget of 4 due credentials an invocation, so that the 20 fan out as the 10,000 do.
  const budget = String(tiny ? 4 : 400);
  // The renewal: self-healing off, so that only renewals make a token due (as bench/scale.ts).
  const reg = await registered(n, { SELF_HEAL: 'off', TICK_INVOCATION_BUDGET: budget });
  let refresh: PhaseResult, nothingDue: PhaseResult, sampled: number, sampleBad = 0;
  try {
    const tick = phases(reg, latencyMs);
    // Renewal at 100 minutes (a 7200 s token, REFRESH_MARGIN 1200): all due at once.
    refresh = await tick(T0 + 100 * MINUTE);
    nothingDue = await tick(T0 + 101 * MINUTE);
    // A sample: stored tokens WeChat accepts, stored refresh tokens the current ones.
    const { world } = reg.b;
    const current = world.sim.platformState(COMPONENT).refreshTokens;
    const sample = reg.appids.filter((_, i) => i % Math.max(1, Math.floor(n / 100)) === 0);
    sampled = sample.length;
    for (const appid of sample) {
      const item = await world.store.read({ app: `${PLATFORM_NAME}/${appid}`, kind: 'access_token' });
      if (!item?.value || !world.sim.isValid(item.value) || item.state?.[REFRESH_TOKEN] !== current[appid]) sampleBad++;
    }
  } finally {
    await reg.b.close();
  }
  // The probes, of fewer authorizers: the simulator finds a probed token's account by walking every
  // account, on the benchmark's one thread, which at 10,000 would be most of the invocations' time.
  const probeReg = await registered(probeN, { SELF_HEAL_INTERVAL: String(SCALE_SELF_HEAL_INTERVAL), TICK_INVOCATION_BUDGET: budget });
  let probe: PhaseResult, probeNothingDue: PhaseResult;
  try {
    const tick = phases(probeReg, latencyMs);
    // A token stored by an authorization is next due at its renewal; after the renewal's write the first
    // self-heal probe comes due 22.5-30 minutes later (SELF_HEAL_INTERVAL 1800, spread over its last quarter).
    await tick(T0 + 100 * MINUTE);
    probe = await tick(T0 + 131 * MINUTE);
    probeNothingDue = await tick(T0 + 132 * MINUTE);
  } finally {
    await probeReg.b.close();
  }
  return {
    authorizers: n, latencyMs, budget: Number(budget), registerMs: reg.registerMs, register: reg.register, refresh, nothingDue, sampled, sampleBad,
    probeAuthorizers: probeN, probe, probeNothingDue, wallMs: performance.now() - started,
  };
}

export function platformScaleSection(r: PlatformScale, command: string): string {
  const n = r.authorizers;
  const pn = r.probeAuthorizers;
  const row = (what: string, p: PhaseResult) =>
    `| ${what} | ${p.outcomes.refreshed ?? 0} | ${p.wechat.probes} | ${p.run.invocations} | ${(p.run.wallMs / 1000).toFixed(1)} s | ${(p.run.sumMs / 1000).toFixed(1)} s | ${p.meter.requests} | ${p.run.queries} | ${p.run.peakHeapMb.toFixed(0)} MB |`;
  const beyond = (p: PhaseResult, base: PhaseResult, count: number) => ({
    requests: (p.meter.requests - base.meter.requests) / count,
    rru: (p.meter.rru - base.meter.rru) / count,
    wru: (p.meter.wru + p.meter.gsiWru - base.meter.wru - base.meter.gsiWru) / count,
    commands: Object.entries(meterDelta(p.meter, base.meter).byCommand).filter(([, v]) => v / count >= 0.005).map(([k, v]) => `${k} ${(v / count).toFixed(2)}`).join(', '),
  });
  const renewal = beyond(r.refresh, r.nothingDue, n);
  const probe = beyond(r.probe, r.probeNothingDue, pn);
  const met = (ok: boolean) => (ok ? 'met' : '**missed**');
  const others = Object.entries(r.refresh.outcomes).filter(([k]) => k !== 'refreshed' && k !== 'fresh').map(([k, v]) => `${v} ${k}`).join(', ') || 'none';
  return `## Third-party platform: ${n.toLocaleString('en')} authorizers refreshed by the tick's fan-out

\`${command}\` (bench/platform-scale.ts): one platform, ${n.toLocaleString('en')} authorizers authorized at the same moment
(Authorizations.authorize with the code the simulator issued: the code path of the authorization
event, without ${n.toLocaleString('en')} HTTP pushes), so that all are due at once 100 minutes later (the renewal of a 7200 s
token at REFRESH_MARGIN 1200); \`SELF_HEAL=off\`, so that only renewals make a token due; ${r.latencyMs} ms of simulated
WeChat latency on every call. The tick runs with its self-invocation fan-out as in the scale benchmark
above (bench/fan-out-harness.ts: each dispatched shard a container of its own, run one after the other
and timed alone; Lambda runs them at once). ${DUE_SHARDS} due-index shards, TICK_INVOCATION_BUDGET ${r.budget}. The self-heal
probes are measured apart, over ${pn.toLocaleString('en')} authorizers (\`SELF_HEAL_INTERVAL=${SCALE_SELF_HEAL_INTERVAL}\`: the first probe of each
due half an hour after its renewal): the simulator finds a probed token's account by walking every
account, on the benchmark's one thread, which at 10,000 accounts is most of the invocations' time.

| tick | refreshed | probed (get_api_domain_ip) | invocations | slowest invocation | all added up | DynamoDB requests | of which due-index queries | heap of one invocation (most) |
|---|---|---|---|---|---|---|---|---|
${row(`all ${n.toLocaleString('en')} due for renewal`, r.refresh)}
${row('nothing due', r.nothingDue)}
${row(`all ${pn.toLocaleString('en')} due for a probe`, r.probe)}

- **Within the timeout**: the slowest invocation of the renewal took ${(r.refresh.run.wallMs / 1000).toFixed(1)} s against the tick's ${TICK_TIMEOUT_MS / 1000} s
  (serverless.yml, refreshTick): ${met(r.refresh.run.wallMs < TICK_TIMEOUT_MS)}. ${r.refresh.run.dispatched} shards dispatched; the most one invocation
  refreshed: ${r.refresh.run.mostRefreshed}; not refreshed: ${others}. One invocation without fan-out would need the ${(r.refresh.run.sumMs / 1000).toFixed(0)} s
  of all of them added up.
- **Per authorizer renewed**: ${renewal.requests.toFixed(2)} DynamoDB requests besides the tick's constant (${renewal.commands}):
  ${renewal.rru.toFixed(2)} RRU and ${renewal.wru.toFixed(2)} WRU (the lease, the ledger count and the fenced write, which moves the item
  in gsi1; the read is the authorizer's principal row, which the registry caches 30 s: cold in every tick); WeChat:
  ${(r.refresh.wechat.authorizerToken / n).toFixed(2)} api_authorizer_token calls each (and ${r.refresh.wechat.componentToken} component token fetch for all of them).
- **Per authorizer probed**: ${probe.requests.toFixed(2)} requests (${probe.commands}), ${probe.rru.toFixed(2)} RRU and ${probe.wru.toFixed(2)} WRU;
  ${(r.probe.wechat.probes / pn).toFixed(2)} get_api_domain_ip calls (no quota); the slowest invocation ${(r.probe.run.wallMs / 1000).toFixed(1)} s.
- **Nothing due**: ${r.nothingDue.meter.requests} requests (${r.nothingDue.run.queries} due-index queries), whatever the number of authorizers.
- **Afterwards**: of a sample of ${r.sampled} authorizers, ${r.sampleBad} with a stored token WeChat refuses or a stored refresh token
  that is not WeChat's current one.
- Registering the ${n.toLocaleString('en')} took ${(r.registerMs / 1000).toFixed(0)} s here (${(r.register.requests / n).toFixed(2)} DynamoDB requests and ${((r.register.wru + r.register.gsiWru) / n).toFixed(2)} WRU each, the
  claim of the code included); this benchmark ${(r.wallMs / 1000).toFixed(0)} s in all.
`;
}
