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
import { StatusView, upstreamStatus, type UpstreamStatus } from './status.js';
import { KindCatalog } from './kinds/catalog.js';
import { HubMetrics } from './metrics.js';
import { PrincipalRegistry } from './principals/registry.js';
import { rescheduleChangedSecrets } from './principals/secrets.js';
import { AppsInUse } from './principals/apps-in-use.js';
import { Refresher, type TickOutcome } from './refresher.js';
import { Scheduler, type TickReport } from './scheduler/scheduler.js';
import { DynamoCredentialStore } from './store/dynamodb.js';
import type { CredentialItem, CredentialKey, CredentialStore, PrincipalRow } from './store/store.js';
import { Authorizations } from './platform/authorizations.js';
import { reconcileRosters } from './platform/roster.js';
import { platformGauges } from './platform/platform-gauges.js';
import { ComponentApi } from './wechat/component.js';
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
  /**
   * Hand due-index shards to tick invocations of their own (lib/scheduler/fan-out.ts: in Lambda,
   * an asynchronous invocation of the tick function per shard); none: one invocation takes it all.
   */
  dispatch?: (shards: number[], dueBy: number) => Promise<void>;
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
  /** HUB_APPS and the apps in SSM (cached), merged, synced into the principal rows. */
  readonly #apps: AppsInUse;
  readonly #store: CredentialStore;
  readonly #scheduler: Scheduler;
  /** The platforms' component API and authorizations (lib/platform/authorizations.ts). */
  readonly component: ComponentApi;
  readonly authorizations: Authorizations;

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
    const configOf = new WeakMap<HubApp, AppConfig>();
    const toApp = (a: AppConfig): HubApp => {
      const getSecret = secretReader(a, secretEnv, config.timings.secretCacheTtlSeconds, ssmProvider);
      const common = { name: a.name, tickets: a.tickets, compat: a.compat, proxyPaths: a.proxyPaths, getSecret };
      const app: HubApp =
        a.type === 'wecom' ? { ...common, type: a.type, corpid: a.corpid, ...(a.agentid === undefined ? {} : { agentid: a.agentid }) }
        : a.type === 'website' ? { ...common, type: a.type, appid: a.appid }
        : a.type === 'platform' ? {
            ...common, type: a.type, appid: a.appid,
            getToken: secretReader({ ...a, secret: a.token }, secretEnv, config.timings.secretCacheTtlSeconds, ssmProvider, 'message token'),
            getAesKey: secretReader({ ...a, secret: a.aesKey }, secretEnv, config.timings.secretCacheTtlSeconds, ssmProvider, 'EncodingAESKey'),
          }
        : { ...common, type: a.type, appid: a.appid, tokenApi: a.tokenApi };
      configOf.set(app, a);
      return app;
    };
    const apps = config.apps.map(toApp);
    const fromSsm = config.appsSsmPath ? appsReader(config, ssmProvider, this.#log, toApp, () => clock.now()) : undefined;
    const kinds = new KindCatalog({ wechat, wecom });
    const store = deps.store ?? new DynamoCredentialStore({ client: dynamodb, tableName: config.tableName });
    this.statusView = new StatusView(store, kinds, config.timings.forcedDailyBudget);
    this.#store = store;
    this.refresher = new Refresher({
      principals: new PrincipalRegistry(apps, kinds, { store, now: () => clock.now() }),
      store,
      clock,
      logger: this.#log,
      metrics: deps.metrics,
      settings: { ...config.timings, selfHeal: config.selfHeal, ...(deps.pollIntervalMs ? { pollIntervalMs: deps.pollIntervalMs } : {}) },
    });
    this.#apps = new AppsInUse({ registry: this.refresher.principals, store, log: this.#log, now: () => clock.now(), fromSsm }, apps, (a) => configOf.get(a));
    this.#scheduler = new Scheduler({
      store,
      refreshPrincipal: (app, entries) => this.refresher.refreshPrincipalDue(app, entries),
      dispatch: deps.dispatch,
      now: () => clock.now(),
      log: this.#log,
      settings: { concurrency: config.timings.tickConcurrency, invocationBudget: config.timings.tickInvocationBudget },
    });
    this.component = new ComponentApi(wechat);
    this.authorizations = new Authorizations({ refresher: this.refresher, store, component: this.component, clock, log: this.#log });
    this.edge = { refresher: this.refresher, keyring: keyringReader(config, ssmProvider, this.#log), clock, logger: this.#log };
  }

  /** Serve one request with a route of lib/http: the apps brought up to date first. */
  async serve(event: HttpEvent, route: (event: HttpEvent, deps: EdgeDeps) => Promise<HttpResult>): Promise<HttpResult> {
    // The principal rows and the index, in line with the list: one meta read once per list in this
    // container; after a configuration change only the rows that changed are written, 8 at a time.
    await this.#apps.sync();
    return route(event, this.edge);
  }

  /** Bring the apps up to date with SSM, and the principal rows and due index with them (lib/principals/apps-in-use.ts). */
  syncApps(): Promise<void> {
    return this.#apps.sync();
  }

  claimOnce(name: string, claim: { now: number; until: number; attempt: string }): Promise<boolean> {
    return this.#store.claimOnce(name, claim);
  }

  releaseOnce(name: string, attempt: string): Promise<void> {
    return this.#store.releaseOnce(name, attempt);
  }

  readCredential(key: CredentialKey): Promise<CredentialItem | undefined> {
    return this.#store.read(key);
  }

  /** The principal rows, a page at a time (GET /v1/principals, a platform's authorizers). */
  async listPrincipals(options: { limit: number; cursor?: string; prefix?: string }): Promise<{ principals: PrincipalRow[]; cursor?: string }> {
    await this.syncApps();
    return this.#store.listPrincipals(options);
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
   * The scheduled refresh (lib/scheduler): what the due index says is due, principals a bounded
   * number at a time (an app's tickets after its token); one failing stops no other. `shards`: an
   * invocation dispatched by another tick (fan-out) takes only those; `deadline`: when it stops
   * taking on work and dispatches the rest.
   */
  async tick(options: { shards?: readonly number[]; deadline?: number; dueBy?: number } = {}): Promise<TickOutcome[]> {
    return (await this.tickReport(options)).outcomes;
  }

  /** tick(), with what it dispatched and saw. */
  async tickReport(options: { shards?: readonly number[]; deadline?: number; dueBy?: number } = {}): Promise<TickReport> {
    await this.syncApps();
    // The scheduled tick (not a dispatched shard) puts the credentials of a changed secret due now.
    if (!options.shards) {
      await rescheduleChangedSecrets(this.#store, this.#apps.list, (a) => this.refresher.principals.kindsOf(a), this.edge.clock.now(), this.#log).catch((error: unknown) => {
        this.#log.warn('tick: could not compare the secrets with the ones seen last', { error: error instanceof Error ? error.name : 'unknown' });
      });
    }
    const report = await this.#scheduler.tick(options);
    const outcomes = report.outcomes;
    // The gauge the expiry alarm reads, from what the tick saw (no read per credential).
    const metrics = new HubMetrics(this.#deps.metrics);
    if (report.minSecondsLeft !== undefined) metrics.gauge('MinCredentialSecondsLeft', 'Seconds', report.minSecondsLeft);
    // The platforms' (lib/platform/platform-gauges.ts): their tickets' age from the scheduled tick only.
    await platformGauges({ metrics, apps: this.#apps.list, read: (k) => this.#store.read(k), now: () => this.edge.clock.now(), log: this.#log }, outcomes, !options.shards);
    // Each platform's authorizers compared with WeChat's list, every 6 hours (lib/platform/roster.ts).
    if (!options.shards) await reconcileRosters({ store: this.#store, refresher: this.refresher, component: this.component, now: () => this.edge.clock.now(), log: this.#log, intervalMs: this.config.rosterIntervalMs }, this.#apps.list);
    const summary = {
      refreshed: outcomes.filter((o) => o.outcome === 'refreshed').length,
      fresh: outcomes.filter((o) => o.outcome === 'fresh').length,
      failed: outcomes.filter((o) => o.outcome === 'failed' || o.outcome === 'blocked'),
      dispatched: report.dispatched,
      queries: report.queries,
    };
    if (summary.failed.length) this.#log.error('tick finished with failures', summary);
    else this.#log.info('tick finished', summary);
    return report;
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
/**
 * `deps`: what only one function adds (the tick's fan-out, lib/scheduler/fan-out.ts, built in
 * functions/refresh-tick.ts so that no other bundle carries the Lambda client).
 */
export function hubFromEnvironment(deps: Pick<HubDeps, 'dispatch'> = {}): Promise<HubCore> {
  current ??= Promise.resolve().then(
    () => new HubCore(loadConfig(process.env), { metrics: new Metrics({ namespace: 'WechatTokenHub', serviceName: 'wechat-token-hub' }), ...deps }),
  );
  return current;
}
