import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { ConfigurationInvalidError, loadConfig, type HubConfig } from '../config.js';
import { hashApiKey } from '../http/auth.js';
import { createLocalServer } from '../http/local-server.js';
import { Hub } from '../hub.js';
import { WeChatSimulator } from '../simulator/wechat-simulator.js';
import { ensureTable } from '../store/dynamodb.js';
import { startDynalite } from './dynalite.js';
import { upgradeLocalTable } from './upgrade-table.js';
import { claimDataDir, dataDirOf, realWeChatWarning } from './local-settings.js';

const TICK_MS = 5 * 60_000;

export interface LocalHub {
  url: string;
  close(): Promise<void>;
}

/**
 * `npm start`: dynalite in process (in memory, or on disk in HUB_DATA_DIR), the WeChat simulator
 * with a demo app unless HUB_APPS is set, the handlers behind a local HTTP server, and the tick
 * every 5 minutes.
 */
export async function runLocal(env: Record<string, string | undefined>, print: (line: string) => void): Promise<LocalHub> {
  const settings = { ...env };
  const closers: (() => Promise<void>)[] = [];
  const notes: string[] = [];
  let demoKey: string | undefined;
  // Set but empty is set (loadConfig refuses it, as it refuses PORT=''), not "use the demo".
  const ownApps = settings.HUB_APPS !== undefined || Boolean(settings.HUB_APPS_SSM_PATH);
  const keysGiven = settings.HUB_API_KEYS !== undefined || Boolean(settings.HUB_API_KEYS_SSM);
  // A key for every app with every scope is a demo's convenience; for real apps it is a leak waiting.
  if (ownApps && !keysGiven && settings.HUB_AUTH !== 'iam') {
    const names = loadConfig(settings).apps.map((a) => a.name).join(','); // a mistake in the rest of the configuration is named first
    throw new ConfigurationInvalidError(
      'Invalid configuration: HUB_API_KEYS: is required when HUB_APPS (or HUB_APPS_SSM_PATH) names your own apps; npm start makes a key only for its demo apps. ' +
        `Make one with \`npm run key -- --apps ${names || '<app,app|*>'} --scopes read\` (it prints the key once and its entry) and start with HUB_API_KEYS='[<that entry>]'`,
    );
  }

  if (!ownApps) {
    const sim = new WeChatSimulator();
    const secret = randomBytes(16).toString('hex');
    const wecomSecret = randomBytes(16).toString('hex');
    sim.addApp({ appid: 'wx_demo_app', secret });
    sim.addWeComApp({ corpid: 'ww_demo_corp', agentid: 1000002, secret: wecomSecret });
    settings.WECHAT_API_BASE = await sim.listen(0);
    settings.WECOM_API_BASE = settings.WECHAT_API_BASE; // the simulator answers WeCom's paths too
    settings.HUB_DEMO_SECRET = secret;
    settings.HUB_DEMO_WECOM_SECRET = wecomSecret;
    settings.HUB_APPS = JSON.stringify([
      { name: 'demo', appid: 'wx_demo_app', type: 'official_account', tokenApi: 'classic', secret: { env: 'HUB_DEMO_SECRET' }, compat: true },
      { name: 'demo-wecom', type: 'wecom', corpid: 'ww_demo_corp', agentid: 1000002, secret: { env: 'HUB_DEMO_WECOM_SECRET' }, compat: true },
    ]);
    closers.push(() => sim.close());
    notes.push(`WeChat and WeCom simulator: ${settings.WECHAT_API_BASE} (demo apps "demo", an Official Account, and "demo-wecom"; no HUB_APPS set)`);
  }
  // The demo's one key (shown once). With IAM auth there are no API keys to hand out: callers are IAM principals.
  if (!ownApps && !keysGiven && settings.HUB_AUTH !== 'iam') {
    demoKey = `hub_${randomBytes(24).toString('base64url')}`;
    settings.HUB_API_KEYS = JSON.stringify([{ name: 'local-demo', sha256: hashApiKey(demoKey), apps: ['*'], scopes: ['read', 'refresh', 'proxy', 'login', 'admin'] }]);
  }
  let dataDir: string | undefined;
  try {
    dataDir = await dataDirOf(settings);
    if (dataDir) closers.push(await claimDataDir(dataDir));
  } catch (error) {
    await Promise.all(closers.map((c) => c()));
    throw error;
  }
  const dynamo = await startDynalite({ path: dataDir });
  closers.push(() => dynamo.close());
  settings.DYNAMODB_ENDPOINT = dynamo.endpoint;

  let config;
  try {
    config = loadConfig(settings);
  } catch (error) {
    await Promise.all(closers.map((c) => c()));
    throw error;
  }
  // Before the first tick fetches anything with them.
  const warning = realWeChatWarning(config, ownApps, dataDir);
  if (warning) print(warning);
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  if (await upgradeLocalTable(client, config.tableName)) print(`The data directory's table was made by an older hub: copied into one with the due index (${config.tableName}).`);
  await ensureTable(client, config.tableName);
  const logger = new Logger({ serviceName: 'wechat-token-hub', logLevel: config.logLevel });
  const hub = new Hub(config, { dynamodb: client, logger, secretEnv: settings });

  const server = createLocalServer(hub);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ticking = setInterval(() => void hub.tick(), TICK_MS);
  await hub.tick();

  print(`wechat-token-hub is running at ${url}`);
  for (const n of notes) print(n);
  print(`DynamoDB (dynalite, ${dataDir ? `on disk in ${dataDir}` : 'in memory'}): ${dynamo.endpoint}`);
  print(`Apps: ${config.apps.map((a) => a.name).join(', ')}; the tick refreshes every 5 minutes.`);
  for (const line of config.auth === 'iam' ? iamLines(config) : tryLines(config, url, demoKey)) print(line);

  return {
    url,
    close: async () => {
      clearInterval(ticking);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await hub.close();
      client.destroy();
      for (const c of closers.reverse()) await c();
    },
  };
}

/**
 * With HUB_AUTH=iam, API Gateway's IAM authorizer checks each request's SigV4 signature and passes
 * on who signed it. Nothing emulates it locally, so the local server can authenticate no one: say
 * so, rather than print a key and curl lines that could not work.
 */
function iamLines(config: HubConfig): string[] {
  return [
    `HUB_AUTH=iam: requests must be SigV4-signed by a principal in HUB_IAM_PRINCIPALS (${config.iamPrincipals.map((p) => p.name).join(', ')}).`,
    'The IAM authorizer is API Gateway\'s and is not emulated locally, so this server cannot authenticate any request: every route that needs a caller answers 401 (only GET /v1/health answers), and the WeChat-compatible paths, which take API keys, refuse every caller.',
    'The tick still keeps the apps\' tokens fresh in the local store. To try the API locally, start without HUB_AUTH=iam (API keys).',
  ];
}

/**
 * The demo key, if one was made, printed once; then a curl line for each kind of route, which read
 * the key from $HUB_KEY (so the key is on the screen, and in the terminal's scrollback, once).
 */
function tryLines(config: HubConfig, url: string, demoKey: string | undefined): string[] {
  const lines: string[] = [];
  const app = (config.apps.find((a) => a.type !== 'website') ?? config.apps[0]!).name; // a website app has no token
  const jssdk = config.apps.find((a) => a.type === 'official_account' || a.type === 'wecom')?.name;
  if (demoKey) {
    lines.push(`Demo API key (read, refresh, proxy, login, admin on every app; shown once): ${demoKey}`);
    lines.push('Try (first: export HUB_KEY=<the demo key above>):');
  } else {
    lines.push('Try (first: export HUB_KEY=<one of your keys>):');
  }
  const auth = '-H "Authorization: Bearer $HUB_KEY"';
  lines.push(`  curl -s ${auth} ${url}/v1/apps/${app}/access-token`);
  if (jssdk) {
    lines.push(`  curl -s ${auth} ${url}/v1/apps/${jssdk}/tickets/jsapi`);
    lines.push(`  curl -s ${auth} -H 'content-type: application/json' -d '{"url":"https://example.com/page"}' ${url}/v1/apps/${jssdk}/jsapi-signature`);
  }
  lines.push(`  curl -s ${auth} ${url}/v1/apps/${app}/wechat/cgi-bin/getcallbackip`);
  const compat = config.apps.find((a) => a.compat && (a.type === 'official_account' || a.type === 'mini_program'));
  if (compat && compat.type !== 'wecom' && compat.type !== 'website') {
    lines.push(`An unmodified SDK: API base ${url}, appid ${compat.appid}, and a hub key as its secret:`);
    lines.push(`  curl -s "${url}/cgi-bin/token?grant_type=client_credential&appid=${compat.appid}&secret=$HUB_KEY"`);
  }
  lines.push(`The hub's state: npm run status -- --url ${url} --key "$HUB_KEY"${demoKey ? '' : ' (a key with the admin scope)'}`);
  return lines;
}

export { ConfigurationInvalidError };
