import type { Logger } from '@aws-lambda-powertools/logger';
import type { HubApp } from './apps.js';
import type { Clock } from './clock.js';
import { ForcedRefreshBudgetError, RefreshInProgressError } from './errors.js';
import { failureDecision, type FailureDecision } from './failure.js';
import { fingerprint } from './fingerprint.js';
import { DependencyRejectedError, type CredentialKind, type PlannedFetch } from './kinds/kind.js';
import { tokenHash } from './identify.js';
import { chargeRefusal, failed, unverifiedRow, written } from './protocol/transition.js';
import type { HubMetric, ProtocolSettings, RefreshRequest, RefreshResult } from './protocol/types.js';
import type { Ledger } from './quota/ledger.js';
import { StoreUnavailableError } from './store/errors.js';
import type { ScheduleSettings } from './scheduler/schedule.js';
import type { CredentialItem, CredentialStore, QuotaCall } from './store/store.js';
import type { LeaseHandle, LeaseWrite } from './store/with-lease.js';

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
 * What the holder of a lease does (docs/protocol.md, steps 6-8), under `withLease`: count the call
 * as it is made, fetch, write under the fence (tried again while the store is unavailable and the
 * lease lasts), or record the failure. What is written or recorded is decided by the transitions
 * (lib/protocol/transition.ts: `written`, `failed`); lib/protocol.ts decides when a lease is taken.
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
    lease: LeaseHandle,
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
      await lease.release().catch(() => undefined);
      const refusal = chargeRefusal(error);
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
      await this.#recordFailure(req, lease, old, error);
      throw error;
    }

    const write = written(lease.key, old, fetched, this.#clock.now(), req, this.#scheduling(app, kind));
    if (this.#indexed(app, kind)) {
      // Before the value is written, so that every value anyone is handed is in the index (an entry
      // of a value whose write then failed points at a credential that never held it: a miss).
      await this.#store.indexToken(tokenHash(write.value), { app: app.name, kind: kind.id, until: write.expiresAt }).catch((error: unknown) => {
        this.#log.warn('could not index the new value for the compat paths', { app: app.name, kind: kind.id, error: error instanceof Error ? error.name : 'unknown' });
      });
    }
    const stored = await this.#write(req, lease, old, write, at.leaseUntil);
    if (!stored) {
      // The lease lapsed while we fetched and someone else wrote: theirs stands, ours is dropped.
      this.#log.warn('fenced write rejected: lease lost', { app: app.name, kind: kind.id, fingerprint: fingerprint(fetched.value) });
      this.#count('LeaseLost', app, kind);
      const theirs = await this.#store.read(lease.key);
      if (!theirs) throw new RefreshInProgressError();
      return { item: theirs, wrote: false };
    }
    this.#count('TokenRefreshed', app, kind);
    this.#log.info(`${kind.id} refreshed`, {
      app: app.name,
      kind: kind.id,
      fingerprint: fingerprint(fetched.value),
      expiresIn: fetched.expiresIn,
      version: stored.version,
      forced,
    });
    return { item: stored, wrote: true };
  }

  /**
   * The fenced write of a value WeChat issued, tried again with the same fence while the store is
   * unavailable and the lease lasts (the value is lost otherwise, and the old one dies 5 minutes
   * after it was issued); the lease's handle recognises a try applied with its answer lost. A
   * failure that persists is recorded, best effort, which gives the lease back: waiters then report
   * it instead of fetching again.
   */
  async #write(req: RefreshRequest, lease: LeaseHandle, old: CredentialItem | undefined, write: LeaseWrite, leaseUntil: number): Promise<CredentialItem | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await lease.write(write);
      } catch (error) {
        const wait = Math.min(1_000, 100 * 2 ** attempt);
        if (!(error instanceof StoreUnavailableError) || attempt >= WRITE_ATTEMPTS || this.#clock.now() + wait >= leaseUntil) {
          this.#log.error('could not store the value WeChat issued', { app: req.app.name, kind: req.kind.id, fingerprint: fingerprint(write.value), attempts: attempt });
          await this.#recordFailure(req, lease, old, error).catch(() => undefined);
          throw error;
        }
        await this.#clock.sleep(wait);
      }
    }
  }

  /** Decide and record a failed refresh (the error, a block, the backoff), which gives the lease back. */
  async #recordFailure(req: RefreshRequest, lease: LeaseHandle, old: CredentialItem | undefined, error: unknown): Promise<void> {
    const at = this.#clock.now();
    const secret = await req.app.getSecret().catch(() => undefined);
    const d = failureDecision(error, old, at, this.#settings, secret, req.kind.failurePolicy?.(error));
    const backoffSource = d.configuration ? await req.kind.sourceFingerprint?.(req.app) : undefined;
    await this.record(req, lease, old, d, backoffSource, error);
  }

  /** Record a failure, decided here or by the protocol (a dependency it could not replace), under the lease; this gives it back. */
  async record(req: RefreshRequest, lease: LeaseHandle, old: CredentialItem | undefined, d: FailureDecision, backoffSource?: string, error?: unknown): Promise<void> {
    const { app, kind } = req;
    await lease.fail(failed(lease.key, d, backoffSource));
    this.#count('TokenRefreshFailed', app, kind);
    this.#log.error(`${kind.id} refresh failed`, {
      app: app.name, kind: kind.id, code: d.lastError.code, reason: d.lastError.message, failures: (old?.failures ?? 0) + 1,
      ...(d.lastError.code === 'internal' && error instanceof Error ? { error: error.name } : {}),
    });
  }
}
