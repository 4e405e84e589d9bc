/**
 * Scale (issue 14): 10,000 registered credentials and the tick that reads only what is due. One
 * table, 10,100 Official Accounts (one token each; self-healing off, so only renewals make a token
 * due): 100 are fetched first, the other 10,000 ten minutes later, all due at once, with 100 ms of
 * simulated WeChat latency, through the tick's fan-out (each dispatched shard runs as a container of
 * its own, concurrently, as Lambda runs asynchronous invocations). Then a tick with nothing due, and
 * one with the first 100 (1 %) due. Every DynamoDB request of every container is counted. Returns
 * the BENCHMARKS.md section.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { loadConfig } from '../lib/config.js';
import { Hub } from '../lib/hub.js';
import { DUE_SHARDS } from '../lib/scheduler/shards.js';
import { WeChatSimulator } from '../lib/simulator/wechat-simulator.js';
import { ensureTable } from '../lib/store/dynamodb.js';
import { ManualClock } from '../test/support/manual-clock.js';
import { sharedDynalite } from '../test/support/world.js';
import { FanOut, TICK_TIMEOUT_MS, type Run } from './fan-out-harness.js';

const MINUTE = 60_000;

export async function scaleSection(tiny = false): Promise<string> {
  const early = tiny ? 2 : 100;
  const later = tiny ? 40 : 10_000;
  const latency = tiny ? 5 : 100;
  const total = early + later;
  const clock = new ManualClock();
  const sim = new WeChatSimulator({ now: () => clock.now(), latencyMs: latency });
  const secrets: Record<string, string> = {};
  const apps = Array.from({ length: total }, (_, i) => {
    const appid = `wx_scale_${String(i).padStart(5, '0')}`;
    secrets[`S_${i}`] = `secret-${i}`;
    sim.addApp({ appid, secret: `secret-${i}` });
    return { name: `a${i}`, appid, type: 'official_account', secret: { env: `S_${i}` } };
  });
  const base = await sim.listen();
  const engine = await sharedDynalite();
  let requests = 0;
  const clients: DynamoDBClient[] = [];
  const client = () => {
    const c = new DynamoDBClient({ endpoint: engine.endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    c.middlewareStack.add((next) => (args) => (requests++, next(args)), { step: 'initialize' });
    clients.push(c);
    return c;
  };
  const table = `scale-${Date.now()}`;
  await ensureTable(client(), table);
  const logger = new Logger({ serviceName: 'bench', logLevel: 'SILENT' });
  const env = (list: typeof apps) => ({ ...secrets, HUB_APPS: JSON.stringify(list), WECHAT_API_BASE: base, TABLE_NAME: table, SELF_HEAL: 'off' });
  // One container per invocation, dispatched shards run one after the other, each timed alone (bench/fan-out-harness.ts).
  const fleet = (list: typeof apps) =>
    new FanOut((dispatch) => new Hub(loadConfig(env(list)), { clock, dynamodb: client(), secretEnv: secrets, logger, dispatch }), () => requests);
  const firstFleet = fleet(apps.slice(0, early));
  const all = fleet(apps);

  // The first 100 apps, then all of them: their registration (the principal rows and the due index) is not timed.
  const t0 = performance.now();
  const first = await firstFleet.tick();
  clock.advance(10 * MINUTE);
  const everyone = all.invocation();
  await everyone.syncApps();
  const registerMs = performance.now() - t0 - first.wallMs;
  const allDue = await all.tick();
  clock.advance(MINUTE);
  const nothingDue = await all.tick(everyone);
  clock.set(clock.now() - 11 * MINUTE + 100 * MINUTE); // the first 100 at their renewal (100 minutes)
  const onePercent = await all.tick(everyone);
  for (const c of clients) c.destroy();
  await sim.close();

  const perDue = (onePercent.requests - nothingDue.requests) / Math.max(1, onePercent.refreshed);
  const row = (what: string, r: Run) =>
    `| ${what} | ${r.refreshed} | ${r.invocations} | ${(r.wallMs / 1000).toFixed(1)} s | ${(r.sumMs / 1000).toFixed(1)} s | ${r.requests} | ${r.queries} | ${r.peakHeapMb.toFixed(0)} MB |`;
  return `## Scale: the tick over ${total.toLocaleString('en')} registered credentials

\`npm run bench\` (bench/scale.ts): ${total.toLocaleString('en')} Official Accounts registered (one access_token each;
\`SELF_HEAL=off\`, so only renewals make a token due), ${early} of them fetched ten minutes before the other
${later.toLocaleString('en')}; ${latency} ms of simulated WeChat latency on every call; dynalite on loopback; every DynamoDB
request of every container counted. The due index has ${DUE_SHARDS} shards; a tick invocation takes up to
TICK_INVOCATION_BUDGET (400) due credentials and dispatches the other shards to invocations of their own,
run here as containers of their own, one after the other, each timed alone (Lambda runs them at once,
each with its own CPU: the tick takes as long as its slowest invocation).

| tick | refreshed | invocations | slowest invocation | all added up | DynamoDB requests | of which due-index queries | heap of one invocation (most) |
|---|---|---|---|---|---|---|---|
${row(`all ${later.toLocaleString('en')} due`, allDue)}
${row('nothing due', nothingDue)}
${row(`${early} due (1 %)`, onePercent)}

${tiny ? '' : `- **Nothing due**: ${nothingDue.requests} DynamoDB requests: one query per shard and the read of the secrets' meta
  document, whatever the number of credentials (before: 9 reads per app per tick, 90,000 at 10,000 apps).
- **1 % due**: ${perDue.toFixed(2)} requests per refreshed credential besides that constant (the lease, the ledger
  count and the fenced write; the index's copy of the item stands in for the read). Goal ≤ 3: ${perDue <= 3 ? 'met' : 'missed'}.
- **All due**: ${allDue.refreshed.toLocaleString('en')} refreshed by ${allDue.invocations} invocations (${allDue.dispatched} shards dispatched; the most any one
  refreshed: ${allDue.mostRefreshed}); the slowest took ${(allDue.wallMs / 1000).toFixed(1)} s, within the tick's ${TICK_TIMEOUT_MS / 1000} s timeout: ${allDue.wallMs < TICK_TIMEOUT_MS ? 'met' : 'missed'}
  (an invocation out of time hands the rest of its shard on 20 s before it). Each refreshes
  TICK_CONCURRENCY (16) principals at a time; one after the other they took ${(allDue.sumMs / 1000).toFixed(0)} s, which is what
  one invocation without fan-out would need. The one dynalite here serves every request in one
  process: DynamoDB itself is not the limit in AWS.
- **Memory**: heap an invocation added while it ran (above what the process held before: dynalite's
  data, the simulator, the configuration); the most of any one is in the table. Besides it, a Lambda
  container holds the configuration (${total.toLocaleString('en')} apps parsed from HUB_APPS here; at that size the apps
  are in SSM or, next, principals registered at run time). The tick function has 256 MB.
- Registering the ${total.toLocaleString('en')} principals (a row each, and each token in the due index) took
  ${(registerMs / 1000).toFixed(0)} s here, once, when the configuration changed.`}
`;
}
