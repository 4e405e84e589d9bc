import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import type { Dispatcher } from 'undici';
import type { HubApp } from './apps.js';
import { systemClock, type Clock } from './clock.js';
import { loadConfig, parseApiKeys, type AppConfig, type HubConfig } from './config.js';
import { KeysUnavailableError } from './http/errors.js';
import { ApiKeyring, IamPrincipals, type Authenticator } from './http/auth.js';
import { forceRefreshRoute, getTokenRoute, type EdgeDeps, type HttpEvent, type HttpResult } from './http/edge.js';
import { compatRoutes } from './http/compat-routes.js';
import { statusRoutes } from './http/status-routes.js';
import { StatusView } from './status.js';
import { proxyRoute, type ProxyUpstreams } from './http/proxy-route.js';
import { ticketRoutes } from './http/ticket-routes.js';
import { KindCatalog } from './kinds/catalog.js';
import { Refresher, type TickOutcome } from './refresher.js';
import { DynamoCredentialStore } from './store/dynamodb.js';
import { WeChatClient } from './wechat/client.js';
import { WeChatPassthrough } from './wechat/passthrough.js';

export interface HubDeps {
  clock?: Clock;
  logger?: Logger;
  /** CloudWatch metrics (EMF to stdout); in Lambda only. */
  metrics?: Metrics;
  dynamodb?: DynamoDBClient;
  /** undici dispatcher for WeChat calls (tests use short timeouts). */
  dispatcher?: Dispatcher;
  ssm?: SSMProvider;
  /** Where `{"env": "VAR"}` secrets are read; defaults to process.env. */
  secretEnv?: Record<string, string | undefined>;
  wechatTimeouts?: { connectTimeoutMs?: number; attemptTimeoutMs?: number };
  pollIntervalMs?: number;
}

/** Everything one container needs, built once per cold start. */
export class Hub {
  readonly refresher: Refresher;
  /** Every app's credentials and ledger as an operator sees them (status route, tick gauges). */
  readonly statusView: StatusView;
  readonly config: HubConfig;
  /** What the HTTP routes need (lib/http/*-routes.ts take it). */
  readonly edge: EdgeDeps;
  readonly #log: Logger;
  readonly #clients: WeChatClient[];
  readonly #deps: HubDeps;
  #upstreams: ProxyUpstreams | undefined;

  constructor(config: HubConfig, deps: HubDeps = {}) {
    const clock = deps.clock ?? systemClock;
    this.config = config;
    this.#deps = deps;
    this.#log = deps.logger ?? new Logger({ serviceName: 'wechat-token-hub' });
    const dynamodb = deps.dynamodb ?? new DynamoDBClient(config.dynamodbEndpoint ? { endpoint: config.dynamodbEndpoint } : {});
    const wechat = new WeChatClient({ baseUrl: config.wechatApiBase, clock, dispatcher: deps.dispatcher, ...deps.wechatTimeouts });
    const wecom = new WeChatClient({ baseUrl: config.wecomApiBase, platform: 'wecom', clock, dispatcher: deps.dispatcher, ...deps.wechatTimeouts });
    this.#clients = [wechat, wecom];
    let ssm = deps.ssm;
    const secretEnv = deps.secretEnv ?? process.env;
    const apps = config.apps.map((a): HubApp => {
      const getSecret = secretReader(a, secretEnv, config.timings.secretCacheTtlSeconds, () => (ssm ??= new SSMProvider()));
      const common = { name: a.name, tickets: a.tickets, compat: a.compat, proxyPaths: a.proxyPaths, getSecret };
      return a.type === 'wecom'
        ? { ...common, type: a.type, corpid: a.corpid, agentid: a.agentid }
        : { ...common, type: a.type, appid: a.appid, tokenApi: a.tokenApi };
    });
    const kinds = new KindCatalog({ wechat, wecom });
    const store = new DynamoCredentialStore({ client: dynamodb, tableName: config.tableName });
    this.statusView = new StatusView(store, kinds, config.timings.forcedDailyBudget);
    this.refresher = new Refresher({
      apps,
      kinds,
      store,
      clock,
      logger: this.#log,
      metrics: deps.metrics,
      settings: { ...config.timings, selfHeal: config.selfHeal, ...(deps.pollIntervalMs ? { pollIntervalMs: deps.pollIntervalMs } : {}) },
    });
    this.edge = { refresher: this.refresher, keyring: keyringReader(config, () => (ssm ??= new SSMProvider()), this.#log), clock, logger: this.#log };
  }

  getToken(event: HttpEvent): Promise<HttpResult> {
    return getTokenRoute(event, this.edge);
  }

  forceRefresh(event: HttpEvent): Promise<HttpResult> {
    return forceRefreshRoute(event, this.edge);
  }

  /** GET /v1/apps/{app}/tickets/{type}, POST …/tickets/{type}/refresh, POST /v1/apps/{app}/jsapi-signature */
  tickets(event: HttpEvent): Promise<HttpResult> {
    return ticketRoutes(event, this.edge);
  }

  /** GET /v1/status, GET /v1/status/{app}/quota (admin) and GET /v1/health. */
  status(event: HttpEvent): Promise<HttpResult> {
    return statusRoutes(event, this.edge, { view: this.statusView, wechat: this.#clients[0]! });
  }

  /** WeChat's own paths under /cgi-bin/ for unmodified SDKs (apps with `compat`). */
  compat(event: HttpEvent): Promise<HttpResult> {
    return compatRoutes(event, this.edge, () => this.#proxyUpstreams());
  }

  /** ANY /v1/apps/{app}/wechat/{path+}: the token-injecting proxy. */
  proxy(event: HttpEvent): Promise<HttpResult> {
    return proxyRoute(event, this.edge, this.#proxyUpstreams());
  }

  #proxyUpstreams(): ProxyUpstreams {
    this.#upstreams ??= {
      wechat: new WeChatPassthrough({ baseUrl: this.config.wechatApiBase, dispatcher: this.#deps.dispatcher }),
      wecom: new WeChatPassthrough({ baseUrl: this.config.wecomApiBase, dispatcher: this.#deps.dispatcher }),
    };
    return this.#upstreams;
  }

  /**
   * The scheduled refresh of every kind of every app, a bounded number of apps at a time (an app's
   * tickets after its token); one app's or kind's failure stops no other.
   */
  async tick(): Promise<TickOutcome[]> {
    const names = this.refresher.appNames;
    const perApp: TickOutcome[][] = new Array(names.length);
    let next = 0;
    const worker = async () => {
      while (next < names.length) {
        const i = next++;
        perApp[i] = await this.refresher.refreshAppIfDue(names[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.config.timings.tickConcurrency, names.length) }, worker));
    const outcomes = perApp.flat();
    await this.#gauges(names);
    const summary = {
      refreshed: outcomes.filter((o) => o.outcome === 'refreshed').length,
      fresh: outcomes.filter((o) => o.outcome === 'fresh').length,
      failed: outcomes.filter((o) => o.outcome === 'failed' || o.outcome === 'blocked'),
    };
    if (summary.failed.length) this.#log.error('tick finished with failures', summary);
    else this.#log.info('tick finished', summary);
    return outcomes;
  }

  /**
   * The tick's gauges (CloudWatch, in Lambda): seconds left per app and kind in use, and quota used
   * per app and API, each also hub-wide (the smallest seconds left, the largest percent) for alarms
   * that cannot know the apps.
   */
  async #gauges(names: string[]): Promise<void> {
    const metrics = this.#deps.metrics;
    if (!metrics) return;
    const now = this.edge.clock.now();
    let minLeft: number | undefined;
    let maxPercent: number | undefined;
    for (const name of names) {
      let status;
      try {
        status = await this.statusView.of(this.refresher.app(name), now);
      } catch (error) {
        this.#log.warn('tick: could not read the status for the gauges', { app: name, error: error instanceof Error ? error.name : 'unknown' });
        continue;
      }
      for (const c of status.credentials) {
        if (c.secondsLeft === undefined) continue;
        const m = metrics.singleMetric();
        m.addDimensions({ app: name, kind: c.kind });
        m.addMetric('CredentialSecondsLeft', MetricUnit.Seconds, c.secondsLeft);
        minLeft = Math.min(minLeft ?? Infinity, c.secondsLeft);
      }
      for (const q of status.quota) {
        if (q.percent === undefined || q.scope !== name || q.period !== 'day') continue;
        const m = metrics.singleMetric();
        m.addDimensions({ app: name, api: q.api });
        m.addMetric('QuotaUsedPercent', MetricUnit.Percent, q.percent);
        maxPercent = Math.max(maxPercent ?? 0, q.percent);
      }
    }
    if (minLeft !== undefined) metrics.singleMetric().addMetric('MinCredentialSecondsLeft', MetricUnit.Seconds, minLeft);
    if (maxPercent !== undefined) metrics.singleMetric().addMetric('MaxQuotaUsedPercent', MetricUnit.Percent, maxPercent);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#clients, ...Object.values(this.#upstreams ?? {})].map((c) => c.close()));
  }
}

/**
 * The keys to check callers against: fixed from HUB_API_KEYS, or read from an SSM SecureString
 * (cached for SECRET_CACHE_TTL seconds), so that a key is added or revoked without a deploy.
 */
function keyringReader(config: HubConfig, ssm: () => SSMProvider, log: Logger): () => Promise<Authenticator> {
  if (config.auth === 'iam') {
    const principals = new IamPrincipals(config.iamPrincipals);
    return async () => principals;
  }
  const name = config.apiKeysSsm;
  if (!name) {
    const fixed = new ApiKeyring(config.apiKeys);
    return async () => fixed;
  }
  let last: { raw: string; ring: ApiKeyring } | undefined;
  return async () => {
    let raw: unknown;
    try {
      raw = await ssm().get(name, { decrypt: true, maxAge: config.timings.secretCacheTtlSeconds });
    } catch (error) {
      log.error('could not read the API key list from SSM', { error: error instanceof Error ? error.name : 'unknown' });
      throw new KeysUnavailableError('API keys unavailable');
    }
    if (typeof raw !== 'string') throw new KeysUnavailableError('API keys unavailable');
    if (last?.raw === raw) return last.ring;
    try {
      last = { raw, ring: new ApiKeyring(parseApiKeys(raw, 'HUB_API_KEYS_SSM')) };
      return last.ring;
    } catch (error) {
      log.error('the API key list in SSM is invalid', { error: error instanceof Error ? error.message : 'unknown' });
      throw new KeysUnavailableError('API keys unavailable');
    }
  };
}

function secretReader(
  app: AppConfig,
  env: Record<string, string | undefined>,
  maxAge: number,
  ssm: () => SSMProvider,
): () => Promise<string> {
  const ref = app.secret;
  if ('env' in ref) {
    return async () => {
      const v = env[ref.env];
      if (!v) throw new Error(`the secret of app ${app.name} is not set`);
      return v;
    };
  }
  return async () => {
    const v = await ssm().get(ref.ssm, { decrypt: true, maxAge });
    if (typeof v !== 'string' || !v) throw new Error(`the secret of app ${app.name} could not be read from SSM`);
    return v;
  };
}

/** The hub of this Lambda container, configured from its environment on first use. */
let current: Promise<Hub> | undefined;
export function hubFromEnvironment(): Promise<Hub> {
  current ??= Promise.resolve().then(
    () => new Hub(loadConfig(process.env), { metrics: new Metrics({ namespace: 'WechatTokenHub', serviceName: 'wechat-token-hub' }) }),
  );
  return current;
}
