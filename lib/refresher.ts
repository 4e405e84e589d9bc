import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { HubApp } from './apps.js';
import type { Clock } from './clock.js';
import {
  ForcedRefreshBudgetError,
  NoTokenAvailableError,
  RefreshInProgressError,
  UnknownAppError,
  UnknownKindError,
  UpstreamLimitError,
} from './errors.js';
import { fingerprint } from './fingerprint.js';
import type { KindCatalog } from './kinds/catalog.js';
import type { CredentialKind } from './kinds/kind.js';
import { describe, recentlyValidated, retryAfterFor, servable } from './policy.js';
import { credentialKey, LeaseProtocol, type HubMetric, type RefreshRequest, type RefreshResult } from './protocol.js';
import { refreshIfDue, type Scheduled, type TickOutcome } from './tick.js';
import { Ledger } from './quota/ledger.js';
import { ReadCache, SingleFlight } from './read-cache.js';
import { StoreUnavailableError } from './store/errors.js';
import type { CredentialItem, CredentialStore } from './store/store.js';
import { WeChatError } from './wechat/errors.js';

export type { HubMetric } from './protocol.js';
export { errorCode } from './policy.js';

export interface RefresherSettings {
  /** Refresh when at most this much life is left (20 min: a 7200 s token at ~100 min of age). */
  refreshMarginMs: number;
  /** A read refreshes synchronously when less than this is left. */
  minServeMs: number;
  /** How long a refresher may hold the lease; must exceed upstreamDeadlineMs. */
  leaseMs: number;
  /** Total time for one upstream fetch with its retries. */
  upstreamDeadlineMs: number;
  /** How often a caller that lost the lease race looks for the winner's write. */
  pollIntervalMs: number;
  /** Per-container read cache age (never past expiresAt - minServeMs). */
  cacheTtlMs: number;
  /** Forced refreshes per app (and kind) per quota day, well under WeChat's daily quota. */
  forcedDailyBudget: number;
  /** After WeChat confirmed a value valid, forced refreshes of it are refused this long without asking again. */
  probeTtlMs: number;
  /** After a configuration error, reads wait this long (doubling while it persists) before asking WeChat again. */
  configErrorBackoffMs: number;
  /** The tick probes each current token (no quota spent) and refreshes one WeChat no longer accepts. */
  selfHeal: boolean;
}

export const defaultSettings: RefresherSettings = {
  refreshMarginMs: 20 * 60_000,
  minServeMs: 60_000,
  leaseMs: 15_000,
  upstreamDeadlineMs: 10_000,
  pollIntervalMs: 200,
  cacheTtlMs: 30_000,
  forcedDailyBudget: 200,
  probeTtlMs: 10_000,
  configErrorBackoffMs: 60_000,
  selfHeal: true,
};

/** A credential as served: the value (an access_token or a ticket) and when it expires. */
export interface Served {
  value: string;
  expiresAt: number;
}

export interface ForcedResult extends Served {
  /**
   * A rotation of the value sent happened for this call: it made the fetch, joined one in flight,
   * or the stored value replaced the one sent within the last LEASE (the same burst).
   */
  refreshed: boolean;
  /** The value served differs from the one sent (also when the one sent was replaced long ago, or never was ours). */
  changed: boolean;
  /** Why the value was not rotated, when it was not. */
  reason?: string;
}

export type { TickOutcome } from './tick.js';

export interface RefresherOptions {
  apps: readonly HubApp[];
  kinds: KindCatalog;
  store: CredentialStore;
  clock: Clock;
  logger: Logger;
  /** CloudWatch metrics (EMF); none locally and in tests. */
  metrics?: Metrics;
  settings?: Partial<RefresherSettings>;
}

/**
 * What the hub does with credentials, for every kind: serve (per-container cache, then the store,
 * then a refresh through the lease protocol), refresh when due (the tick), and the passive refresh
 * with its compare-and-swap on the stale value. Kinds (lib/kinds) say how a value is fetched; the
 * protocol (lib/protocol.ts) how a refresh is shared; the policy (lib/policy.ts) when one is needed.
 */
export class Refresher {
  readonly settings: RefresherSettings;
  readonly #apps: Map<string, HubApp>;
  readonly #kinds: KindCatalog;
  readonly #store: CredentialStore;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #metrics: Metrics | undefined;
  readonly #protocol: LeaseProtocol;
  readonly #flights = new SingleFlight<RefreshResult>();
  readonly #cache = new ReadCache<Served>();
  /** The last value served per credential, kept past the cache's TTL for stale-if-error reads. */
  readonly #lastServed = new Map<string, Served>();

  constructor(options: RefresherOptions) {
    this.settings = { ...defaultSettings, ...options.settings };
    if (this.settings.leaseMs <= this.settings.upstreamDeadlineMs) {
      throw new Error('leaseMs must exceed upstreamDeadlineMs, or a slow fetch could outlive its lease');
    }
    this.#apps = new Map(options.apps.map((a) => [a.name, a]));
    this.#kinds = options.kinds;
    this.#store = options.store;
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#metrics = options.metrics;
    this.#protocol = new LeaseProtocol({
      store: this.#store,
      ledger: new Ledger(this.#store),
      clock: this.#clock,
      logger: this.#log,
      settings: this.settings,
      count: (metric, app, kind) => this.#count(metric, app, kind),
    });
  }

  /** The apps changed (read again from SSM): the same protocol, store and caches serve the new list. */
  replaceApps(apps: readonly HubApp[]): void {
    const next = new Map(apps.map((a) => [a.name, a]));
    if (next.size === this.#apps.size && [...next].every(([n, a]) => this.#apps.get(n) === a)) return;
    this.#apps.clear();
    for (const [n, a] of next) this.#apps.set(n, a);
  }

  get appNames(): string[] {
    return [...this.#apps.keys()];
  }

  hasApp(name: string): boolean {
    return this.#apps.has(name);
  }

  /** The configured app, or UnknownAppError. */
  app(name: string): HubApp {
    const app = this.#apps.get(name);
    if (!app) throw new UnknownAppError(name);
    return app;
  }

  /** Whether WeChat can be asked (a probe, no quota) whether this kind's value of the app is still good. */
  canProbe(appName: string, kindId = 'access_token'): boolean {
    return this.#kinds.kind(this.app(appName), kindId)?.probe !== undefined;
  }

  /** Whether an app of this name has a kind of this id (a Mini Program has no tickets). */
  hasKind(appName: string, kindId: string): boolean {
    return this.#kinds.kind(this.app(appName), kindId) !== undefined;
  }

  /** The value to serve: cached, stored, or fetched now when there is none or it is about to expire. */
  async get(appName: string, kindId = 'access_token'): Promise<Served> {
    const { app, kind } = this.#resolve(appName, kindId);
    const cacheKey = `${app.name}#${kind.id}`;
    const cached = this.#cache.get(cacheKey, this.#clock.now());
    if (cached) return cached;

    const source = await kind.sourceFingerprint?.(app);
    let item: CredentialItem | undefined;
    try {
      item = await this.#store.read(credentialKey(app, kind));
    } catch (error) {
      // Stale-if-error: the store is down or throttled past the SDK's retries. A value this container
      // served and that still has more than MIN_SERVE to live is as good as it was a moment ago.
      const last = this.#lastServed.get(cacheKey);
      if (error instanceof StoreUnavailableError && last && last.expiresAt - this.#clock.now() > this.settings.minServeMs) {
        this.#log.warn('store unavailable; serving the value this container last served', { app: app.name, kind: kind.id, expiresIn: Math.floor((last.expiresAt - this.#clock.now()) / 1000) });
        return last;
      }
      throw error;
    }
    const ok = (it: CredentialItem, minLeftMs: number) => servable(it, minLeftMs, source, this.#clock.now());
    if (item && ok(item, this.settings.minServeMs)) return this.#serve(app, kind, item);

    try {
      const { item: fresh } = await this.#flights.run(`${cacheKey}:due`, () =>
        this.#refresh(app, kind, { needed: (it) => !it || !ok(it, this.settings.minServeMs), forced: false, cause: 'read', justRead: { item } }), notWritten);
      if (ok(fresh, 0)) return this.#serve(app, kind, fresh);
      throw unavailable(fresh);
    } catch (error) {
      // A failed refresh never loses the value we have: serve it while WeChat still accepts it.
      if (item && ok(item, 0)) {
        this.#log.warn('refresh failed; serving the current value', { app: app.name, kind: kind.id, error: describe(error) });
        return this.#serve(app, kind, item);
      }
      throw asUnavailable(error, item);
    }
  }

  /** The scheduled refresh of one kind (lib/tick.ts). */
  refreshIfDue(appName: string, kindId = 'access_token'): Promise<TickOutcome> {
    return refreshIfDue(this.#scheduled, appName, kindId);
  }

  /** Every kind of an app, in the catalog's order (a ticket after the token it is fetched with); one failing stops no other. */
  async refreshAppIfDue(appName: string): Promise<TickOutcome[]> {
    const outcomes: TickOutcome[] = [];
    for (const kind of this.#kinds.kindsOf(this.app(appName))) outcomes.push(await this.refreshIfDue(appName, kind.id));
    return outcomes;
  }

  /** What the scheduled refresh needs of the refresher (lib/tick.ts), and nothing more. */
  readonly #scheduled: Scheduled = {
    resolve: (appName, kindId) => this.#resolve(appName, kindId),
    read: (app, kind) => this.#store.read(credentialKey(app, kind)),
    refresh: (app, kind, req) =>
      req.cause === 'tick'
        ? this.#flights.run(`${app.name}#${kind.id}:due`, () => this.#refresh(app, kind, { ...req, forced: false }), notWritten)
        : this.#refresh(app, kind, { ...req, forced: false }),
    count: (metric, app, kind) => this.#count(metric, app, kind),
    settings: () => this.settings,
    now: () => this.#clock.now(),
    log: () => this.#log,
  };

  /**
   * The passive refresh: a caller was told by WeChat that `stale` is invalid. Only if it is still
   * the stored value, and WeChat (asked with a call that spends no quota, for kinds that have one)
   * no longer accepts it, is a new one fetched; otherwise the stored one is the answer.
   */
  async forceRefresh(appName: string, stale: string, kindId = 'access_token'): Promise<ForcedResult> {
    const { app, kind } = this.#resolve(appName, kindId);
    const source = await kind.sourceFingerprint?.(app);
    const ok = (it: CredentialItem) => servable(it, 0, source, this.#clock.now());
    const isCurrent = (it: CredentialItem | undefined) => !it || !ok(it) || it.value === stale;
    const item = await this.#store.read(credentialKey(app, kind));
    const now = this.#clock.now();
    if (!isCurrent(item)) {
      // Already rotated (by the tick or another caller): the stored value is the answer, no call.
      const justReplaced = item!.previousValue === stale && (item!.obtainedAt ?? 0) >= now - this.settings.leaseMs;
      return { ...this.#serve(app, kind, item!), refreshed: justReplaced, changed: true };
    }
    if (item && recentlyValidated(item, now, this.settings.probeTtlMs)) return this.#stillValid(app, kind, item);
    try {
      kind.checkForced?.(app, item, now);
    } catch (error) {
      this.#count('ForcedRefreshRefused', app, kind);
      throw error;
    }
    let result: RefreshResult;
    try {
      result = await this.#flights.run(`${app.name}#${kind.id}:force:${fingerprint(stale)}`, () =>
        this.#refresh(app, kind, { needed: isCurrent, forced: true, cause: 'forced', justRead: { item }, probeValue: item && ok(item) ? stale : undefined }), notWritten);
    } catch (error) {
      throw asUnavailable(error, undefined);
    }
    if (result.item.value === stale && recentlyValidated(result.item, now, this.settings.probeTtlMs)) return this.#stillValid(app, kind, result.item);
    if (!ok(result.item) || result.item.value === stale) throw unavailable(result.item);
    return { ...this.#serve(app, kind, result.item), refreshed: true, changed: true };
  }

  /**
   * Whether `value` is the app's current value of this kind, or the previous one while WeChat still
   * accepts it (the 5-minute overlap). Compared in constant time.
   */
  async recognizes(appName: string, value: string, kindId = 'access_token'): Promise<boolean> {
    const { app, kind } = this.#resolve(appName, kindId);
    const now = this.#clock.now();
    const cached = this.#cache.get(`${app.name}#${kind.id}`, now);
    if (cached && sameSecret(cached.value, value)) return true;
    const item = await this.#store.read(credentialKey(app, kind));
    if (!item) return false;
    const current = item.value !== undefined && (item.expiresAt ?? 0) > now && sameSecret(item.value, value);
    const previous = item.previousValue !== undefined && (item.previousValidUntil ?? 0) > now && sameSecret(item.previousValue, value);
    return current || previous;
  }

  #refresh(app: HubApp, kind: CredentialKind, req: Pick<RefreshRequest, 'needed' | 'forced' | 'cause' | 'justRead' | 'probeValue'>): Promise<RefreshResult> {
    const dependsOn = kind.dependsOn;
    return this.#protocol.refresh({
      ...req,
      app,
      kind,
      beforeFetch: () => this.#cache.delete(`${app.name}#${kind.id}`),
      dependencies: {
        dependency: async () => (await this.get(app.name, dependsOn)).value,
        dependencyRejected: async (stale) => (await this.forceRefresh(app.name, stale, dependsOn)).value,
      },
    });
  }

  #resolve(appName: string, kindId: string): { app: HubApp; kind: CredentialKind } {
    const app = this.app(appName);
    const kind = this.#kinds.kind(app, kindId);
    if (!kind) throw new UnknownKindError(app.name, kindId);
    return { app, kind };
  }

  #stillValid(app: HubApp, kind: CredentialKind, item: CredentialItem): ForcedResult {
    this.#count('ForcedRefreshNotRotated', app, kind);
    return { ...this.#serve(app, kind, item), refreshed: false, changed: false, reason: 'WeChat still accepts this token; it was not rotated' };
  }

  #serve(app: HubApp, kind: CredentialKind, item: CredentialItem): Served {
    const served = { value: item.value!, expiresAt: item.expiresAt! };
    const now = this.#clock.now();
    this.#lastServed.set(`${app.name}#${kind.id}`, served);
    this.#cache.set(`${app.name}#${kind.id}`, served, now, Math.min(now + this.settings.cacheTtlMs, served.expiresAt - this.settings.minServeMs));
    return served;
  }

  /** Per app and kind, and hub-wide (service only) for the alarms, which cannot know the apps. */
  #count(metric: HubMetric, app: HubApp, kind: CredentialKind): void {
    if (!this.#metrics) return;
    const single = this.#metrics.singleMetric();
    single.addDimension('app', app.name);
    single.addDimension('kind', kind.id);
    single.addMetric(metric, MetricUnit.Count, 1);
    this.#metrics.singleMetric().addMetric(metric, MetricUnit.Count, 1);
  }
}

function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** A caller that joined another's refresh in this container did not write. */
const notWritten = (r: RefreshResult): RefreshResult => ({ item: r.item, wrote: false });

function unavailable(item: CredentialItem): NoTokenAvailableError {
  const upstream = item.lastError;
  return new NoTokenAvailableError('no valid token is available now', upstream ? retryAfterFor(upstream) : 5, upstream);
}

function asUnavailable(error: unknown, item: CredentialItem | undefined): Error {
  if (
    error instanceof NoTokenAvailableError ||
    error instanceof ForcedRefreshBudgetError ||
    error instanceof RefreshInProgressError ||
    error instanceof UpstreamLimitError
  ) {
    return error;
  }
  if (error instanceof WeChatError) return new NoTokenAvailableError('WeChat did not issue a token', retryAfterFor(error), error);
  if (item) return unavailable(item);
  return error instanceof Error ? error : new Error('refresh failed');
}
