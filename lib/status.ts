import type { HubApp } from './apps.js';
import type { KindCatalog } from './kinds/catalog.js';
import { authorizerBudget, platformStatus, type AuthorizerBudget, type PlatformStatus } from './platform/platform-status.js';
import { secondsLeft, servable } from './policy.js';
import { credentialKey } from './protocol.js';
import { quotaDay, quotaHour } from './quota/periods.js';
import type { CredentialItem, CredentialStore, RefreshCause } from './store/store.js';
import type { LastBase } from './wechat/bases.js';

/** One credential as an operator sees it. Never its value. */
export interface CredentialStatus {
  kind: string;
  /** ok; unused (a ticket nobody asked for); failing (valid, but the last refresh failed); blocked or backoff (WeChat refused; not asked again before the time given); expired; missing. */
  state: 'ok' | 'unused' | 'failing' | 'blocked' | 'backoff' | 'expired' | 'missing';
  secondsLeft?: number;
  ageSeconds?: number;
  version: number;
  refreshedAt?: string;
  refreshedBy?: RefreshCause;
  failures: number;
  lastError?: { code: string; message: string; at: string };
  blockedUntil?: string;
  backoffUntil?: string;
}

/** One ledger row: calls the hub made (and counted before making them), against the limit. */
export interface QuotaStatus {
  /** The app, or `corp:<corpid>` for WeCom's per-corp limit. */
  scope: string;
  api: string;
  /** `day`: today in China time; `hour`: the last two clock hours, the window the hub holds itself to. */
  period: 'day' | 'hour';
  used: number;
  forced: number;
  limit?: number;
  percent?: number;
}

export interface AppStatus {
  app: string;
  type: HubApp['type'];
  credentials: CredentialStatus[];
  quota: QuotaStatus[];
  /** A third-party platform's ticket, component token and authorizers (lib/platform/platform-status.ts); in GET /v1/status only. */
  platform?: PlatformStatus;
}

const HOUR = 3_600_000;
/** A stored value, as a forced refresh finds it (what decides a forced fetch's rows). */
const STORED: CredentialItem = { value: '', version: 1, failures: 0 };

/** Which API base answered last, per platform. Held in memory: it says what this container saw, nothing more. */
export interface UpstreamStatus {
  scope: 'this container';
  wechat: { lastBase: string | null; since: string | null };
  wecom: { lastBase: string | null; since: string | null };
}

export function upstreamStatus(last: { wechat: LastBase; wecom: LastBase }): UpstreamStatus {
  const one = (l: LastBase) => ({ lastBase: l.lastBase ?? null, since: l.since === undefined ? null : new Date(l.since).toISOString() });
  return { scope: 'this container', wechat: one(last.wechat), wecom: one(last.wecom) };
}

/** What the status route and the tick's gauges show, read from the store (tokens left out). */
export class StatusView {
  constructor(
    private readonly store: CredentialStore,
    private readonly kinds: KindCatalog,
    private readonly forcedDailyBudget: number,
  ) {}

  /**
   * A page of the status route: each app's status, a platform's with its section, the platforms
   * one after another so that they share the call's authorizers budget (AUTHORIZERS_COUNTED_PER_CALL).
   */
  async page(apps: readonly HubApp[], now: number): Promise<AppStatus[]> {
    const budget = authorizerBudget();
    const out = await Promise.all(apps.map((a) => (a.type === 'platform' ? undefined : this.of(a, now))));
    for (const [i, a] of apps.entries()) if (a.type === 'platform') out[i] = await this.of(a, now, budget);
    return out as AppStatus[];
  }

  /** One app's credentials and ledger rows; with `authorizers` (a budget), a platform's section too (its authorizers counted within it). */
  async of(app: HubApp, now: number, authorizers?: AuthorizerBudget): Promise<AppStatus> {
    const kinds = this.kinds.kindsOf(app);
    const items = await Promise.all(kinds.map((k) => this.store.read(credentialKey(app, k))));
    const credentials = kinds.map((k, i) => credentialStatus(k.id, k.dependsOn !== undefined, items[i], now));
    const seen = new Set<string>();
    // Every row a fetch may be counted in: a plain one, and a forced one of a stored value (a
    // stable_token app's force_refresh has a row of its own, WeChat's 20 a day). A row both count in
    // is shown with the plain fetch's limit.
    const budget = this.forcedDailyBudget;
    const charges = kinds.flatMap((k) => [
      ...k.charges(app, { forced: false, old: undefined, forcedDailyBudget: budget }),
      ...k.charges(app, { forced: true, old: STORED, forcedDailyBudget: budget }),
    ]);
    const quota: QuotaStatus[] = [];
    for (const c of charges) {
      const id = `${c.scope}#${c.api}#${c.period}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const limit = c.limit ?? c.knownLimit;
      let used: number;
      let forced: number;
      if (c.period === 'hour') {
        const [cur, prev] = await Promise.all([this.store.readQuota(c.scope, c.api, quotaHour(now)), this.store.readQuota(c.scope, c.api, quotaHour(now - HOUR))]);
        used = cur.count + prev.count;
        forced = cur.forced + prev.forced;
      } else {
        ({ count: used, forced } = await this.store.readQuota(c.scope, c.api, quotaDay(now)));
      }
      quota.push({ scope: c.scope, api: c.api, period: c.period, used, forced, ...(limit ? { limit, percent: Math.round((used / limit) * 1000) / 10 } : {}) });
    }
    if (app.type !== 'platform' || !authorizers) return { app: app.name, type: app.type, credentials, quota };
    const ticket = items[kinds.findIndex((k) => k.id === 'component_verify_ticket')];
    const componentToken = credentials.find((c) => c.kind === 'component_access_token');
    return { app: app.name, type: app.type, credentials, quota, platform: await platformStatus(this.store, app, { ticket, componentToken }, now, authorizers) };
  }
}

function credentialStatus(kind: string, onDemand: boolean, item: CredentialItem | undefined, now: number): CredentialStatus {
  if (!item || item.value === undefined) {
    const state: CredentialStatus['state'] =
      onDemand && !item ? 'unused'
      : item?.blockedUntil !== undefined && item.blockedUntil > now ? 'blocked'
      : item?.backoffUntil !== undefined && item.backoffUntil > now ? 'backoff'
      : item?.lastError ? 'failing'
      : 'missing';
    return { kind, state, version: item?.version ?? 0, failures: item?.failures ?? 0, ...errorFields(item, now) };
  }
  const valid = servable(item, 0, undefined, now);
  const state: CredentialStatus['state'] =
    item.blockedUntil !== undefined && item.blockedUntil > now ? 'blocked'
    : item.backoffUntil !== undefined && item.backoffUntil > now ? 'backoff'
    : !valid ? 'expired'
    : item.failures > 0 ? 'failing'
    : 'ok';
  return {
    kind,
    state,
    secondsLeft: secondsLeft(item.expiresAt ?? now, now),
    ageSeconds: item.obtainedAt !== undefined ? Math.floor((now - item.obtainedAt) / 1000) : undefined,
    version: item.version,
    refreshedAt: item.obtainedAt !== undefined ? new Date(item.obtainedAt).toISOString() : undefined,
    refreshedBy: item.refreshedBy,
    failures: item.failures,
    ...errorFields(item, now),
  };
}

function errorFields(item: CredentialItem | undefined, now: number): Partial<CredentialStatus> {
  if (!item) return {};
  return {
    ...(item.lastError ? { lastError: { code: item.lastError.code, message: item.lastError.message, at: new Date(item.lastError.at).toISOString() } } : {}),
    ...(item.blockedUntil !== undefined && item.blockedUntil > now ? { blockedUntil: new Date(item.blockedUntil).toISOString() } : {}),
    ...(item.backoffUntil !== undefined && item.backoffUntil > now ? { backoffUntil: new Date(item.backoffUntil).toISOString() } : {}),
  };
}
