import type { Logger } from '@aws-lambda-powertools/logger';
import type { HubApp } from './apps.js';
import type { Clock } from './clock.js';
import { ForcedRefreshBudgetError, RefreshInProgressError, UpstreamLimitError } from './errors.js';
import { failureDecision, type FailureDecision } from './failure.js';
import { fingerprint } from './fingerprint.js';
import { DependencyRejectedError, type CredentialKind, type PlannedFetch } from './kinds/kind.js';
import { tokenHash } from './identify.js';
import { OVERLAP_MS } from './policy.js';
import type { HubMetric, ProtocolSettings, RefreshRequest, RefreshResult } from './protocol/types.js';
import type { Ledger, QuotaCharge } from './quota/ledger.js';
import { StoreUnavailableError } from './store/errors.js';
import { afterFailure, afterWrite, type ScheduleSettings } from './scheduler/schedule.js';
import type { CredentialItem, CredentialKey, CredentialStore, QuotaCall, TokenWrite } from './store/store.js';

/** What the protocol and a lease's holder work with. */
export interface LeaseDeps {
  store: CredentialStore;
  ledger: Ledger;
  clock: Clock;
  logger: Logger;
  settings: ProtocolSettings;
  count: (metric: HubMetric, app: HubApp, kind: CredentialKind) => void;
  /** How the due index treats a kind of a principal (lib/scheduler/schedule.ts). */
  scheduling: (app: HubApp, kind: CredentialKind) => ScheduleSettings;
  /** Whether this credential's values go into the token-hash index (the compat paths look them up). */
  indexed: (app: HubApp, kind: CredentialKind) => boolean;
}

/** Attempts at the fenced write after WeChat answered, while the lease lasts. */
const WRITE_ATTEMPTS = 5;

/**
 * What the holder of a lease does (docs/protocol.md, steps 6-8): count the call as it is made, fetch,
 * write under the fence (tried again while the store is unavailable and the lease lasts), or record
 * the failure. lib/protocol.ts decides when a lease is taken; this is what happens under it.
 */
export class HeldLease {
  readonly #store: CredentialStore;
  readonly #ledger: Ledger;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #settings: ProtocolSettings;
  readonly #count: (metric: HubMetric, app: HubApp, kind: CredentialKind) => void;
  readonly #scheduling: LeaseDeps['scheduling'];
  readonly #indexed: LeaseDeps['indexed'];

  constructor(options: LeaseDeps) {
    this.#scheduling = options.scheduling;
    this.#indexed = options.indexed;
    this.#store = options.store;
    this.#ledger = options.ledger;
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#settings = options.settings;
    this.#count = options.count;
  }

  async fetchAndWrite(
    req: RefreshRequest,
    key: CredentialKey,
    owner: string,
    planned: PlannedFetch,
    at: {
      deadline: number;
      leaseUntil: number;
      dependencyValue: string | undefined;
      /** A rotation WeChat could not confirm: it spends the day's unverified budget too. */
      unverified: boolean;
      /** The second call of the same fetch (after its dependency was healed): counted as a retry. */
      again: boolean;
    },
  ): Promise<RefreshResult> {
    const { app, kind, forced } = req;
    const old = planned.old;
    const charges = kind.charges(app, planned);
    // Counted as the call is made (after the dependency was had): the ledger counts what WeChat receives.
    let counted: QuotaCall[];
    try {
      if (at.unverified) await this.#ledger.charge([unverifiedRow(app, kind, this.#settings.unverifiedForcedDailyBudget)], this.#clock.now());
      counted = at.again ? await this.#ledger.recount(charges, this.#clock.now()) : await this.#ledger.charge(charges, this.#clock.now());
    } catch (error) {
      await this.#store.releaseLease(key, owner).catch(() => undefined);
      const refusal = error instanceof UpstreamLimitError && error.message.startsWith(UNVERIFIED_LIMIT)
        ? new ForcedRefreshBudgetError(error.retryAfterSeconds, "today's rotations WeChat could not confirm (UNVERIFIED_DAILY_BUDGET) are spent for this app")
        : error;
      if (refusal instanceof ForcedRefreshBudgetError) this.#count('ForcedRefreshRefused', app, kind);
      throw refusal;
    }

    let fetched;
    try {
      fetched = await kind.fetch(app, {
        ...planned,
        deadline: at.deadline,
        now: () => this.#clock.now(),
        onRetry: async () => {
          counted = await this.#ledger.recount(charges, this.#clock.now());
        },
        onUnsent: () => this.#ledger.refund(counted),
        dependencyValue: at.dependencyValue,
      });
    } catch (error) {
      if (error instanceof DependencyRejectedError) throw error; // not this kind's failure: the caller heals the dependency
      await this.#recordFailure(req, key, owner, old, error);
      throw error;
    }

    const now = this.#clock.now();
    // A rotation because WeChat rejected the value (a forced refresh, the tick's probe) keeps no
    // previous value: WeChat no longer accepts it. Every rotation remembers the value it replaced
    // until its own expiry, so that the compat pass-through can forward a call still carrying it
    // with the current value (docs/compat.md).
    const rejected = forced || req.cause === 'self_heal';
    const replaced = old?.value !== undefined && old.value !== fetched.value && (old.expiresAt ?? 0) > now;
    const keepPrevious = replaced && !rejected;
    const write: TokenWrite = {
      owner,
      seenVersion: old?.version ?? 0,
      value: fetched.value,
      expiresAt: now + fetched.expiresIn * 1000,
      obtainedAt: now,
      previousValue: keepPrevious ? old!.value : undefined,
      previousValidUntil: keepPrevious ? Math.min(now + OVERLAP_MS, old!.expiresAt!) : undefined,
      replacedValue: replaced ? old!.value : undefined,
      replacedUntil: replaced ? old!.expiresAt : undefined,
      secretFingerprint: fetched.sourceFingerprint,
      refreshedBy: req.cause,
      ...(fetched.state ? { state: fetched.state } : {}),
      schedule: afterWrite(key, { expiresAt: now + fetched.expiresIn * 1000, obtainedAt: now }, this.#scheduling(app, kind)),
    };
    if (this.#indexed(app, kind)) {
      // Before the value is written, so that every value anyone is handed is in the index (an entry
      // of a value whose write then failed points at a credential that never held it: a miss).
      await this.#store.indexToken(tokenHash(write.value), { app: app.name, kind: kind.id, until: write.expiresAt }).catch((error: unknown) => {
        this.#log.warn('could not index the new value for the compat paths', { app: app.name, kind: kind.id, error: error instanceof Error ? error.name : 'unknown' });
      });
    }
    const written = await this.#write(req, key, owner, old, write, at.leaseUntil);
    if (!written) {
      // The lease lapsed while we fetched and someone else wrote: theirs stands, ours is dropped.
      this.#log.warn('fenced write rejected: lease lost', { app: app.name, kind: kind.id, fingerprint: fingerprint(fetched.value) });
      this.#count('LeaseLost', app, kind);
      const stored = await this.#store.read(key);
      if (!stored) throw new RefreshInProgressError();
      return { item: stored, wrote: false };
    }
    this.#count('TokenRefreshed', app, kind);
    this.#log.info(`${kind.id} refreshed`, {
      app: app.name,
      kind: kind.id,
      fingerprint: fingerprint(fetched.value),
      expiresIn: fetched.expiresIn,
      version: written.version,
      forced,
    });
    return { item: written, wrote: true };
  }

  /**
   * The fenced write of a value WeChat issued, tried again with the same fence while the store is
   * unavailable and the lease lasts (the value is lost otherwise, and the old one dies 5 minutes
   * after it was issued). A failure that persists is recorded, best effort, which gives the lease
   * back: waiters then report it instead of fetching again.
   */
  async #write(req: RefreshRequest, key: CredentialKey, owner: string, old: CredentialItem | undefined, write: TokenWrite, leaseUntil: number): Promise<CredentialItem | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        const written = await this.#store.writeToken(key, write);
        if (written || attempt === 1) return written;
        // Fenced off on a second try: the earlier try may have been applied with its answer lost.
        const stored = await this.#store.read(key);
        return stored?.writtenBy === owner && stored.version === write.seenVersion + 1 ? stored : undefined;
      } catch (error) {
        const wait = Math.min(1_000, 100 * 2 ** attempt);
        if (!(error instanceof StoreUnavailableError) || attempt >= WRITE_ATTEMPTS || this.#clock.now() + wait >= leaseUntil) {
          this.#log.error('could not store the value WeChat issued', { app: req.app.name, kind: req.kind.id, fingerprint: fingerprint(write.value), attempts: attempt });
          await this.#recordFailure(req, key, owner, old, error).catch(() => undefined);
          throw error;
        }
        await this.#clock.sleep(wait);
      }
    }
  }

  /** Decide and record a failed refresh (the error, a block, the backoff), which gives the lease back. */
  async #recordFailure(req: RefreshRequest, key: CredentialKey, owner: string, old: CredentialItem | undefined, error: unknown): Promise<void> {
    const at = this.#clock.now();
    const secret = await req.app.getSecret().catch(() => undefined);
    const d = failureDecision(error, old, at, this.#settings, secret);
    const backoffSource = d.configuration ? await req.kind.sourceFingerprint?.(req.app) : undefined;
    await this.record(req, key, owner, old, d, backoffSource, error);
  }

  /** Record a failure, decided here or by the protocol (a dependency it could not replace), under the lease `owner` holds; this gives it back. */
  async record(req: RefreshRequest, key: CredentialKey, owner: string, old: CredentialItem | undefined, d: FailureDecision, backoffSource?: string, error?: unknown): Promise<void> {
    const { app, kind } = req;
    const schedule = afterFailure(key, { at: d.lastError.at });
    await this.#store.recordFailure(key, { owner, error: d.lastError, blockedUntil: d.blockedUntil, backoffUntil: d.backoffUntil, backoffSource, schedule });
    this.#count('TokenRefreshFailed', app, kind);
    this.#log.error(`${kind.id} refresh failed`, {
      app: app.name, kind: kind.id, code: d.lastError.code, reason: d.lastError.message, failures: (old?.failures ?? 0) + 1,
      ...(d.lastError.code === 'internal' && error instanceof Error ? { error: error.name } : {}),
    });
  }
}

const UNVERIFIED_LIMIT = "the day's rotations WeChat could not confirm";

/**
 * The ledger row of rotations WeChat could not confirm (no probe, or it could not answer), per app
 * and kind and quota day: one per rotation, whatever its calls, apart from the forced budget.
 */
function unverifiedRow(app: HubApp, kind: CredentialKind, budget: number): QuotaCharge {
  return { scope: app.name, api: `unverified_${kind.id}`, period: 'day', limit: budget, limitName: UNVERIFIED_LIMIT };
}
