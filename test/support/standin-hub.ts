import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Clock } from '../../lib/clock.js';
import { loadConfig } from '../../lib/config.js';
import { hashApiKey } from '../../lib/http/auth.js';
import type { HttpEvent, HttpResult } from '../../lib/http/edge.js';
import { createLocalServer, type LocalRoutes } from '../../lib/http/local-server.js';
import { Hub } from '../../lib/hub.js';
import { ensureTable } from '../../lib/store/dynamodb.js';
import { listen, type Listening } from './listen.js';
import { WeChatStandIn } from './standin.js';
import { sharedDynalite } from './world.js';

/**
 * One hub, served over HTTP by the project's local server, in front of its own WeChat stand-in
 * (test/support/standin.ts, not the simulator), with one compat Official Account whose jsapi
 * ticket the tick keeps fresh, and one hub key with the read scope (an SDK's "secret").
 * Every answer of the WeChat-compatible paths is recorded: what an SDK was told, hub-made or
 * passed on from the stand-in.
 */

export const STANDIN_APPID = 'wx_standin_0001';
export const STANDIN_APP = 'shop';
/** The paths on which the hub answers for a token or ticket itself (the rest are passed on). */
export const CREDENTIAL_PATHS = new Set(['/cgi-bin/token', '/cgi-bin/stable_token', '/cgi-bin/ticket/getticket']);

/** One answer of the WeChat-compatible paths, as the SDK received it. */
export interface EdgeAnswer {
  at: number;
  method: string;
  path: string;
  /** 0 when the answer carried no errcode (or errcode 0). */
  errcode: number;
}

export interface StandInHub {
  hub: Hub;
  standin: WeChatStandIn;
  /** The hub's base URL, no trailing slash: the SDKs' API base. */
  url: string;
  standinUrl: string;
  /** A hub key with the read scope on the app. */
  key: string;
  edge: EdgeAnswer[];
  close(): Promise<void>;
}

/**
 * A clock for the hub that reads `Date.now()` (so vitest's fake Date moves the hub, the SDKs and the
 * stand-in together) and whose sleep yields to the event loop without moving time.
 */
export const dateClock: Clock = {
  now: () => Date.now(),
  sleep: () => new Promise((resolve) => setTimeout(resolve, 1)),
};

export async function startStandInHub(options: { env?: Record<string, string> } = {}): Promise<StandInHub> {
  const secret = randomBytes(16).toString('hex');
  const key = `hub_sdk_${randomBytes(18).toString('base64url')}`;
  const standin = new WeChatStandIn({ apps: [{ appid: STANDIN_APPID, secret }] });
  const standinUrl = await standin.listen();
  const engine = await sharedDynalite();
  const dynamodb = new DynamoDBClient({ endpoint: engine.endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
  const tableName = `sdk-${randomBytes(4).toString('hex')}`;
  await ensureTable(dynamodb, tableName);
  const config = loadConfig({
    HUB_APPS: JSON.stringify([
      { name: STANDIN_APP, appid: STANDIN_APPID, type: 'official_account', tokenApi: 'classic', secret: { env: 'STANDIN_SECRET' }, tickets: ['jsapi'], compat: true },
    ]),
    HUB_API_KEYS: JSON.stringify([{ name: 'sdk', sha256: hashApiKey(key), apps: [STANDIN_APP], scopes: ['read'] }]),
    WECHAT_API_BASE: standinUrl,
    WECOM_API_BASE: standinUrl,
    TABLE_NAME: tableName,
    STANDIN_SECRET: secret,
    ...options.env,
  });
  const hub = new Hub(config, {
    clock: dateClock,
    logger: new Logger({ serviceName: 'sdk-rotation', logLevel: 'SILENT' }),
    dynamodb,
    secretEnv: { STANDIN_SECRET: secret },
    wechatTimeouts: { attemptTimeoutMs: 2000 },
    pollIntervalMs: 20,
  });
  const edge: EdgeAnswer[] = [];
  const routes: LocalRoutes = {
    getToken: (e) => hub.getToken(e),
    forceRefresh: (e) => hub.forceRefresh(e),
    tickets: (e) => hub.tickets(e),
    proxy: (e) => hub.proxy(e),
    status: (e) => hub.status(e),
    compat: async (e: HttpEvent) => {
      const result = await hub.compat(e);
      edge.push({ at: Date.now(), method: e.requestContext.http.method, path: e.rawPath, errcode: errcodeOf(result) });
      return result;
    },
  };
  const server: Listening = await listen(createLocalServer(routes));
  return {
    hub,
    standin,
    url: server.url,
    standinUrl,
    key,
    edge,
    async close() {
      await server.close();
      await hub.close();
      dynamodb.destroy();
      await standin.close();
    },
  };
}

function errcodeOf(result: HttpResult): number {
  if (result.isBase64Encoded || !result.body?.startsWith('{')) return 0;
  try {
    const errcode = (JSON.parse(result.body) as { errcode?: unknown }).errcode;
    return typeof errcode === 'number' ? errcode : 0;
  } catch {
    return 0;
  }
}
