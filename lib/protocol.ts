import { randomUUID } from 'node:crypto';
import type { HubApp } from './apps.js';
import { AppBlockedError, ForcedRefreshBudgetError, NoTokenAvailableError, RefreshInProgressError } from './errors.js';
import { dependencyFailureDecision } from './failure.js';
import { HeldLease, type LeaseDeps } from './held-lease.js';
import { fingerprint } from './fingerprint.js';
import { DependencyRejectedError, type CredentialKind, type PlannedFetch } from './kinds/kind.js';
import { errorCode, recentlyValidated, retryAfterFor, seconds } from './policy.js';
import { afterProbe } from './scheduler/schedule.js';
import type { CredentialItem, CredentialKey } from './store/store.js';
import type { RefreshRequest, RefreshResult } from './protocol/types.js';

export type { HubMetric, ProtocolSettings, RefreshRequest, RefreshResult } from './protocol/types.js';

export const credentialKey = (app: HubApp, kind: CredentialKind): CredentialKey => ({ app: app.name, kind: kind.id });

/**
 * The refresh protocol (docs/protocol.md), for any credential kind: consistent read, dependency,
 * lease, quota count, upstream fetch, fenced write. Callers in other containers meet at the lease and
 * wait for its holder's write; a holder that stalled past its lease cannot overwrite a newer value.
 * Everything done under a lease is one kind's own upstream call (with its retries) and its write,
 * inside the lease by the holder's clock; others take a lapsed lease over only `leaseSkewMs` later.
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
    const key = credentialKey(app, kind);
    const startedAt = this.#d.clock.now();
    for (let round = 0; round < 3; round++) {
      const item = round === 0 && req.justRead ? req.justRead.item : await this.#d.store.read(key);
      if (!req.needed(item)) return { item: item!, wrote: false };
      const now = this.#d.clock.now();
      if (item?.blockedUntil !== undefined && item.blockedUntil > now) {
        throw new AppBlockedError('WeChat refuses this app until the block ends', seconds(item.blockedUntil - now), item.lastError);
      }
      // After a failure only the tick asks WeChat again before the backoff ends (unless, after a
      // configuration error, the secret changed since): every read asking again would only be
      // refused, and WeCom blocks an IP for an hour after too many failed gettoken calls.
      if (req.cause !== 'tick' && req.cause !== 'self_heal' && item?.backoffUntil !== undefined && item.backoffUntil > now && (await this.#sameSource(app, kind, item))) {
        throw new NoTokenAvailableError('WeChat refused or failed recently; not asking again yet', seconds(item.backoffUntil - now), item.lastError);
      }
      const probe = req.probe && item?.value === req.probe.value ? { item, ttlMs: req.probe.ttlMs } : undefined;
      if (probe && recentlyValidated(probe.item, now, probe.ttlMs)) {
        return { item: probe.item, wrote: false }; // another refresher just asked WeChat about this value
      }
      // The dependency (a ticket's access token) is had before the lease: a refresh of it never runs
      // inside this lease, and a failure of it charges nothing for this kind.
      const dependencyValue = kind.dependsOn === undefined ? undefined : await req.dependencies.value();
      // Timed from here: having the dependency may have taken a while.
      const leasedAt = this.#d.clock.now();
      const owner = randomUUID();
      const seenVersion = item?.version ?? 0;
      if (await this.#d.store.acquireLease(key, { owner, seenVersion, now: leasedAt, leaseMs: this.#d.settings.leaseMs, skewMs: this.#d.settings.leaseSkewMs })) {
        return this.#holding(req, key, owner, item, probe?.item, dependencyValue, leasedAt);
      }
      const other = await this.#awaitOtherRefresher(key, seenVersion, startedAt, req.needed);
      if (other) return { item: other, wrote: false };
    }
    throw new RefreshInProgressError();
  }

  /** What this call does once it holds the lease: probe (forced), fetch and write, healing a rejected dependency once. */
  async #holding(req: RefreshRequest, key: CredentialKey, owner: string, item: CredentialItem | undefined, probed: CredentialItem | undefined, dependencyValue: string | undefined, leasedAt: number): Promise<RefreshResult> {
    const { app, kind } = req;
    const s = this.#d.settings;
    const planned: PlannedFetch = { forced: req.forced, old: item, forcedDailyBudget: s.forcedDailyBudget };
    let unverified = false;
    if (req.forced) {
      const verdict = probed ? await this.#stillAccepted(app, kind, probed.value!, leasedAt) : 'unknown';
      if (verdict === 'valid') {
        const validatedAt = this.#d.clock.now();
        const next = afterProbe(key, { expiresAt: probed!.expiresAt!, obtainedAt: probed!.obtainedAt }, validatedAt, this.#d.scheduling(app, kind));
        await this.#d.store.releaseLease(key, owner, validatedAt, next);
        return { item: { ...probed!, validatedAt, leaseOwner: undefined, leaseUntil: undefined }, wrote: false };
      }
      unverified = verdict === 'unknown';
      if (unverified) await this.#unverifiedAllowed(app, kind, key, owner, item);
    }
    req.beforeFetch?.();
    try {
      return await this.#holder.fetchAndWrite(req, key, owner, planned, { deadline: leasedAt + s.upstreamDeadlineMs, leaseUntil: leasedAt + s.leaseMs, dependencyValue, unverified, again: false });
    } catch (error) {
      if (!(error instanceof DependencyRejectedError)) throw error;
      return this.#healDependency(req, key, owner, planned, error);
    }
  }

  /**
   * WeChat rejected the value this kind is fetched with (a ticket's token). The lease is kept
   * (renewed) while that value goes through the guarded forced refresh, so that other containers
   * keep waiting for this one rather than fetching with the same dead token; then the call is made
   * once more under a renewed lease with a fresh deadline. Whatever stops it is recorded as this
   * kind's failure (which gives the lease back and starts a backoff).
   */
  async #healDependency(req: RefreshRequest, key: CredentialKey, owner: string, planned: PlannedFetch, rejected: DependencyRejectedError): Promise<RefreshResult> {
    const s = this.#d.settings;
    // Recorded as this kind's failure (lease released, backoff), so that reads serve what they have
    // or answer 503 with the reason, and do not call WeChat with the dead value again before it ends.
    const fail = async (why: Parameters<typeof dependencyFailureDecision>[2], cause: DependencyRejectedError = rejected): Promise<never> => {
      const now = this.#d.clock.now();
      const d = dependencyFailureDecision(req.kind, cause, why, planned.old, now, s);
      await this.#holder.record(req, key, owner, planned.old, d).catch(() => this.#d.store.releaseLease(key, owner).catch(() => undefined));
      throw new NoTokenAvailableError(d.lastError.message, seconds(d.backoffUntil - now), d.lastError);
    };
    await this.#d.store.renewLease(key, owner, this.#d.clock.now() + 2 * s.leaseMs).catch(() => false);
    let fresh: string;
    try {
      fresh = await req.dependencies.rejected(rejected.stale);
    } catch (error) {
      return fail({ error }); // refused (the token's forced budget, stable_token's spacing) or failed
    }
    // WeChat still accepts it: the same call would be refused the same way.
    if (fresh === rejected.stale) return fail('still_accepted');
    const again = this.#d.clock.now();
    if (!(await this.#d.store.renewLease(key, owner, again + s.leaseMs).catch(() => false))) {
      const stored = await this.#d.store.read(key); // taken over meanwhile: the other holder's result stands
      if (stored && !req.needed(stored)) return { item: stored, wrote: false };
      throw new RefreshInProgressError();
    }
    try {
      return await this.#holder.fetchAndWrite(req, key, owner, planned, { deadline: again + s.upstreamDeadlineMs, leaseUntil: again + s.leaseMs, dependencyValue: fresh, unverified: false, again: true });
    } catch (error) {
      if (error instanceof DependencyRejectedError) return fail('rejected_again', error);
      throw error;
    }
  }

  async #sameSource(app: HubApp, kind: CredentialKind, item: CredentialItem): Promise<boolean> {
    if (item.backoffSource === undefined || !kind.sourceFingerprint) return true;
    const now = await kind.sourceFingerprint(app);
    return now === undefined || now === item.backoffSource;
  }

  /**
   * A rotation WeChat could not confirm (the kind has no probe, or the probe could not answer): only
   * of a value old enough, so that a report cannot rotate a value just fetched, and under the smaller
   * budget (spent in #fetchAndWrite). Refused with 429 and Retry-After otherwise.
   */
  async #unverifiedAllowed(app: HubApp, kind: CredentialKind, key: CredentialKey, owner: string, item: CredentialItem | undefined): Promise<void> {
    const age = item?.obtainedAt === undefined ? Infinity : this.#d.clock.now() - item.obtainedAt;
    if (age >= this.#d.settings.unverifiedMinAgeMs) return;
    await this.#d.store.releaseLease(key, owner).catch(() => undefined);
    this.#d.count('ForcedRefreshRefused', app, kind);
    throw new ForcedRefreshBudgetError(
      seconds(this.#d.settings.unverifiedMinAgeMs - age),
      `WeChat cannot be asked whether this value is still good, and it was fetched less than ${Math.round(this.#d.settings.unverifiedMinAgeMs / 1000)} s ago: it is rotated on a report only after that`,
      'young',
    );
  }

  /** Lost the lease race: wait for the holder's write. Undefined means the lease lapsed unused. */
  async #awaitOtherRefresher(key: CredentialKey, seenVersion: number, startedAt: number, needed: RefreshRequest['needed']): Promise<CredentialItem | undefined> {
    const { leaseMs, leaseSkewMs, pollIntervalMs } = this.#d.settings;
    // Enough polls to outlast the lease (renewed up to three times its length while a holder heals its
    // dependency) and the skew, even when every jittered wait is the shortest (half the interval).
    const polls = Math.ceil((3 * leaseMs + leaseSkewMs) / (pollIntervalMs * 0.5)) + 5;
    for (let i = 0; i < polls; i++) {
      const item = await this.#d.store.read(key);
      if (item && item.version > seenVersion) return item;
      // WeChat just confirmed the value for another refresher: the answer, if that is all this call needed.
      if (item?.validatedAt !== undefined && item.validatedAt >= startedAt && item.leaseOwner === undefined) return needed(item) ? undefined : item;
      if (item?.lastError && item.lastError.at >= startedAt && item.leaseOwner === undefined) {
        // The holder tried and failed just now: report its failure instead of trying again at once.
        throw new NoTokenAvailableError('WeChat did not issue a token', retryAfterFor(item.lastError), item.lastError);
      }
      if (!item?.leaseUntil || item.leaseUntil + leaseSkewMs < this.#d.clock.now()) return undefined;
      await this.#d.clock.sleep(pollIntervalMs * (0.5 + Math.random()));
    }
    throw new RefreshInProgressError();
  }

  /**
   * Whether WeChat still accepts a value, by the kind's probe (no quota spent): 'unknown' when the
   * kind has none or WeChat could not be asked (the rotation then falls under the unverified rules).
   */
  async #stillAccepted(app: HubApp, kind: CredentialKind, value: string, now: number): Promise<'valid' | 'invalid' | 'unknown'> {
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
