/**
 * The tick with its self-invocation fan-out, as the benchmarks run it (bench/scale.ts,
 * bench/platform-scale.ts): one container (a hub of its own) per invocation; a dispatched shard is
 * queued and run after the invocation that dispatched it, one invocation at a time, each timed on
 * its own. Lambda runs them at once, each with its own CPU, so the tick is done when the slowest is
 * (here they would share one process, one dynalite and two cores, and time each other instead of
 * themselves).
 */
import type { Hub, HubDeps } from '../lib/hub.js';
import type { TickReport } from '../lib/scheduler/scheduler.js';

/** The tick function's timeout (serverless.yml, refreshTick). */
export const TICK_TIMEOUT_MS = 60_000;

export interface Invocation {
  report: TickReport;
  wallMs: number;
  requests: number;
  heapMb: number;
}

export interface Run {
  /** The slowest invocation's wall time: the tick's, when Lambda runs them at once. */
  wallMs: number;
  /** All invocations' wall times added up (run one after the other here). */
  sumMs: number;
  mostRefreshed: number;
  requests: number;
  refreshed: number;
  invocations: number;
  dispatched: number;
  queries: number;
  peakHeapMb: number;
  each: Invocation[];
}

type TickOptions = Parameters<Hub['tickReport']>[0];

export class FanOut {
  #queue: (() => Promise<void>)[] = [];
  #each: Invocation[] = [];

  /**
   * @param newHub a new container, given the dispatch its tick must use
   * @param requests the DynamoDB requests made so far by every container (each invocation's are the difference)
   */
  constructor(
    private readonly newHub: (dispatch: NonNullable<HubDeps['dispatch']>) => Hub,
    private readonly requests: () => number,
  ) {}

  /** A container whose dispatched shards run as invocations of their own (queued for the run under way). */
  invocation(): Hub {
    return this.newHub(async (shards, dueBy) => {
      for (const shard of shards) this.#queue.push(() => this.#timed(this.invocation(), { shards: [shard], dueBy }));
    });
  }

  /** One scheduled tick and every invocation it fans out to; `coordinator`: a warm container to run the scheduled one. */
  async tick(coordinator?: Hub): Promise<Run> {
    this.#queue = [];
    this.#each = [];
    await this.#timed(coordinator ?? this.invocation(), {});
    while (this.#queue.length) await this.#queue.shift()!();
    const each = this.#each;
    const reports = each.map((e) => e.report);
    const refreshed = (r: TickReport) => r.outcomes.filter((o) => o.outcome === 'refreshed').length;
    return {
      wallMs: Math.max(...each.map((e) => e.wallMs)),
      sumMs: each.reduce((n, e) => n + e.wallMs, 0),
      requests: each.reduce((n, e) => n + e.requests, 0),
      refreshed: reports.reduce((n, r) => n + refreshed(r), 0),
      invocations: reports.length,
      dispatched: reports.reduce((n, r) => n + r.dispatched.length, 0),
      queries: reports.reduce((n, r) => n + r.queries, 0),
      peakHeapMb: Math.max(...each.map((e) => e.heapMb)),
      mostRefreshed: Math.max(...reports.map(refreshed)),
      each,
    };
  }

  async #timed(hub: Hub, options: TickOptions): Promise<void> {
    await hub.syncApps(); // a warm container: its configuration already synced (not this tick's cost)
    const r0 = this.requests();
    const base = process.memoryUsage().heapUsed;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 10);
    const t0 = performance.now();
    const report = await hub.tickReport(options);
    clearInterval(sampler);
    this.#each.push({ report, wallMs: performance.now() - t0, requests: this.requests() - r0, heapMb: (Math.max(peak, process.memoryUsage().heapUsed) - base) / 2 ** 20 });
  }
}
