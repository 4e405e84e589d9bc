import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { HubApp } from './apps.js';
import type { Clock } from './clock.js';
import {
  AppBlockedError,
  ForcedRefreshBudgetError,
  NoTokenAvailableError,
  RefreshInProgressError,
  UnknownAppError,
} from './errors.js';
import { fingerprint } from './fingerprint.js';
import { nextQuotaDayStart, quotaDay } from './quota-day.js';
import { ForcedBudgetExhaustedError } from './store/errors.js';
import type { CredentialItem, CredentialKey, CredentialStore, LastError } from './store/store.js';
import type { WeChatClient } from './wechat/client.js';
import { IpBlockedError, QuotaExceededError, WeChatError } from './wechat/errors.js';

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
  /** Forced refreshes per app per quota day, well under WeChat's daily quota. */
  forcedDailyBudget: number;
  /** After WeChat confirmed a token valid, forced refreshes of it are refused this long without asking again. */
  probeTtlMs: number;
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
};

/** WeChat keeps the previous token valid this long after a new one is fetched. */
const OVERLAP_MS = 5 * 60_000;
/** stable_token's force mode: 20 a day. */
const STABLE_FORCE_DAILY_LIMIT = 20;
const STABLE_FORCE_SPACING_MS = 30_000;

export interface ServedToken {
  accessToken: string;
  expiresAt: number;
}

export interface ForcedResult extends ServedToken {
  refreshed: boolean;
  /** Why the token was not rotated, when it was not. */
  reason?: string;
}

export type TickOutcome =
  | { app: string; outcome: 'fresh' | 'refreshed' }
  | { app: string; outcome: 'failed' | 'blocked'; code: string };

interface RefreshResult {
  item: CredentialItem;
  /** This call's upstream fetch wrote the item. */
  wrote: boolean;
}

export interface RefresherOptions {
  apps: readonly HubApp[];
  store: CredentialStore;
  wechat: WeChatClient;
  clock: Clock;
  logger: Logger;
  /** CloudWatch metrics (EMF); none locally and in tests. */
  metrics?: Metrics;
  settings?: Partial<RefresherSettings>;
}

/** What the hub counts, per app. Never a token, a secret or a key. */
export type HubMetric = 'TokenRefreshed' | 'TokenRefreshFailed' | 'LeaseLost' | 'ForcedRefreshNotRotated' | 'ForcedRefreshRefused';

/**
 * The refresh protocol of DESIGN.md: consistent read, lease, quota count, upstream fetch, fenced
 * write. Callers in this container that want the same refresh share one promise; callers in other
 * containers meet at the lease and wait for its holder's write.
 */
export class Refresher {
  readonly settings: RefresherSettings;
  readonly #apps: Map<string, HubApp>;
  readonly #store: CredentialStore;
  readonly #wechat: WeChatClient;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #metrics: Metrics | undefined;
  readonly #inFlight = new Map<string, Promise<RefreshResult>>();
  readonly #cache = new Map<string, { token: ServedToken; until: number }>();

  constructor(options: RefresherOptions) {
    this.settings = { ...defaultSettings, ...options.settings };
    if (this.settings.leaseMs <= this.settings.upstreamDeadlineMs) {
      throw new Error('leaseMs must exceed upstreamDeadlineMs, or a slow fetch could outlive its lease');
    }
    this.#apps = new Map(options.apps.map((a) => [a.name, a]));
    this.#store = options.store;
    this.#wechat = options.wechat;
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#metrics = options.metrics;
  }

  #count(metric: HubMetric, app: HubApp): void {
    if (!this.#metrics) return;
    const single = this.#metrics.singleMetric();
    single.addDimension('app', app.name);
    single.addMetric(metric, MetricUnit.Count, 1);
  }

  get appNames(): string[] {
    return [...this.#apps.keys()];
  }

  hasApp(name: string): boolean {
    return this.#apps.has(name);
  }

  /** The token to serve: cached, stored, or fetched now when there is none or it is about to expire. */
  async getToken(appName: string): Promise<ServedToken> {
    const app = this.#app(appName);
    const now = this.#clock.now();
    const cached = this.#cache.get(app.name);
    if (cached && now < cached.until) return cached.token;

    const key = keyOf(app);
    const secret = await this.#secretFingerprint(app);
    const item = await this.#store.read(key);
    if (item && this.#servable(item, this.settings.minServeMs, secret)) return this.#serve(app, item);

    try {
      const { item: fresh } = await this.#shared(`${app.name}:due`, () =>
        this.#refresh(app, (it) => !it || !this.#servable(it, this.settings.minServeMs, secret), false, { item }),
      );
      if (this.#servable(fresh, 0, secret)) return this.#serve(app, fresh);
      throw this.#unavailable(fresh, undefined);
    } catch (error) {
      // A failed refresh never loses the token we have: serve it while WeChat still accepts it.
      if (item && this.#servable(item, 0, secret)) {
        this.#log.warn('refresh failed; serving the current token', { app: app.name, error: describe(error) });
        return this.#serve(app, item);
      }
      throw this.#asUnavailable(error, item);
    }
  }

  /** The scheduled refresh: fetch a new token when the stored one is due (or missing, or of an old secret). */
  async refreshIfDue(appName: string): Promise<TickOutcome> {
    const app = this.#app(appName);
    try {
      const secret = await this.#secretFingerprint(app);
      const due = (it: CredentialItem | undefined) => !it || !this.#servable(it, this.settings.refreshMarginMs, secret);
      const { wrote } = await this.#shared(`${app.name}:due`, () => this.#refresh(app, due, false, undefined));
      return { app: app.name, outcome: wrote ? 'refreshed' : 'fresh' };
    } catch (error) {
      if (error instanceof AppBlockedError) {
        const upstream = error.upstream;
        return { app: app.name, outcome: 'blocked', code: upstream && !(upstream instanceof WeChatError) ? upstream.code : 'blocked' };
      }
      return { app: app.name, outcome: 'failed', code: errorCode(error) };
    }
  }

  /**
   * The passive refresh: a caller was told by WeChat that `staleToken` is invalid. Only if it is
   * still the stored token, and WeChat (asked with a call that spends no token quota) no longer
   * accepts it, is a new one fetched; otherwise the stored one is the answer.
   */
  async forceRefresh(appName: string, staleToken: string): Promise<ForcedResult> {
    const app = this.#app(appName);
    const secret = await this.#secretFingerprint(app);
    const isCurrent = (it: CredentialItem | undefined) => !it || !this.#servable(it, 0, secret) || it.value === staleToken;
    const item = await this.#store.read(keyOf(app));
    if (!isCurrent(item)) {
      // Already rotated (by the tick or another caller): the stored token is the answer, no call.
      return { ...this.#serve(app, item!), refreshed: item!.value !== staleToken };
    }
    const now = this.#clock.now();
    if (item && this.#recentlyValidated(item, now)) return this.#stillValid(app, item);
    if (app.tokenApi === 'stable' && item?.lastForcedAt !== undefined && now - item.lastForcedAt < STABLE_FORCE_SPACING_MS) {
      // WeChat ignores a stable_token force refresh within 30 s of the last one.
      this.#count('ForcedRefreshRefused', app);
      throw new ForcedRefreshBudgetError(seconds(item.lastForcedAt + STABLE_FORCE_SPACING_MS - now), 'stable_token force refreshes must be 30 s apart');
    }
    let result: RefreshResult;
    try {
      result = await this.#shared(`${app.name}:force:${fingerprint(staleToken)}`, () =>
        this.#refresh(app, isCurrent, true, { item }, item && this.#servable(item, 0, secret) ? staleToken : undefined),
      );
    } catch (error) {
      throw this.#asUnavailable(error, undefined);
    }
    if (result.item.value === staleToken && this.#recentlyValidated(result.item, now)) return this.#stillValid(app, result.item);
    if (!this.#servable(result.item, 0, secret) || result.item.value === staleToken) throw this.#unavailable(result.item, undefined);
    return { ...this.#serve(app, result.item), refreshed: true };
  }

  #recentlyValidated(item: CredentialItem, now: number): boolean {
    return item.validatedAt !== undefined && item.validatedAt >= now - this.settings.probeTtlMs && this.#servable(item, 0, undefined);
  }

  #stillValid(app: HubApp, item: CredentialItem): ForcedResult {
    this.#count('ForcedRefreshNotRotated', app);
    return { ...this.#serve(app, item), refreshed: false, reason: 'WeChat still accepts this token; it was not rotated' };
  }

  async #secretFingerprint(app: HubApp): Promise<string | undefined> {
    try {
      return fingerprint(await app.getSecret());
    } catch {
      return undefined; // cannot tell; the refresh itself will report the missing secret
    }
  }

  #app(name: string): HubApp {
    const app = this.#apps.get(name);
    if (!app) throw new UnknownAppError(name);
    return app;
  }

  /**
   * Has a value with more than `minLeftMs` to live, fetched with the current secret (when both
   * fingerprints are known): a token of a replaced AppSecret is never served.
   */
  #servable(item: CredentialItem, minLeftMs: number, secret: string | undefined): boolean {
    return (
      item.value !== undefined &&
      item.expiresAt !== undefined &&
      item.expiresAt - this.#clock.now() > minLeftMs &&
      (secret === undefined || item.secretFingerprint === undefined || item.secretFingerprint === secret)
    );
  }

  #serve(app: HubApp, item: CredentialItem): ServedToken {
    const token = { accessToken: item.value!, expiresAt: item.expiresAt! };
    const now = this.#clock.now();
    const until = Math.min(now + this.settings.cacheTtlMs, token.expiresAt - this.settings.minServeMs);
    if (until > now) this.#cache.set(app.name, { token, until });
    return token;
  }

  #shared(key: string, run: () => Promise<RefreshResult>): Promise<RefreshResult> {
    const existing = this.#inFlight.get(key);
    if (existing) return existing.then((r) => ({ item: r.item, wrote: false }));
    const p = run().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, p);
    return p;
  }

  /** One pass of the protocol, retried from the top when a lease holder vanished without writing. */
  async #refresh(
    app: HubApp,
    needed: (item: CredentialItem | undefined) => boolean,
    forced: boolean,
    /** The consistent read the caller has just made, used for the first round instead of reading again. */
    justRead: { item: CredentialItem | undefined } | undefined,
    /** Forced refresh: ask WeChat first whether this (stored) token is really invalid. */
    probeToken?: string,
  ): Promise<RefreshResult> {
    const key = keyOf(app);
    const startedAt = this.#clock.now();
    for (let round = 0; round < 3; round++) {
      const item = round === 0 && justRead ? justRead.item : await this.#store.read(key);
      if (!needed(item)) return { item: item!, wrote: false };
      const now = this.#clock.now();
      if (item?.blockedUntil !== undefined && item.blockedUntil > now) {
        throw new AppBlockedError('WeChat refuses this app until the block ends', seconds(item.blockedUntil - now), item.lastError);
      }
      const probe = probeToken !== undefined && item?.value === probeToken ? item : undefined;
      if (probe && this.#recentlyValidated(probe, now)) {
        return { item: probe, wrote: false }; // another refresher just asked WeChat about this token
      }
      const owner = randomUUID();
      const seenVersion = item?.version ?? 0;
      if (await this.#store.acquireLease(key, { owner, seenVersion, now, leaseMs: this.settings.leaseMs })) {
        const deadline = now + this.settings.upstreamDeadlineMs;
        if (probe && (await this.#stillAccepted(app, probeToken!, now))) {
          const validatedAt = this.#clock.now();
          await this.#store.releaseLease(key, owner, validatedAt);
          return { item: { ...probe, validatedAt, leaseOwner: undefined, leaseUntil: undefined }, wrote: false };
        }
        this.#cache.delete(app.name);
        return { item: await this.#fetchAndWrite(app, key, owner, item, forced, deadline), wrote: true };
      }
      const other = await this.#awaitOtherRefresher(key, seenVersion, startedAt);
      if (other) return { item: other, wrote: false };
    }
    throw new RefreshInProgressError();
  }

  /** Lost the lease race: wait for the holder's write. Undefined means the lease lapsed unused. */
  async #awaitOtherRefresher(key: CredentialKey, seenVersion: number, startedAt: number): Promise<CredentialItem | undefined> {
    const { leaseMs, pollIntervalMs } = this.settings;
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
   * Whether WeChat still accepts a token, by GET /cgi-bin/getcallbackip (no token quota spent).
   * Only Official Accounts have it documented; for other types, and when WeChat cannot be asked,
   * the answer is "no" and the refresh goes ahead under the forced budget.
   */
  async #stillAccepted(app: HubApp, token: string, now: number): Promise<boolean> {
    if (app.type !== 'official_account') return false;
    try {
      const valid = await this.#wechat.isTokenValid(token, now + Math.floor(this.settings.upstreamDeadlineMs / 3));
      this.#log.info('forced refresh: probed the current token', { app: app.name, fingerprint: fingerprint(token), valid });
      return valid;
    } catch (error) {
      this.#log.warn('forced refresh: could not probe the current token', { app: app.name, code: errorCode(error) });
      return false;
    }
  }

  async #fetchAndWrite(app: HubApp, key: CredentialKey, owner: string, old: CredentialItem | undefined, forced: boolean, deadline: number): Promise<CredentialItem> {
    const now = this.#clock.now();
    const api = app.tokenApi === 'stable' ? 'stable_token' : 'token';
    const stableForce = forced && app.tokenApi === 'stable' && old?.value !== undefined;
    try {
      await this.#store.countUpstreamCall({
        app: app.name,
        api: stableForce ? 'stable_token_force' : api,
        day: quotaDay(now),
        forcedBudget: forced ? (stableForce ? Math.min(STABLE_FORCE_DAILY_LIMIT, this.settings.forcedDailyBudget) : this.settings.forcedDailyBudget) : undefined,
        ttl: Math.floor(nextQuotaDayStart(now) / 1000) + 2 * 86_400,
      });
    } catch (error) {
      await this.#store.releaseLease(key, owner);
      if (error instanceof ForcedBudgetExhaustedError) {
        this.#count('ForcedRefreshRefused', app);
        throw new ForcedRefreshBudgetError(seconds(nextQuotaDayStart(now) - now));
      }
      throw error;
    }

    let fetched;
    let secret: string | undefined;
    try {
      secret = await app.getSecret();
      fetched = await this.#wechat.fetchAccessToken({
        appid: app.appid,
        secret,
        api: app.tokenApi,
        forceRefresh: stableForce,
        deadline,
      });
    } catch (error) {
      const at = this.#clock.now();
      const lastError: LastError = { code: errorCode(error), message: redact(describe(error), secret), at };
      const blockedUntil =
        error instanceof QuotaExceededError ? nextQuotaDayStart(at)
        : error instanceof IpBlockedError && error.blockedForMs > 0 ? at + error.blockedForMs
        : undefined;
      await this.#store.recordFailure(key, { owner, error: lastError, blockedUntil });
      this.#count('TokenRefreshFailed', app);
      this.#log.error('token refresh failed', { app: app.name, code: lastError.code, message: lastError.message, failures: (old?.failures ?? 0) + 1 });
      throw error;
    }

    const at = this.#clock.now();
    const keepPrevious = old?.value !== undefined && old.value !== fetched.accessToken && (old.expiresAt ?? 0) > at;
    const written = await this.#store.writeToken(key, {
      owner,
      seenVersion: old?.version ?? 0,
      value: fetched.accessToken,
      expiresAt: at + fetched.expiresIn * 1000,
      obtainedAt: at,
      previousValue: keepPrevious ? old!.value : undefined,
      previousValidUntil: keepPrevious ? Math.min(at + OVERLAP_MS, old!.expiresAt!) : undefined,
      secretFingerprint: fingerprint(secret),
      forcedAt: stableForce ? at : undefined,
    });
    if (!written) {
      // The lease lapsed while we fetched and someone else wrote: theirs stands, ours is dropped.
      this.#log.warn('fenced write rejected: lease lost', { app: app.name, fingerprint: fingerprint(fetched.accessToken) });
      this.#count('LeaseLost', app);
      const stored = await this.#store.read(key);
      if (!stored) throw new RefreshInProgressError();
      return stored;
    }
    this.#count('TokenRefreshed', app);
    this.#log.info('token refreshed', {
      app: app.name,
      fingerprint: fingerprint(fetched.accessToken),
      expiresIn: fetched.expiresIn,
      version: written.version,
      forced,
    });
    return written;
  }

  #unavailable(item: CredentialItem, cause: unknown): NoTokenAvailableError {
    if (cause instanceof NoTokenAvailableError) return cause;
    const upstream = cause instanceof WeChatError ? cause : item.lastError;
    return new NoTokenAvailableError('no valid token is available now', upstream ? retryAfterFor(upstream) : 5, upstream);
  }

  #asUnavailable(error: unknown, item: CredentialItem | undefined): Error {
    if (error instanceof NoTokenAvailableError || error instanceof ForcedRefreshBudgetError || error instanceof RefreshInProgressError) return error;
    if (error instanceof WeChatError) {
      return new NoTokenAvailableError('WeChat did not issue a token', retryAfterFor(error), error);
    }
    if (item) return this.#unavailable(item, error);
    return error instanceof Error ? error : new Error('refresh failed');
  }
}

function keyOf(app: HubApp): CredentialKey {
  return { app: app.name, kind: 'access_token' };
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

function retryAfterFor(e: WeChatError | LastError): number {
  const code = e instanceof WeChatError ? e.kind : e.code;
  if (code === 'configuration' || code.startsWith('configuration')) return 300;
  return 5;
}

/** `kind:errcode` of a WeChat error, or the error's name. Never a message. */
export function errorCode(error: unknown): string {
  if (error instanceof WeChatError) return error.errcode === undefined ? error.kind : `${error.kind}:${error.errcode}`;
  if (error instanceof Error) return error.name;
  return 'unknown';
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : 'unknown error';
}

function redact(text: string, secret: string | undefined): string {
  return secret ? text.split(secret).join('[redacted]') : text;
}
