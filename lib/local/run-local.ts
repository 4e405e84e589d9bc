import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { ConfigurationInvalidError, loadConfig } from '../config.js';
import { hashApiKey } from '../http/auth.js';
import { createLocalServer } from '../http/local-server.js';
import { Hub } from '../hub.js';
import type { Clock } from '../clock.js';
import type { TickOutcome } from '../refresher.js';
import type { WeChatSimulator } from '../simulator/wechat-simulator.js';
import { ensureTable } from '../store/dynamodb.js';
import { DEMO_AUTHORIZER, startDemo, type Demo } from './demo.js';
import { startDynalite } from './dynalite.js';
import { upgradeLocalTable } from './upgrade-table.js';
import { claimDataDir, dataDirOf, realWeChatWarning } from './local-settings.js';
import { iamLines, tryLines } from './start-lines.js';

const TICK_MS = 5 * 60_000;

export interface LocalHub {
  url: string;
  /** The tick, now (as the 5-minute timer runs it): for tests that moved an injected clock. */
  tick(): Promise<TickOutcome[]>;
  /** The demo's simulator (no HUB_APPS; undefined otherwise), for tests: its pushes, its calls. */
  simulator?: WeChatSimulator;
  /** Stops the timer, waits for a tick under way, then closes the server, the hub, dynalite and the simulator. */
  close(): Promise<void>;
}

export interface LocalOptions {
  /** The hub's clock (default: the system's), for tests whose WeChat stand-in shares it; the timers stay real. */
  clock?: Clock;
}

/**
 * `npm start`: dynalite in process (in memory, or on disk in HUB_DATA_DIR), the WeChat simulator
 * with the demo apps and the demo platform unless HUB_APPS is set (lib/local/demo.ts), the handlers
 * behind a local HTTP server, and the tick every 5 minutes.
 */
export async function runLocal(env: Record<string, string | undefined>, print: (line: string) => void, options: LocalOptions = {}): Promise<LocalHub> {
  const settings = { ...env };
  const closers: (() => Promise<void>)[] = [];
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

  let demo: Demo | undefined;
  if (!ownApps) {
    demo = await startDemo();
    Object.assign(settings, demo.settings);
    closers.push(() => demo!.close());
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
  const hub = new Hub(config, { dynamodb: client, logger, secretEnv: settings, ...(options.clock ? { clock: options.clock } : {}) });

  const server = createLocalServer(hub);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await demo?.listening(url);
  // One tick at a time; close() waits for the one under way (it would find dynalite closed under it).
  let running: Promise<unknown> = Promise.resolve();
  const tick = (): Promise<TickOutcome[]> => {
    const t = running.then(() => hub.tick());
    running = t.catch((error: unknown) => logger.error('tick failed', { error: error instanceof Error ? error.name : 'unknown' }));
    return t;
  };
  const ticking = setInterval(() => void tick().catch(() => undefined), TICK_MS);
  await tick();

  print(`wechat-token-hub is running at ${url}`);
  for (const n of demo?.notes(url, config.auth !== 'iam') ?? []) print(n);
  print(`DynamoDB (dynalite, ${dataDir ? `on disk in ${dataDir}` : 'in memory'}): ${dynamo.endpoint}`);
  print(`Apps: ${config.apps.map((a) => a.name).join(', ')}; the tick refreshes every 5 minutes.`);
  for (const line of config.auth === 'iam' ? iamLines(config) : tryLines(config, url, demoKey, demo ? DEMO_AUTHORIZER : undefined)) print(line);

  return {
    url,
    tick,
    ...(demo ? { simulator: demo.simulator } : {}),
    close: async () => {
      clearInterval(ticking);
      await running;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await hub.close();
      client.destroy();
      for (const c of closers.reverse()) await c();
    },
  };
}

export { ConfigurationInvalidError };
