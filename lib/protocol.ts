import { randomUUID } from 'node:crypto';
import type { HubApp } from './apps.js';
import { AppBlockedError, ForcedRefreshBudgetError, NoTokenAvailableError, RefreshInProgressError } from './errors.js';
import { dependencyFailureDecision } from './failure.js';
import { HeldLease, type LeaseDeps } from './held-lease.js';
import { fingerprint } from './fingerprint.js';
import { DependencyRejectedError, type CredentialKind, type PlannedFetch } from './kinds/kind.js';
import { errorCode, recentlyValidated, seconds } from './policy.js';
import { awaiting, entry, forcedUnderLease, healed, healingLeaseUntil, waitPolls, type Verdict } from './protocol/transition.js';
import type { RefreshRequest, RefreshResult } from './protocol/types.js';
import type { CredentialItem, CredentialKey } from './store/store.js';
import { withLease, type LeaseHandle } from './store/with-lease.js';

export type { HubMetric, ProtocolSettings, RefreshRequest, RefreshResult } from './protocol/types.js';

export const credentialKey = (app: HubApp, kind: CredentialKind): CredentialKey => ({ app: app.name, kind: kind.id });

/**
 * The refresh protocol (docs/protocol.md), for any credential kind: consistent read, dependency,
 * lease, quota count, upstream fetch, fenced write. Callers in other containers meet at the lease and
 * wait for its holder's write; a holder that stalled past its lease cannot overwrite a newer value.
 * Everything done under a lease is one kind's own upstream call (with its retries) and its write,
 * inside the lease by the holder's clock; others take a lapsed lease over only `leaseSkewMs` later.
 *
 * What to do is decided by the pure transitions of lib/protocol/transition.ts; this class does the
 * I/O they call for, in their order, and the holder's work runs under `withLease` (lib/store/with-lease.ts).
 */
export class LeaseProtocol {
  readonly #d: LeaseDeps;
  readonly #holder: HeldLease;

  constructor(deps: LeaseDeps) {
    this.#d = deps;
    this.#holder = new HeldLease(deps);
  }

  /** One pass of the protocol, retried from the top when a lease holder vanished without writing or the dependency was replaced. */
  async refresh(req: RefreshRequest): Promise<RefreshResult> {
    const { app, kind } = req;
    const s = this.#d.settings;
    const key = credentialKey(app, kind);
    const startedAt = this.#d.clock.now();
    for (let round = 0; round < 3; round++) {
      const item = round === 0 && req.justRead ? req.justRead.item : await this.#d.store.read(key);
      const r = { needed: req.needed(item), cause: req.cause, probe: req.probe };
      const now = this.#d.clock.now();
      let d = entry(item, r, now);
      if (d.do === 'backoff' && d.unlessSourceChanged !== undefined && kind.sourceFingerprint) {
        d = entry(item, { ...r, sourceNow: { fingerprint: await kind.sourceFingerprint(app) } }, now);
      }
      switch (d.do) {
        case 'done':
          return { item: d.item!, wrote: false };
        case 'blocked':
          throw new AppBlockedError('WeChat refuses this app until the block ends', d.retryAfter, d.lastError);
        case 'backoff':
          throw new NoTokenAvailableError('WeChat refused or failed recently; not asking again yet', d.retryAfter, d.lastError);
        case 'validated':
          return { item: d.item, wrote: false }; // another refresher just asked WeChat about this value
      }
      // The dependency (a ticket's access token) is had before the lease: a refresh of it never runs
      // inside this lease, and a failure of it charges nothing for this kind.
      const dependencyValue = kind.dependsOn === undefined ? undefined : await req.dependencies.value();
      // Timed from here: having the dependency may have taken a while.
      const leasedAt = this.#d.clock.now();
      const { seenVersion, probed } = d;
      const taken = await withLease(this.#d.store, key, { owner: randomUUID(), seenVersion, now: leasedAt, leaseMs: s.leaseMs, skewMs: s.leaseSkewMs }, (lease) =>
        this.#holding(req, lease, item, probed, dependencyValue, leasedAt));
      if (taken.leased) return taken.value;
      const other = await this.#awaitOtherRefresher(key, seenVersion, startedAt, req.needed, req.cause === 'pushed');
      if (other) return { item: other, wrote: false };
    }
    throw new RefreshInProgressError();
  }

  /** What this call does once it holds the lease: probe (forced), fetch and write, healing a rejected dependency once. */
  async #holding(req: RefreshRequest, lease: LeaseHandle, item: CredentialItem | undefined, probed: CredentialItem | undefined, dependencyValue: string | undefined, leasedAt: number): Promise<RefreshResult> {
    const { app, kind } = req;
    const s = this.#d.settings;
    const planned: PlannedFetch = { forced: req.forced, old: item, forcedDailyBudget: s.forcedDailyBudget };
    let unverified = false;
    if (req.forced) {
      if (probed && req.probe) {
        // Another caller may have probed and released between our read and our lease (the version
        // does not move on a probe): what it learnt stands, WeChat is not asked again.
        const now = await this.#d.store.read(lease.key);
        if (now && now.value === probed.value && recentlyValidated(now, this.#d.clock.now(), req.probe.ttlMs)) {
          await lease.release().catch(() => undefined);
          return { item: { ...now, leaseOwner: undefined, leaseUntil: undefined }, wrote: false };
        }
      }
      const verdict: Verdict = probed ? await this.#stillAccepted(app, kind, probed.value!, leasedAt) : 'unknown';
      const step = forcedUnderLease(lease.key, verdict, probed, item, this.#d.clock.now(), s, this.#d.scheduling(app, kind));
      if (step.do === 'release') {
        await lease.release(step.validatedAt, step.schedule);
        return { item: step.item, wrote: false };
      }
      if (step.do === 'refuse') {
        // A rotation WeChat could not confirm, of a value too young: refused with 429 and Retry-After.
        await lease.release().catch(() => undefined);
        this.#d.count('ForcedRefreshRefused', app, kind);
        throw new ForcedRefreshBudgetError(step.retryAfter, step.message, 'young');
      }
      unverified = step.unverified;
    }
    req.beforeFetch?.();
    try {
      return await this.#holder.fetchAndWrite(req, lease, planned, { deadline: leasedAt + s.upstreamDeadlineMs, leaseUntil: leasedAt + s.leaseMs, dependencyValue, unverified, again: false });
    } catch (error) {
      if (!(error instanceof DependencyRejectedError)) throw error;
      return this.#healDependency(req, lease, planned, error);
    }
  }

  /**
   * WeChat rejected the value this kind is fetched with (a ticket's token). The lease is kept
   * (renewed) while that value goes through the guarded forced refresh, so that other containers
   * keep waiting for this one rather than fetching with the same dead token; then the call is made
   * once more under a renewed lease with a fresh deadline. Whatever stops it is recorded as this
   * kind's failure (which gives the lease back and starts a backoff).
   */
  async #healDependency(req: RefreshRequest, lease: LeaseHandle, planned: PlannedFetch, rejected: DependencyRejectedError): Promise<RefreshResult> {
    const s = this.#d.settings;
    // Recorded as this kind's failure (lease released, backoff), so that reads serve what they have
    // or answer 503 with the reason, and do not call WeChat with the dead value again before it ends.
    // When the record cannot be made, withLease gives the lease back.
    const fail = async (why: Parameters<typeof dependencyFailureDecision>[2], cause: DependencyRejectedError = rejected): Promise<never> => {
      const now = this.#d.clock.now();
      const d = dependencyFailureDecision(req.kind, cause, why, planned.old, now, s);
      await this.#holder.record(req, lease, planned.old, d).catch(() => undefined);
      throw new NoTokenAvailableError(d.lastError.message, seconds(d.backoffUntil - now), d.lastError);
    };
    await lease.renew(healingLeaseUntil(this.#d.clock.now(), s)).catch(() => false);
    const outcome = await req.dependencies.rejected(rejected.stale).then((fresh) => ({ fresh }), (error: unknown) => ({ error }));
    const next = healed(rejected.stale, outcome);
    if (next.do === 'fail') return fail(next.why);
    const again = this.#d.clock.now();
    if (!(await lease.renew(again + s.leaseMs).catch(() => false))) {
      const stored = await this.#d.store.read(lease.key); // taken over meanwhile: the other holder's result stands
      if (stored && !req.needed(stored)) return { item: stored, wrote: false };
      throw new RefreshInProgressError();
    }
    try {
      return await this.#holder.fetchAndWrite(req, lease, planned, { deadline: again + s.upstreamDeadlineMs, leaseUntil: again + s.leaseMs, dependencyValue: next.value, unverified: false, again: true });
    } catch (error) {
      if (error instanceof DependencyRejectedError) return fail('rejected_again', error);
      throw error;
    }
  }

  /** Lost the lease race: wait for the holder's write. Undefined means the lease lapsed unused (or another round is needed). */
  async #awaitOtherRefresher(key: CredentialKey, seenVersion: number, startedAt: number, needed: RefreshRequest['needed'], pushed: boolean): Promise<CredentialItem | undefined> {
    const s = this.#d.settings;
    for (let i = 0, polls = waitPolls(s); i < polls; i++) {
      const item = await this.#d.store.read(key);
      const w = awaiting(item, { seenVersion, startedAt, needed, pushed }, this.#d.clock.now(), s.leaseSkewMs);
      if (w.do === 'done') return w.item;
      if (w.do === 'retry' || w.do === 'take_over') return undefined;
      if (w.do === 'failed') throw new NoTokenAvailableError('WeChat did not issue a token', w.retryAfter, w.lastError);
      await this.#d.clock.sleep(s.pollIntervalMs * (0.5 + Math.random()));
    }
    throw new RefreshInProgressError();
  }

  /**
   * Whether WeChat still accepts a value, by the kind's probe (no quota spent): 'unknown' when the
   * kind has none or WeChat could not be asked (the rotation then falls under the unverified rules).
   */
  async #stillAccepted(app: HubApp, kind: CredentialKind, value: string, now: number): Promise<Verdict> {
    if (!kind.probe) return 'unknown';
    try {
      const valid = await kind.probe(app, value, now + Math.floor(this.#d.settings.upstreamDeadlineMs / 3));
      this.#d.logger.info('forced refresh: probed the current value', { app: app.name, kind: kind.id, fingerprint: fingerprint(value), valid });
      return valid ? 'valid' : 'invalid';
    } catch (error) {
      this.#d.logger.warn('forced refresh: could not probe the current value', { app: app.name, kind: kind.id, code: errorCode(error) });
      return 'unknown';
    }
  }
}
