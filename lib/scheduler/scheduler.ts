import type { Logger } from '@aws-lambda-powertools/logger';
import type { CredentialStore, DueEntry } from '../store/store.js';
import type { TickOutcome } from './due.js';
import { DUE_SHARDS } from './shards.js';

/** What one tick invocation did: its outcomes, the shards it handed on, what it saw of the rest. */
export interface TickReport {
  outcomes: TickOutcome[];
  /** Shards given to invocations of their own (fan-out), or to a continuation of this one. */
  dispatched: number[];
  /** The least life left (seconds) among the credentials this invocation saw after its work; undefined: none seen. */
  minSecondsLeft?: number;
  /** Due index queries this invocation made (one per shard and page). */
  queries: number;
}

export interface SchedulerDeps {
  store: CredentialStore;
  /**
   * Refresh one principal's due credentials, in its kinds' order (a ticket after the token it is
   * fetched with); one failing stops no other.
   */
  refreshPrincipal(app: string, entries: readonly DueEntry[]): Promise<{ outcomes: TickOutcome[]; leastExpiresAt?: number }>;
  /** Hand shards to invocations of their own (Lambda: an asynchronous invocation of this function per shard). */
  /** `dueBy`: the dispatching invocation's horizon, which the invocations take as theirs (what came due after is the next tick's). */
  dispatch?(shards: number[], dueBy: number): Promise<void>;
  now(): number;
  log: Logger;
  settings: {
    /** Principals refreshed at once. */
    concurrency: number;
    /** Due credentials one invocation takes on; past it, whole shards are dispatched. */
    invocationBudget: number;
  };
}

/** Entries read per due-index query. */
const PAGE = 100;

/**
 * The scheduled refresh (docs/architecture.md, "Scheduler"): the due index is read per shard, in
 * `dueAt` order, and only what is due is refreshed, principals `concurrency` at a time. With
 * nothing due a tick costs one query per shard, whatever the number of credentials. When more is
 * due than one invocation should take, whole shards are dispatched to invocations of their own.
 */
export class Scheduler {
  constructor(private readonly d: SchedulerDeps) {}

  /**
   * The tick (EventBridge) or one of its dispatched invocations (`shards`, `dueBy`): what is due in
   * those shards (all of them by default) by `dueBy` (now by default). `deadline`: the epoch ms by
   * which this invocation stops taking on work and dispatches what is left of its shards (Lambda's
   * remaining time, less a margin).
   */
  async tick(options: { shards?: readonly number[]; deadline?: number; dueBy?: number } = {}): Promise<TickReport> {
    const shards = options.shards ?? Array.from({ length: DUE_SHARDS }, (_, i) => i);
    // A dispatched invocation takes what was due when it was dispatched, not what failed since (a
    // failure is due again at once: the next tick's, not a continuation's).
    const now = options.dueBy ?? this.d.now();
    const report: TickReport = { outcomes: [], dispatched: [], queries: 0 };
    const seen = new Set<string>();
    const late = () => options.deadline !== undefined && this.d.dispatch !== undefined && this.d.now() >= options.deadline;
    // First page of every shard, at once: one query each when little is due. A shard whose query
    // fails is left for the next tick; the others go on.
    const read = await Promise.allSettled(shards.map(async (shard) => ({ shard, ...(await this.#due(shard, now, undefined, report)) })));
    const firsts = read.flatMap((r, i) => {
      if (r.status === 'fulfilled') return [r.value];
      this.d.log.error('tick: could not read a shard of the due index; it waits for the next tick', { shard: shards[i], error: r.reason instanceof Error ? r.reason.name : 'unknown' });
      return [];
    });
    let taken = 0;
    const mine: typeof firsts = [];
    const handedOn: number[] = [];
    for (const f of firsts) {
      const load = f.due.length + (f.cursor ? PAGE : 0);
      if (load === 0) continue;
      // The first shard with work is always this invocation's own; others while the budget lasts.
      if (!this.d.dispatch || mine.length === 0 || taken + load <= this.d.settings.invocationBudget) {
        mine.push(f);
        taken += load;
      } else {
        handedOn.push(f.shard);
      }
    }
    if (handedOn.length) {
      this.d.log.info('tick: more is due than one invocation takes; shards dispatched', { shards: handedOn, taken });
      await this.#dispatch(handedOn, now, report);
    }
    let minLeft = Math.min(...firsts.map((f) => f.nextExpiresAt ?? Infinity)) - now;
    const once = (entries: readonly DueEntry[]) => {
      // A credential written during this tick may come up again on a later page: once per tick.
      const fresh = entries.filter((e) => !seen.has(`${e.key.app}#${e.key.kind}`));
      for (const e of fresh) seen.add(`${e.key.app}#${e.key.kind}`);
      return fresh;
    };
    // The first pages of this invocation's shards together, one pool of workers. The first shard's
    // page is always done (progress); past the deadline no other principal is started, and its
    // shard goes to a continuation.
    const unfinished = new Set<number>();
    const first = await this.#refresh(
      mine.flatMap((f, i) => once(f.due).map((entry) => ({ entry, shard: f.shard, must: i === 0 }))),
      report,
      late,
      unfinished,
    );
    minLeft = Math.min(minLeft, first - now);
    for (const f of mine) {
      let cursor = f.cursor;
      while (cursor && !unfinished.has(f.shard)) {
        if (late()) {
          unfinished.add(f.shard);
          break;
        }
        const page = await this.#due(f.shard, now, cursor, report);
        minLeft = Math.min(minLeft, (page.nextExpiresAt ?? Infinity) - now);
        const left = await this.#refresh(once(page.due).map((entry) => ({ entry, shard: f.shard, must: false })), report, late, unfinished);
        minLeft = Math.min(minLeft, left - now);
        cursor = page.cursor;
      }
    }
    if (unfinished.size) {
      // Out of time: the rest of these shards goes to invocations of their own (from their start:
      // what was done here is no longer due by `now`).
      this.d.log.info('tick: out of time; the rest of the shards dispatched', { shards: [...unfinished] });
      await this.#dispatch([...unfinished], now, report);
    }
    if (Number.isFinite(minLeft)) report.minSecondsLeft = Math.max(0, Math.floor(minLeft / 1000));
    return report;
  }

  async #dispatch(shards: number[], dueBy: number, report: TickReport): Promise<void> {
    report.dispatched.push(...shards);
    await this.d.dispatch!(shards, dueBy);
  }

  /** One page of a shard: the entries due by `now`, and whether more may be (`cursor`); the first one not due tells the next expiry. */
  async #due(shard: number, now: number, cursor: string | undefined, report: TickReport): Promise<{ due: DueEntry[]; cursor?: string; nextExpiresAt?: number }> {
    report.queries++;
    const page = await this.d.store.queryDue(shard, { limit: PAGE, cursor });
    const due = page.entries.filter((e) => (e.item.dueAt ?? Infinity) <= now);
    const notDue = page.entries.find((e) => (e.item.dueAt ?? Infinity) > now);
    // Everything on the page due and more pages: go on; the first entry not due ends the shard.
    return { due, cursor: notDue ? undefined : page.cursor, nextExpiresAt: notDue?.item.expiresAt };
  }

  /**
   * Refresh the entries, grouped by principal, `concurrency` principals at a time; the least expiry
   * among them after. Once `late()`, a principal not marked `must` is not started: its shard is
   * added to `unfinished`.
   */
  async #refresh(entries: readonly { entry: DueEntry; shard: number; must: boolean }[], report: TickReport, late: () => boolean, unfinished: Set<number>): Promise<number> {
    const byPrincipal = new Map<string, { entries: DueEntry[]; shard: number; must: boolean }>();
    for (const { entry, shard, must } of entries) {
      const g = byPrincipal.get(entry.key.app) ?? { entries: [], shard, must };
      g.entries.push(entry);
      g.must ||= must;
      byPrincipal.set(entry.key.app, g);
    }
    const groups = [...byPrincipal];
    let next = 0;
    let least = Infinity;
    const worker = async () => {
      while (next < groups.length) {
        const [app, group] = groups[next++]!;
        if (!group.must && (unfinished.has(group.shard) || late())) {
          unfinished.add(group.shard);
          continue;
        }
        try {
          const done = await this.d.refreshPrincipal(app, group.entries);
          report.outcomes.push(...done.outcomes);
          least = Math.min(least, done.leastExpiresAt ?? Infinity);
        } catch (error) {
          this.d.log.error('tick: a principal could not be refreshed', { app, error: error instanceof Error ? error.name : 'unknown' });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.d.settings.concurrency, groups.length) }, worker));
    return least;
  }
}
