import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import type { HubApp } from './apps.js';
import { systemClock, type Clock } from './clock.js';
import { loadConfig, type AppConfig, type HubConfig } from './config.js';
import { appsReader, keyringReader, secretReader } from './sources.js';
import type { EdgeDeps, HttpEvent, HttpResult } from './http/edge.js';
import type { ProxyUpstreams } from './http/proxy-route.js';
import { emitGauges, StatusView, upstreamStatus, type UpstreamStatus } from './status.js';
import { KindCatalog } from './kinds/catalog.js';
import { Refresher, type TickOutcome } from './refresher.js';
import { DynamoCredentialStore } from './store/dynamodb.js';
import type { CredentialStore } from './store/store.js';
import { UpstreamBases } from './wechat/bases.js';
import { WeChatClient } from './wechat/client.js';
import { WeChatPassthrough } from './wechat/passthrough.js';

export interface HubDeps {
  clock?: Clock;
  logger?: Logger;
  /** CloudWatch metrics (EMF to stdout); in Lambda only. */
  metrics?: Metrics;
  dynamodb?: DynamoDBClient;
  /** The credential store; defaults to DynamoDB (the tests also run on the in-memory one). */
  store?: CredentialStore;
  ssm?: SSMProvider;
  /** Where `{"env": "VAR"}` secrets are read; defaults to process.env. */
  secretEnv?: Record<string, string | undefined>;
  wechatTimeouts?: { attemptTimeoutMs?: number };
  pollIntervalMs?: number;
}

/**
 * Everything one container needs, built once per cold start, without the routes: each Lambda
 * function imports only its own route module (lib/http/*), so that its bundle carries only that.
 * lib/hub.ts adds every route on top, for the local server and the tests.
 */
export class HubCore {
  readonly refresher: Refresher;
  /** Every app's credentials and ledger as an operator sees them (status route, tick gauges). */
  readonly statusView: StatusView;
  readonly config: HubConfig;
  /** What the HTTP routes need (lib/http/*-routes.ts take it). */
  readonly edge: EdgeDeps;
  readonly #log: Logger;
  /** WeChat's and WeCom's clients. */
  readonly wechat: WeChatClient;
  readonly wecom: WeChatClient;
  /** Each platform's API bases, shared by its client and its pass-through (failover state, last base). */
  readonly #bases: { wechat: UpstreamBases; wecom: UpstreamBases };
  readonly #deps: HubDeps;
  #upstreams: ProxyUpstreams | undefined;
  /** With HUB_APPS_SSM_PATH: the apps in SSM (cached), merged into the refresher's list before each use. */
  readonly #fixedApps: HubApp[];
  readonly #appsFromSsm: (() => Promise<HubApp[] | undefined>) | undefined;

  constructor(config: HubConfig, deps: HubDeps = {}) {
    const clock = deps.clock ?? systemClock;
    this.config = config;
    this.#deps = deps;
    this.#log = deps.logger ?? new Logger({ serviceName: 'wechat-token-hub' });
    const dynamodb = deps.dynamodb ?? new DynamoDBClient(config.dynamodbEndpoint ? { endpoint: config.dynamodbEndpoint } : {});
    this.#bases = {
      wechat: new UpstreamBases(config.wechatApiBases, { clock }),
      wecom: new UpstreamBases(config.wecomApiBases, { clock }),
    };
    const wechat = new WeChatClient({ baseUrl: this.#bases.wechat, clock, ...deps.wechatTimeouts });
    const wecom = new WeChatClient({ baseUrl: this.#bases.wecom, platform: 'wecom', clock, ...deps.wechatTimeouts });
    this.wechat = wechat;
    this.wecom = wecom;
    let ssm = deps.ssm;
    const secretEnv = deps.secretEnv ?? process.env;
    const ssmProvider = () => (ssm ??= new SSMProvider());
    const toApp = (a: AppConfig): HubApp => {
      const getSecret = secretReader(a, secretEnv, config.timings.secretCacheTtlSeconds, ssmProvider);
      const common = { name: a.name, tickets: a.tickets, compat: a.compat, proxyPaths: a.proxyPaths, getSecret };
      if (a.type === 'wecom') return { ...common, type: a.type, corpid: a.corpid, ...(a.agentid === undefined ? {} : { agentid: a.agentid }) };
      if (a.type === 'website') return { ...common, type: a.type, appid: a.appid };
      return { ...common, type: a.type, appid: a.appid, tokenApi: a.tokenApi };
    };
    const apps = config.apps.map(toApp);
    this.#appsFromSsm = config.appsSsmPath ? appsReader(config, ssmProvider, this.#log, toApp, () => clock.now()) : undefined;
    const kinds = new KindCatalog({ wechat, wecom });
    const store = deps.store ?? new DynamoCredentialStore({ client: dynamodb, tableName: config.tableName });
    this.statusView = new StatusView(store, kinds, config.timings.forcedDailyBudget);
    this.#fixedApps = apps;
    this.refresher = new Refresher({
      apps,
      kinds,
      store,
      clock,
      logger: this.#log,
      metrics: deps.metrics,
      settings: { ...config.timings, selfHeal: config.selfHeal, ...(deps.pollIntervalMs ? { pollIntervalMs: deps.pollIntervalMs } : {}) },
    });
    this.edge = { refresher: this.refresher, keyring: keyringReader(config, ssmProvider, this.#log), clock, logger: this.#log };
  }

  /** Serve one request with a route of lib/http: the apps brought up to date first. */
  async serve(event: HttpEvent, route: (event: HttpEvent, deps: EdgeDeps) => Promise<HttpResult>): Promise<HttpResult> {
    await this.syncApps();
    return route(event, this.edge);
  }

  /** Bring the refresher's apps up to date with SSM (no-op without HUB_APPS_SSM_PATH; cached reads). */
  async syncApps(): Promise<void> {
    if (!this.#appsFromSsm) return;
    const fromSsm = await this.#appsFromSsm();
    if (!fromSsm) return; // SSM could not be read: the list already in use stays
    const byName = new Map<string, HubApp>();
    for (const a of this.#fixedApps) byName.set(a.name, a);
    for (const a of fromSsm) {
      if (byName.has(a.name)) this.#log.error('an app in SSM has the name of an app in HUB_APPS; the SSM one is ignored', { app: a.name });
      else byName.set(a.name, a);
    }
    this.refresher.replaceApps([...byName.values()]);
  }

  /** The proxy's and the compatible paths' upstreams, made on first use. */
  proxyUpstreams(): ProxyUpstreams {
    this.#upstreams ??= {
      wechat: new WeChatPassthrough({ baseUrl: this.#bases.wechat, clock: this.edge.clock }),
      wecom: new WeChatPassthrough({ baseUrl: this.#bases.wecom, clock: this.edge.clock }),
    };
    return this.#upstreams;
  }

  /** Which API base of each platform answered last in this container (client and pass-through alike). */
  upstreamStatus(): UpstreamStatus {
    return upstreamStatus({ wechat: this.#bases.wechat.last, wecom: this.#bases.wecom.last });
  }

  /**
   * The scheduled refresh of every kind of every app, a bounded number of apps at a time (an app's
   * tickets after its token); one app's or kind's failure stops no other.
   */
  async tick(): Promise<TickOutcome[]> {
    await this.syncApps();
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
    if (this.#deps.metrics) await emitGauges(this.#deps.metrics, this.statusView, names.map((n) => this.refresher.app(n)), this.edge.clock.now(), this.#log);
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
   * Nothing to release today: WeChat is called with Node's fetch, whose idle connections Node closes
   * itself, and the DynamoDB client belongs to whoever passed it (or lives as long as the container).
   * Kept so that callers (npm start, the tests) need not change when a resource comes back.
   */
  async close(): Promise<void> {}
}

/** The hub of this Lambda container, configured from its environment on first use. */
let current: Promise<HubCore> | undefined;
export function hubFromEnvironment(): Promise<HubCore> {
  current ??= Promise.resolve().then(
    () => new HubCore(loadConfig(process.env), { metrics: new Metrics({ namespace: 'WechatTokenHub', serviceName: 'wechat-token-hub' }) }),
  );
  return current;
}
