import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { HubApp } from './apps.js';
import type { Clock } from './clock.js';
import { AppBlockedError, ForcedRefreshBudgetError, NoTokenAvailableError, RefreshInProgressError } from './errors.js';
import { fingerprint } from './fingerprint.js';
import type { CredentialKind, FetchContext } from './kinds/kind.js';
import { describe, errorCode, recentlyValidated, retryAfterFor, seconds } from './policy.js';
import type { Ledger } from './quota/ledger.js';
import { nextQuotaDayStart } from './quota/periods.js';
import type { CredentialItem, CredentialKey, CredentialStore, LastError, RefreshCause } from './store/store.js';
import { ConfigurationError, IpBlockedError, QuotaExceededError } from './wechat/errors.js';

/**
 * The longest wait after repeated configuration errors: the tick's interval. The backoff is shared
 * through the store, so even at this cap the hub asks WeChat about once a minute or less per app
 * (WeCom blocks an IP after about 2000 failed gettoken calls an hour), and a fixed whitelist is
 * noticed by reads within 5 minutes even if no tick came in between.
 */
const MAX_BACKOFF_MS = 5 * 60_000;

/** WeChat keeps the previous value valid this long after a new one is fetched. */
const OVERLAP_MS = 5 * 60_000;

export interface ProtocolSettings {
  /** First wait after a configuration error; doubles while it persists, up to 5 minutes. */
  configErrorBackoffMs: number;
  leaseMs: number;
  upstreamDeadlineMs: number;
  pollIntervalMs: number;
  forcedDailyBudget: number;
  probeTtlMs: number;
}

/** What the hub counts, per app and kind. Never a token, a secret or a key. */
export type HubMetric = 'TokenRefreshed' | 'TokenRefreshFailed' | 'LeaseLost' | 'ForcedRefreshNotRotated' | 'ForcedRefreshRefused' | 'SelfHealed';

export interface RefreshRequest {
  app: HubApp;
  kind: CredentialKind;
  /** Whether the item (as read now) still needs the refresh; false means someone else did it. */
  needed: (item: CredentialItem | undefined) => boolean;
  forced: boolean;
  /** What asked for the refresh (recorded with the value). */
  cause: RefreshCause;
  /** The consistent read the caller has just made, used for the first round instead of reading again. */
  justRead?: { item: CredentialItem | undefined };
  /** Forced refresh of a kind with a probe: ask WeChat first whether this (stored) value is really invalid. */
  probeValue?: string;
  /** What a dependent kind is fetched with (lib/kinds/kind.ts FetchContext). */
  dependencies: Pick<FetchContext, 'dependency' | 'dependencyRejected'>;
  /** Called once this call holds the lease and is about to fetch. */
  beforeFetch?: () => void;
}

export interface RefreshResult {
  item: CredentialItem;
  /** This call's upstream fetch wrote the item. */
  wrote: boolean;
}

export const credentialKey = (app: HubApp, kind: CredentialKind): CredentialKey => ({ app: app.name, kind: kind.id });

/**
 * The refresh protocol of DESIGN.md, for any credential kind: consistent read, lease, quota count,
 * upstream fetch, fenced write. Callers in other containers meet at the lease and wait for its
 * holder's write; a holder that stalled past its lease cannot overwrite a newer value.
 */
export class LeaseProtocol {
  readonly #store: CredentialStore;
  readonly #ledger: Ledger;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #settings: ProtocolSettings;
  readonly #count: (metric: HubMetric, app: HubApp, kind: CredentialKind) => void;

  constructor(options: {
    store: CredentialStore;
    ledger: Ledger;
    clock: Clock;
    logger: Logger;
    settings: ProtocolSettings;
    count: (metric: HubMetric, app: HubApp, kind: CredentialKind) => void;
  }) {
    this.#store = options.store;
    this.#ledger = options.ledger;
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#settings = options.settings;
    this.#count = options.count;
  }

  /** One pass of the protocol, retried from the top when a lease holder vanished without writing. */
  async refresh(req: RefreshRequest): Promise<RefreshResult> {
    const { app, kind, probeValue } = req;
    const key = credentialKey(app, kind);
    const startedAt = this.#clock.now();
    for (let round = 0; round < 3; round++) {
      const item = round === 0 && req.justRead ? req.justRead.item : await this.#store.read(key);
      if (!req.needed(item)) return { item: item!, wrote: false };
      const now = this.#clock.now();
      if (item?.blockedUntil !== undefined && item.blockedUntil > now) {
        throw new AppBlockedError('WeChat refuses this app until the block ends', seconds(item.blockedUntil - now), item.lastError);
      }
      // After a configuration error (whitelist, wrong secret…) only the tick asks WeChat again before the
      // backoff ends, unless the secret changed since: every read asking again would only be refused,
      // and WeCom blocks an IP for an hour after too many failed gettoken calls.
      if (req.cause !== 'tick' && item?.backoffUntil !== undefined && item.backoffUntil > now && (await this.#sameSource(app, kind, item))) {
        throw new NoTokenAvailableError('WeChat refused this app recently; not asking again yet', seconds(item.backoffUntil - now), item.lastError);
      }
      const probe = probeValue !== undefined && item?.value === probeValue ? item : undefined;
      if (probe && recentlyValidated(probe, now, this.#settings.probeTtlMs)) {
        return { item: probe, wrote: false }; // another refresher just asked WeChat about this value
      }
      const owner = randomUUID();
      const seenVersion = item?.version ?? 0;
      if (await this.#store.acquireLease(key, { owner, seenVersion, now, leaseMs: this.#settings.leaseMs })) {
        if (probe && (await this.#stillAccepted(app, kind, probeValue!, now))) {
          const validatedAt = this.#clock.now();
          await this.#store.releaseLease(key, owner, validatedAt);
          return { item: { ...probe, validatedAt, leaseOwner: undefined, leaseUntil: undefined }, wrote: false };
        }
        req.beforeFetch?.();
        return { item: await this.#fetchAndWrite(req, key, owner, item, now + this.#settings.upstreamDeadlineMs), wrote: true };
      }
      const other = await this.#awaitOtherRefresher(key, seenVersion, startedAt);
      if (other) return { item: other, wrote: false };
    }
    throw new RefreshInProgressError();
  }

  async #sameSource(app: HubApp, kind: CredentialKind, item: CredentialItem): Promise<boolean> {
    if (item.backoffSource === undefined || !kind.sourceFingerprint) return true;
    const now = await kind.sourceFingerprint(app);
    return now === undefined || now === item.backoffSource;
  }

  /** Lost the lease race: wait for the holder's write. Undefined means the lease lapsed unused. */
  async #awaitOtherRefresher(key: CredentialKey, seenVersion: number, startedAt: number): Promise<CredentialItem | undefined> {
    const { leaseMs, pollIntervalMs } = this.#settings;
    // Enough polls to outlast the lease even when every jittered wait is the shortest (half the interval).
    const polls = Math.ceil(leaseMs / (pollIntervalMs * 0.5)) + 5;
    for (let i = 0; i < polls; i++) {
      const item = await this.#store.read(key);
      if (item && item.version > seenVersion) return item;
      if (item?.validatedAt !== undefined && item.validatedAt >= startedAt && item.leaseOwner === undefined) return item;
      if (item?.lastError && item.lastError.at >= startedAt && item.leaseOwner === undefined) {
        // The holder tried and failed just now: report its failure instead of trying again at once.
        throw new NoTokenAvailableError('WeChat did not issue a token', retryAfterFor(item.lastError), item.lastError);
      }
      if (!item?.leaseUntil || item.leaseUntil < this.#clock.now()) return undefined;
      await this.#clock.sleep(pollIntervalMs * (0.5 + Math.random()));
    }
    throw new RefreshInProgressError();
  }

  /**
   * Whether WeChat still accepts a value, by the kind's probe (no quota spent). Without a probe,
   * and when WeChat cannot be asked, the answer is "no" and the refresh goes ahead under the budget.
   */
  async #stillAccepted(app: HubApp, kind: CredentialKind, value: string, now: number): Promise<boolean> {
    if (!kind.probe) return false;
    try {
      const valid = await kind.probe(app, value, now + Math.floor(this.#settings.upstreamDeadlineMs / 3));
      this.#log.info('forced refresh: probed the current value', { app: app.name, kind: kind.id, fingerprint: fingerprint(value), valid });
      return valid;
    } catch (error) {
      this.#log.warn('forced refresh: could not probe the current value', { app: app.name, kind: kind.id, code: errorCode(error) });
      return false;
    }
  }

  async #fetchAndWrite(req: RefreshRequest, key: CredentialKey, owner: string, old: CredentialItem | undefined, deadline: number): Promise<CredentialItem> {
    const { app, kind, forced } = req;
    const planned = { forced, old, forcedDailyBudget: this.#settings.forcedDailyBudget };
    const charges = kind.charges(app, planned);
    try {
      await this.#ledger.charge(charges, this.#clock.now());
    } catch (error) {
      await this.#store.releaseLease(key, owner);
      if (error instanceof ForcedRefreshBudgetError) this.#count('ForcedRefreshRefused', app, kind);
      throw error;
    }

    let fetched;
    try {
      fetched = await kind.fetch(app, {
        ...planned,
        deadline,
        now: () => this.#clock.now(),
        nextDeadline: () => this.#clock.now() + Math.floor(this.#settings.upstreamDeadlineMs / 2),
        onRetry: () => this.#ledger.recount(charges, this.#clock.now()),
        ...req.dependencies,
      });
    } catch (error) {
      const at = this.#clock.now();
      const secret = await app.getSecret().catch(() => undefined);
      const lastError: LastError = { code: errorCode(error), message: redact(describe(error), secret), at };
      const blockedUntil =
        error instanceof QuotaExceededError ? (error.blockedForMs ? at + error.blockedForMs : nextQuotaDayStart(at))
        : error instanceof IpBlockedError && error.blockedForMs > 0 ? at + error.blockedForMs
        : undefined;
      const configuration = error instanceof ConfigurationError || (error instanceof IpBlockedError && error.blockedForMs === 0);
      // 60 s, then doubling while the error persists (failures counts every failure since the last success).
      const backoffUntil = configuration
        ? at + Math.min(Math.max(MAX_BACKOFF_MS, this.#settings.configErrorBackoffMs), this.#settings.configErrorBackoffMs * 2 ** Math.min(20, old?.failures ?? 0))
        : undefined;
      const backoffSource = configuration ? await kind.sourceFingerprint?.(app) : undefined;
      await this.#store.recordFailure(key, { owner, error: lastError, blockedUntil, backoffUntil, backoffSource });
      this.#count('TokenRefreshFailed', app, kind);
      this.#log.error(`${kind.id} refresh failed`, { app: app.name, kind: kind.id, code: lastError.code, reason: lastError.message, failures: (old?.failures ?? 0) + 1 });
      throw error;
    }

    const at = this.#clock.now();
    const keepPrevious = old?.value !== undefined && old.value !== fetched.value && (old.expiresAt ?? 0) > at;
    const written = await this.#store.writeToken(key, {
      owner,
      seenVersion: old?.version ?? 0,
      value: fetched.value,
      expiresAt: at + fetched.expiresIn * 1000,
      obtainedAt: at,
      previousValue: keepPrevious ? old!.value : undefined,
      previousValidUntil: keepPrevious ? Math.min(at + OVERLAP_MS, old!.expiresAt!) : undefined,
      secretFingerprint: fetched.sourceFingerprint,
      forcedAt: fetched.forcedAt,
      refreshedBy: req.cause,
    });
    if (!written) {
      // The lease lapsed while we fetched and someone else wrote: theirs stands, ours is dropped.
      this.#log.warn('fenced write rejected: lease lost', { app: app.name, kind: kind.id, fingerprint: fingerprint(fetched.value) });
      this.#count('LeaseLost', app, kind);
      const stored = await this.#store.read(key);
      if (!stored) throw new RefreshInProgressError();
      return stored;
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
    return written;
  }
}

function redact(text: string, secret: string | undefined): string {
  return secret ? text.split(secret).join('[redacted]') : text;
}
