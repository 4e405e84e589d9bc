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
import type { TickReport } from '../lib/scheduler/scheduler.js';
import { DUE_SHARDS } from '../lib/scheduler/shards.js';
import { WeChatSimulator } from '../lib/simulator/wechat-simulator.js';
import { ensureTable } from '../lib/store/dynamodb.js';
import { ManualClock } from '../test/support/manual-clock.js';
import { sharedDynalite } from '../test/support/world.js';

const MINUTE = 60_000;
/** The tick function's timeout (serverless.yml). */
const TICK_TIMEOUT_MS = 60_000;

interface Run {
  wallMs: number;
  requests: number;
  refreshed: number;
  invocations: number;
  dispatched: number;
  queries: number;
  peakHeapMb: number;
}

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
  // One container per invocation; a dispatched shard starts at once and runs concurrently (Lambda's asynchronous invocation).
  const invocation = (list: typeof apps, pending: Promise<TickReport>[]): Hub => {
    const hub: Hub = new Hub(loadConfig(env(list)), {
      clock,
      dynamodb: client(),
      secretEnv: secrets,
      logger,
      dispatch: async (shards, dueBy) => {
        for (const shard of shards) pending.push(invocation(list, pending).tickReport({ shards: [shard], dueBy }));
      },
    });
    return hub;
  };
  const tick = async (list: typeof apps, coordinator?: Hub): Promise<Run> => {
    const pending: Promise<TickReport>[] = [];
    const hub = coordinator ?? invocation(list, pending);
    await hub.syncApps(); // a warm container: its configuration already synced (not this tick's cost)
    requests = 0;
    let peak = process.memoryUsage().heapUsed;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 10);
    const t0 = performance.now();
    const reports = [await hub.tickReport()];
    // Dispatched invocations may dispatch continuations: wait until none is left.
    for (let seen = 0; seen < pending.length; seen = reports.length - 1) reports.push(...(await Promise.all(pending.slice(seen))));
    const wallMs = performance.now() - t0;
    clearInterval(sampler);
    return {
      wallMs,
      requests,
      refreshed: reports.reduce((n, r) => n + r.outcomes.filter((o) => o.outcome === 'refreshed').length, 0),
      invocations: reports.length,
      dispatched: reports.reduce((n, r) => n + r.dispatched.length, 0),
      queries: reports.reduce((n, r) => n + r.queries, 0),
      peakHeapMb: (Math.max(peak, process.memoryUsage().heapUsed)) / 2 ** 20,
    };
  };

  // The first 100 apps, then all of them: their registration (the principal rows and the due index) is not timed.
  const t0 = performance.now();
  const first = await tick(apps.slice(0, early));
  clock.advance(10 * MINUTE);
  const everyone = invocation(apps, []);
  await everyone.syncApps();
  const registerMs = performance.now() - t0 - first.wallMs;
  const allDue = await tick(apps);
  clock.advance(MINUTE);
  const nothingDue = await tick(apps, everyone);
  clock.set(clock.now() - 11 * MINUTE + 100 * MINUTE); // the first 100 at their renewal (100 minutes)
  const onePercent = await tick(apps, everyone);
  for (const c of clients) c.destroy();
  await sim.close();

  const perDue = (onePercent.requests - nothingDue.requests) / Math.max(1, onePercent.refreshed);
  const row = (what: string, r: Run) =>
    `| ${what} | ${r.refreshed} | ${r.invocations} | ${(r.wallMs / 1000).toFixed(1)} s | ${r.requests} | ${r.queries} | ${r.peakHeapMb.toFixed(0)} MB |`;
  return `## Scale: the tick over ${total.toLocaleString('en')} registered credentials

\`npm run bench\` (bench/scale.ts): ${total.toLocaleString('en')} Official Accounts registered (one access_token each;
\`SELF_HEAL=off\`, so only renewals make a token due), ${early} of them fetched ten minutes before the other
${later.toLocaleString('en')}; ${latency} ms of simulated WeChat latency on every call; dynalite on loopback; every DynamoDB
request of every container counted. The due index has ${DUE_SHARDS} shards; a tick invocation takes up to
TICK_INVOCATION_BUDGET (400) due credentials and dispatches the other shards to invocations of their own,
run here as concurrent containers in one process (Lambda runs them as asynchronous invocations).

| tick | refreshed | invocations | wall (all invocations) | DynamoDB requests | of which due-index queries | peak heap (all in one process) |
|---|---|---|---|---|---|---|
${row(`all ${later.toLocaleString('en')} due`, allDue)}
${row('nothing due', nothingDue)}
${row(`${early} due (1 %)`, onePercent)}

${tiny ? '' : `- **Nothing due**: ${nothingDue.requests} DynamoDB requests: one query per shard and the read of the secrets' meta
  document, whatever the number of credentials (before: 9 reads per app per tick, 90,000 at 10,000 apps).
- **1 % due**: ${perDue.toFixed(2)} requests per refreshed credential besides that constant (the lease, the ledger
  count and the fenced write; the index's copy of the item stands in for the read). Goal ≤ 3: ${perDue <= 3 ? 'met' : 'missed'}.
- **All due**: ${allDue.refreshed.toLocaleString('en')} refreshed in ${(allDue.wallMs / 1000).toFixed(1)} s by ${allDue.invocations} invocations (${allDue.dispatched} shards dispatched),
  within the tick's ${TICK_TIMEOUT_MS / 1000} s timeout: ${allDue.wallMs < TICK_TIMEOUT_MS ? 'met' : 'missed'}. Each invocation refreshes
  TICK_CONCURRENCY (16) principals at a time. Here every invocation shares one process, one dynalite
  and two cores, so the wall time is an upper bound; in Lambda each invocation has its own.
- **Memory**: the peak heap above is every invocation of the tick at once in one process, with dynalite and
  the simulator; one Lambda invocation holds at most its own shards' pages (100 items at a time) and
  the configuration (${total.toLocaleString('en')} apps parsed from HUB_APPS). The tick function has 256 MB.
- Registering the ${total.toLocaleString('en')} principals (a row each, and each token in the due index) took
  ${(registerMs / 1000).toFixed(0)} s here, once, when the configuration changed.`}
`;
}
