import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { loadConfig } from '../../lib/config.js';
import { hashApiKey } from '../../lib/http/auth.js';
import { Hub, type HubDeps } from '../../lib/hub.js';
import { startDynalite, type EmbeddedDynamo } from '../../lib/local/dynalite.js';
import { WeChatSimulator } from '../../lib/simulator/wechat-simulator.js';
import { DynamoCredentialStore, ensureTable } from '../../lib/store/dynamodb.js';
import { MemoryCredentialStore } from '../../lib/store/memory.js';
import type { CredentialStore } from '../../lib/store/store.js';
import { ManualClock } from './manual-clock.js';

export const READ_KEY = `test_read_${'r'.repeat(24)}`;
export const REFRESH_KEY = `test_refresh_${'f'.repeat(24)}`;
export const OTHER_APP_KEY = `test_other_${'o'.repeat(24)}`;
export const PROXY_KEY = `test_proxy_${'p'.repeat(24)}`;
export const ADMIN_KEY = `test_admin_${'a'.repeat(24)}`;

export const APPS = [
  { name: 'oa', appid: 'wx_oa_0001', type: 'official_account', tokenApi: 'classic', secret: { env: 'SECRET_OA' } },
  { name: 'mp', appid: 'wx_mp_0002', type: 'mini_program', tokenApi: 'stable', secret: { env: 'SECRET_MP' } },
  { name: 'other', appid: 'wx_other_03', type: 'official_account', tokenApi: 'classic', secret: { env: 'SECRET_OTHER' } },
  { name: 'crm', type: 'wecom', corpid: 'ww_corp_0001', agentid: 1000002, secret: { env: 'SECRET_CRM' } },
];

/** The WeCom app's id in the simulator (`corpid/agentid`). */
export const CRM = 'ww_corp_0001/1000002';

/** APPS with the WeChat-compatible paths on (and the tick keeping their tickets), for SDK tests. */
export const COMPAT_APPS = APPS.map((a) => ({
  ...a,
  compat: a.name !== 'other',
  ...(a.name === 'oa' ? { tickets: ['jsapi'] } : a.name === 'crm' ? { tickets: ['jsapi', 'agent_config'] } : {}),
}));

/** One DynamoDB engine for a test file; each world gets its own table. */
let dynamo: EmbeddedDynamo | undefined;
export async function sharedDynalite(): Promise<EmbeddedDynamo> {
  dynamo ??= await startDynalite();
  return dynamo;
}

/**
 * Which credential store a world's containers share: DynamoDB (dynalite, its own table per world,
 * each container with its own client) or one MemoryCredentialStore for the whole world.
 */
export type TestStore = 'dynamo' | 'memory';

/**
 * The stores the scenario tests run on (`describe.each(TEST_STORES)`): both, or only the one
 * HUB_TEST_STORE names (`HUB_TEST_STORE=memory npx vitest run …`).
 */
export const TEST_STORES: readonly TestStore[] = (() => {
  const only = process.env.HUB_TEST_STORE;
  if (only === undefined || only === '') return ['dynamo', 'memory'];
  if (only !== 'dynamo' && only !== 'memory') throw new Error(`HUB_TEST_STORE must be dynamo or memory, not ${only}`);
  return [only];
})();

/** The class of a world's store, whose prototype a test spies on to see every container's calls. */
export function storePrototype(kind: TestStore): CredentialStore {
  return kind === 'memory' ? MemoryCredentialStore.prototype : DynamoCredentialStore.prototype;
}

export interface World {
  clock: ManualClock;
  sim: WeChatSimulator;
  /** The simulator's URL (WECHAT_API_BASE and WECOM_API_BASE of every container). */
  wechatBase: string;
  secrets: Record<string, string>;
  /** The DynamoDB table (with the memory store: a name only, no table is created). */
  tableName: string;
  /** Which store the containers share. */
  storeKind: TestStore;
  /** The store as the test reads and writes it directly (with `memory`: the very one the containers use). */
  store: CredentialStore;
  /** Change a secret as the secret store would (every container sees it). */
  setSecret(name: string, value: string): void;
  /** A new hub, as a new Lambda container would build it (own clients, own caches). */
  container(env?: Record<string, string>, deps?: Partial<HubDeps>): Hub;
  close(): Promise<void>;
}

export async function startWorld(
  options: { env?: Record<string, string>; clock?: ManualClock; logger?: Logger; store?: TestStore } = {},
): Promise<World> {
  const storeKind = options.store ?? TEST_STORES[0]!;
  const clock = options.clock ?? new ManualClock();
  const secrets = {
    SECRET_OA: randomBytes(16).toString('hex'),
    SECRET_MP: randomBytes(16).toString('hex'),
    SECRET_OTHER: randomBytes(16).toString('hex'),
    SECRET_CRM: randomBytes(16).toString('hex'),
  };
  const sim = new WeChatSimulator({
    now: () => clock.now(),
    apps: [
      { appid: 'wx_oa_0001', secret: secrets.SECRET_OA },
      { appid: 'wx_mp_0002', secret: secrets.SECRET_MP },
      { appid: 'wx_other_03', secret: secrets.SECRET_OTHER },
    ],
    wecomApps: [{ corpid: 'ww_corp_0001', agentid: 1000002, secret: secrets.SECRET_CRM }],
  });
  const base = await sim.listen();
  const tableName = `hub-${randomBytes(4).toString('hex')}`;
  const hubs: Hub[] = [];
  const clients: DynamoDBClient[] = [];
  // With the memory store, no engine: a client is still made per container (HubDeps.dynamodb), never used.
  const endpoint = storeKind === 'dynamo' ? (await sharedDynalite()).endpoint : 'http://127.0.0.1:9';
  const newClient = () => {
    const c = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
    clients.push(c);
    return c;
  };
  const memory = storeKind === 'memory' ? new MemoryCredentialStore() : undefined;
  if (!memory) await ensureTable(newClient(), tableName);
  const logger = options.logger ?? new Logger({ serviceName: 'test', logLevel: 'SILENT' });
  const env = {
    HUB_APPS: JSON.stringify(APPS),
    HUB_API_KEYS: JSON.stringify([
      { name: 'reader', sha256: hashApiKey(READ_KEY), apps: ['oa', 'mp', 'crm'], scopes: ['read'] },
      { name: 'refresher', sha256: hashApiKey(REFRESH_KEY), apps: ['oa', 'mp', 'crm'], scopes: ['read', 'refresh'] },
      { name: 'other-only', sha256: hashApiKey(OTHER_APP_KEY), apps: ['other'], scopes: ['read', 'refresh'] },
      { name: 'proxy', sha256: hashApiKey(PROXY_KEY), apps: ['oa', 'mp', 'crm'], scopes: ['proxy'] },
      { name: 'operator', sha256: hashApiKey(ADMIN_KEY), apps: ['*'], scopes: ['admin'] },
    ]),
    WECHAT_API_BASE: base,
    WECOM_API_BASE: base, // the simulator answers WeCom's paths too
    TABLE_NAME: tableName,
    ...secrets,
    ...options.env,
  };
  const secretEnv: Record<string, string> = { ...secrets };
  return {
    clock,
    sim,
    wechatBase: base,
    secrets,
    tableName,
    storeKind,
    store: memory ?? new DynamoCredentialStore({ client: newClient(), tableName }),
    setSecret(name, value) {
      secretEnv[name] = value;
    },
    container(extra = {}, deps = {}) {
      const all = { ...env, ...extra };
      const hub = new Hub(loadConfig(all), {
        clock,
        logger,
        dynamodb: newClient(),
        secretEnv,
        wechatTimeouts: { attemptTimeoutMs: 300 },
        pollIntervalMs: 100,
        ...(memory ? { store: memory } : {}),
        ...deps,
      });
      hubs.push(hub);
      return hub;
    },
    async close() {
      await Promise.all(hubs.map((h) => h.close()));
      clients.forEach((c) => c.destroy());
      await sim.close();
    },
  };
}

/** A real-looking API Gateway v2 event for one of the hub's routes. */
export function httpEvent(options: {
  method?: string;
  app?: string;
  path?: string;
  key?: string;
  body?: unknown;
  contentType?: string;
  query?: string;
  headers?: Record<string, string>;
  /** API Gateway's route key and path parameters, for routes other than the token's. */
  routeKey?: string;
  pathParameters?: Record<string, string>;
}): APIGatewayProxyEventV2 {
  const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
  const path = options.path ?? `/v1/apps/${options.app ?? 'oa'}/access-token${method === 'POST' ? '/refresh' : ''}`;
  const headers: Record<string, string> = { host: 'hub.example', ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const routeKey = options.routeKey ?? (method === 'POST' ? 'POST /v1/apps/{app}/access-token/refresh' : 'GET /v1/apps/{app}/access-token');
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: options.query ?? '',
    headers,
    pathParameters: options.pathParameters ?? (options.app === undefined && options.path ? undefined : { app: options.app ?? 'oa' }),
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'hub.example',
      domainPrefix: 'hub',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      requestId: randomBytes(8).toString('hex'),
      routeKey,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
    isBase64Encoded: false,
  };
}

export function json(res: APIGatewayProxyStructuredResultV2): any {
  return JSON.parse(res.body ?? 'null');
}

export async function closeSharedDynalite(): Promise<void> {
  await dynamo?.close();
  dynamo = undefined;
}

/** A request to the ticket family: `GET …/tickets/{type}`, `POST …/tickets/{type}/refresh` or `POST …/jsapi-signature`. */
export function ticketEvent(options: { app: string; key?: string; type?: string; refresh?: string; url?: unknown; body?: unknown }): APIGatewayProxyEventV2 {
  const { app, type } = options;
  if (type === undefined) {
    return httpEvent({ method: 'POST', app, key: options.key, path: `/v1/apps/${app}/jsapi-signature`, routeKey: 'POST /v1/apps/{app}/jsapi-signature', pathParameters: { app }, body: options.body ?? { url: options.url } });
  }
  if (options.refresh === undefined && options.body === undefined) {
    return httpEvent({ method: 'GET', app, key: options.key, path: `/v1/apps/${app}/tickets/${type}`, routeKey: 'GET /v1/apps/{app}/tickets/{type}', pathParameters: { app, type } });
  }
  return httpEvent({
    method: 'POST', app, key: options.key, path: `/v1/apps/${app}/tickets/${type}/refresh`, routeKey: 'POST /v1/apps/{app}/tickets/{type}/refresh',
    pathParameters: { app, type }, body: options.body ?? { stale_ticket: options.refresh },
  });
}
