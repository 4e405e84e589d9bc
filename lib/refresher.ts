import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { HubApp } from './apps.js';
import type { Clock } from './clock.js';
import { asUnavailable, unavailable } from './failure.js';
import { dependencyOf, type CredentialKind } from './kinds/kind.js';
import { pushedKind } from './kinds/pushed.js';
import { HubMetrics } from './metrics.js';
import { describe, isDue, renewAt, servable } from './policy.js';
import type { PrincipalRegistry } from './principals/registry.js';
import { credentialKey, LeaseProtocol, type HubMetric, type RefreshRequest, type RefreshResult } from './protocol.js';
import { identifyValue, type Identified } from './identify.js';
import { TokenIndex } from './token-index.js';
import { forceRefresh, type ForcedResult, type ForceOptions, type Passive } from './forced.js';
import type { Scheduled, TickOutcome } from './scheduler/due.js';
import { refreshPrincipalDue } from './scheduler/principal-due.js';
import { afterProbe, type ScheduleSettings } from './scheduler/schedule.js';
import { Ledger } from './quota/ledger.js';
import { SingleFlight } from './read-cache.js';
import { ServedValues, type Served } from './serving.js';
import { defaultSettings, type RefresherSettings } from './settings.js';
import { StoreUnavailableError } from './store/errors.js';
import type { CredentialItem, CredentialStore, DueEntry } from './store/store.js';

export type { Served } from './serving.js';
export type { ForcedResult } from './forced.js';
export type { TickOutcome } from './scheduler/due.js';

export interface RefresherOptions {
  principals: PrincipalRegistry;
  store: CredentialStore;
  clock: Clock;
  logger: Logger;
  /** CloudWatch metrics (EMF); none locally and in tests. */
  metrics?: Metrics;
  settings?: Partial<RefresherSettings>;
}

/**
 * What the hub does with credentials, for every kind: serve (per-container cache, then the store,
 * then a refresh through the lease protocol), refresh what the scheduler found due, and the passive
 * refresh with its compare-and-swap on the stale value. Principals are resolved by the registry
 * (lib/principals), kinds (lib/kinds) say how a value is fetched; the protocol (lib/protocol.ts) how a
 * refresh is shared; the policy (lib/policy.ts) when one is needed; the schedule
 * (lib/scheduler/schedule.ts) when the tick looks again.
 */
export class Refresher {
  readonly settings: RefresherSettings;
  readonly principals: PrincipalRegistry;
  readonly #store: CredentialStore;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #metrics: HubMetrics;
  readonly #protocol: LeaseProtocol;
  readonly #flights = new SingleFlight<RefreshResult>();
  readonly #served: ServedValues;
  /** The token-hash index: the compat paths' reverse lookups (lib/token-index.ts). */
  readonly tokens: TokenIndex;

  constructor(options: RefresherOptions) {
    this.settings = { ...defaultSettings, ...options.settings };
    if (this.settings.leaseMs <= this.settings.upstreamDeadlineMs) {
      throw new Error('leaseMs must exceed upstreamDeadlineMs, or a slow fetch could outlive its lease');
    }
    this.principals = options.principals;
    this.#store = options.store;
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#metrics = new HubMetrics(options.metrics);
    this.#served = new ServedValues(this.settings);
    this.tokens = new TokenIndex(this.#store, this.#clock);
    this.#protocol = new LeaseProtocol({
      store: this.#store,
      ledger: new Ledger(this.#store, (row, count) => this.#metrics.quota(row, count.count, this.principals.configured(row.scope))),
      clock: this.#clock,
      logger: this.#log,
      settings: this.settings,
      count: (metric, app, kind) => this.#count(metric, app, kind),
      scheduling: (app, kind) => this.scheduling(app, kind),
      indexed: (app, kind) => app.compat && kind.id === 'access_token', // an authorizer's: its platform has `compat` (docs/compat.md)
    });
  }

  /** The configured apps' names. */
  get appNames(): string[] { return this.principals.names; }

  /**
   * The principal of this name, a configured app or one registered at run time (an authorizer,
   * read from its row); undefined when there is none. After it, the synchronous lookups know it.
   */
  load = (name: string): Promise<HubApp | undefined> => this.principals.load(name);

  hasApp = (name: string): boolean => this.principals.has(name);

  /** The principal (configured, or loaded), or UnknownAppError. */
  app = (name: string): HubApp => this.principals.get(name);

  /** Whether WeChat can be asked (a probe, no quota) whether this kind's value of the app is still good. */
  canProbe = (appName: string, kindId = 'access_token'): boolean => this.principals.resolve(appName, kindId).kind.probe !== undefined;

  /** Whether an app of this name has a kind of this id (a Mini Program has no tickets). */
  hasKind = (appName: string, kindId: string): boolean => this.principals.find(appName, kindId) !== undefined;

  /** How the due index treats this kind of this principal: its margin, and how often the tick probes it. */
  scheduling(app: HubApp, kind: CredentialKind): ScheduleSettings {
    return { marginMs: this.#margin(app, kind), probeEveryMs: this.settings.selfHeal && kind.probe ? this.settings.selfHealIntervalMs : undefined };
  }

  /**
   * The value to serve: cached, stored, or fetched now when there is none or it is due (a read never
   * hands out a value the hub is about to replace while it can get the next one).
   */
  async get(appName: string, kindId = 'access_token'): Promise<Served> {
    const { app, kind } = await this.#resolve(appName, kindId);
    const key = cacheKey(app, kind);
    const cached = this.#served.cached(key, this.#clock.now());
    if (cached) return cached;

    const source = await kind.sourceFingerprint?.(app);
    let item: CredentialItem | undefined;
    try {
      item = await this.#store.read(credentialKey(app, kind));
    } catch (error) {
      // Stale-if-error: the store is down or throttled past the SDK's retries. A value this container
      // served, of the current secret, with more than MIN_SERVE to live, is as good as it was a moment ago.
      const last = error instanceof StoreUnavailableError ? this.#served.lastGood(key, source, this.#clock.now()) : undefined;
      if (last) {
        this.#log.warn('store unavailable; serving the value this container last served', { app: app.name, kind: kind.id, expiresIn: Math.floor((last.expiresAt - this.#clock.now()) / 1000) });
        return last;
      }
      throw error;
    }
    const margin = this.#margin(app, kind);
    const due = (it: CredentialItem | undefined) => isDue(it, margin, source, this.#clock.now());
    const ok = (it: CredentialItem) => servable(it, 0, source, this.#clock.now());
    if (!due(item)) return this.#serve(app, kind, item!);

    try {
      const { item: fresh } = await this.#flights.run(`${key}:due`, () =>
        this.#refresh(app, kind, { needed: due, forced: false, cause: 'read', justRead: { item } }), notWritten);
      if (ok(fresh)) return this.#serve(app, kind, fresh);
      throw unavailable(fresh);
    } catch (error) {
      // A failed refresh never loses the value we have: serve it while WeChat still accepts it.
      if (item && ok(item)) {
        this.#log.warn('refresh failed; serving the current value', { app: app.name, kind: kind.id, error: describe(error) });
        return this.#serve(app, kind, item);
      }
      throw asUnavailable(error, item);
    }
  }

  /**
   * Store a value WeChat pushed (lib/kinds/pushed.ts): through the lease and the fenced write like a
   * fetch, so that it never overwrites a newer write; the container's cache of it is dropped.
   */
  async ingest(appName: string, kindId: string, pushed: unknown): Promise<RefreshResult> {
    const { app, kind } = await this.#resolve(appName, kindId);
    return this.#refresh(app, pushedKind(kind, app, pushed, this.#clock.now()), { needed: () => true, forced: false, cause: 'pushed' });
  }

  /** The scheduled refresh of one principal's due credentials (lib/scheduler/principal-due.ts). */
  refreshPrincipalDue(appName: string, entries: readonly DueEntry[]): Promise<{ outcomes: TickOutcome[]; leastExpiresAt?: number }> {
    return refreshPrincipalDue({ principals: this.principals, store: this.#store, scheduled: this.#scheduled }, appName, entries);
  }

  /** What the scheduled refresh needs of the refresher (lib/scheduler/due.ts), and nothing more. */
  readonly #scheduled: Scheduled = {
    margin: (app, kind) => this.#margin(app, kind),
    refresh: (app, kind, req) =>
      req.cause === 'tick'
        ? this.#flights.run(`${cacheKey(app, kind)}:due`, () => this.#refresh(app, kind, { ...req, forced: false }), notWritten)
        : this.#refresh(app, kind, { ...req, forced: false }),
    probed: (app, kind, item, at) => afterProbe(credentialKey(app, kind), { expiresAt: item.expiresAt!, obtainedAt: item.obtainedAt }, at, this.scheduling(app, kind)),
    reschedule: async (key, schedule, version) => {
      await this.#store.schedule(key, schedule, { ifVersion: version });
    },
    count: (metric, app, kind) => this.#count(metric, app, kind),
    settings: () => this.settings,
    now: () => this.#clock.now(),
    log: () => this.#log,
  };

  /**
   * The passive refresh (lib/forced.ts): a caller was told by WeChat that `stale` is invalid; only if
   * it is still the stored value, and WeChat (where it can be asked) no longer accepts it, is a new
   * one fetched.
   */
  async forceRefresh(appName: string, stale: string, kindId = 'access_token', options: ForceOptions = {}): Promise<ForcedResult> {
    const { app, kind } = await this.#resolve(appName, kindId);
    return forceRefresh(this.#passive, app, kind, stale, options);
  }

  /** What the passive refresh needs of the refresher (lib/forced.ts), and nothing more. */
  readonly #passive: Passive = {
    read: (app, kind) => this.#store.read(credentialKey(app, kind)),
    forget: (app, kind, value) => this.#served.forget(cacheKey(app, kind), value),
    refresh: (app, kind, flight, req) => this.#flights.run(`${cacheKey(app, kind)}:${flight}`, () => this.#refresh(app, kind, req), notWritten),
    serve: (app, kind, item) => this.#serve(app, kind, item),
    count: (metric, app, kind) => this.#count(metric, app, kind),
    settings: () => this.settings,
    now: () => this.#clock.now(),
  };

  /**
   * What `value` is to the app's credential of this kind, if anything (lib/identify.ts): the
   * current value, the previous one in its overlap, or one the hub replaced within its life.
   */
  async identify(appName: string, value: string, kindId = 'access_token'): Promise<Identified | undefined> {
    const { app, kind } = await this.#resolve(appName, kindId);
    const now = this.#clock.now();
    const cached = this.#served.cached(cacheKey(app, kind), now);
    return identifyValue(value, cached?.value, () => this.#store.read(credentialKey(app, kind)), now);
  }

  /** Whether the hub issued `value` as this app's credential of this kind and it is within its life (identify()). */
  recognizes = async (appName: string, value: string, kindId = 'access_token'): Promise<boolean> => (await this.identify(appName, value, kindId)) !== undefined;

  /** resolve(), with a principal registered at run time loaded first. */
  async #resolve(appName: string, kindId: string): Promise<{ app: HubApp; kind: CredentialKind }> {
    await this.principals.load(appName);
    return this.principals.resolve(appName, kindId);
  }

  #refresh(app: HubApp, kind: CredentialKind, req: Pick<RefreshRequest, 'needed' | 'forced' | 'cause' | 'justRead' | 'probe'>): Promise<RefreshResult> {
    const dependency = dependencyOf(kind, app);
    return this.#protocol.refresh({
      ...req,
      app,
      kind,
      beforeFetch: () => this.#served.invalidate(cacheKey(app, kind)),
      dependencies: {
        value: async () => (await this.get(dependency!.app, dependency!.kind)).value,
        rejected: async (stale) => (await this.forceRefresh(dependency!.app, stale, dependency!.kind, { observed: true })).value,
      },
    });
  }

  /** A metric per kind, and per app for configured apps only (each dimension value is a billed metric). */
  #count(metric: HubMetric, app: HubApp, kind: CredentialKind): void {
    this.#metrics.count(metric, kind.id, this.principals.configured(app.name) ? app.name : undefined);
  }

  /** The margin before expiry at which the tick and reads replace this kind's value: the kind's own, never more than REFRESH_MARGIN. */
  #margin(app: HubApp, kind: CredentialKind): number {
    return Math.min(kind.refreshMarginMs?.(app) ?? Infinity, this.settings.refreshMarginMs);
  }

  #serve(app: HubApp, kind: CredentialKind, item: CredentialItem): Served {
    const at = renewAt({ expiresAt: item.expiresAt!, obtainedAt: item.obtainedAt }, this.#margin(app, kind));
    return this.#served.serve(cacheKey(app, kind), item, at, this.#clock.now());
  }
}

const cacheKey = (app: HubApp, kind: CredentialKind): string => `${app.name}#${kind.id}`;


/** A caller that joined another's refresh in this container did not write. */
const notWritten = (r: RefreshResult): RefreshResult => ({ item: r.item, wrote: false });
