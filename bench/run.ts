/**
 * `npm run bench`: what a read, a refresh and a burst of forced refreshes cost, in DynamoDB
 * requests (the hub's bill) and WeChat token fetches (its quota), and how long they take here,
 * with dynalite and the simulator on loopback. Writes BENCHMARKS.md.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { systemClock } from '../lib/clock.js';
import { loadConfig } from '../lib/config.js';
import { hashApiKey } from '../lib/http/auth.js';
import { Hub } from '../lib/hub.js';
import { startDynalite } from '../lib/local/dynalite.js';
import { WeChatSimulator } from '../lib/simulator/wechat-simulator.js';
import { ensureTable } from '../lib/store/dynamodb.js';
import { bundlesSection } from './bundles.js';
import { costSection } from './cost.js';
import { quotaDaySection } from './quota-day.js';
import { readPathSection } from './read-path.js';
import { scaleSection } from './scale.js';
import { stampedeSection } from './stampede.js';
import { simulatedDaySection } from './simulated-day.js';
import { platformSections, runPlatformsOnly } from './platforms.js';
import { closeSharedDynalite } from '../test/support/world.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
/** `npm run bench -- --platforms`: only the third-party platform benchmarks (bench/platforms.ts), their block of BENCHMARKS.md replaced. */
if (process.argv.includes('--platforms')) {
  await runPlatformsOnly(process.argv.includes('--tiny'));
  await closeSharedDynalite();
  process.exit(0);
}
const KEY = 'bench_key_0123456789abcdef';
const dynamo = await startDynalite();
const sim = new WeChatSimulator({ apps: [{ appid: 'wx_bench', secret: 'bench-secret' }] });
const base = await sim.listen();
let ddbRequests = 0;
const clients: DynamoDBClient[] = [];
const newClient = () => {
  const c = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'local', credentials: { accessKeyId: 'b', secretAccessKey: 'b' } });
  c.middlewareStack.add((next) => (args) => { ddbRequests++; return next(args); }, { step: 'initialize' });
  clients.push(c);
  return c;
};
await ensureTable(newClient(), 'bench');
const env = {
  HUB_APPS: JSON.stringify([{ name: 'b', appid: 'wx_bench', type: 'official_account', secret: { env: 'S' } }]),
  S: 'bench-secret',
  HUB_API_KEYS: JSON.stringify([{ name: 'k', sha256: hashApiKey(KEY), apps: ['*'], scopes: ['read', 'refresh'] }]),
  WECHAT_API_BASE: base,
  TABLE_NAME: 'bench',
};
const logger = new Logger({ serviceName: 'bench', logLevel: 'SILENT' });
const container = (extra: Record<string, string> = {}) =>
  new Hub(loadConfig({ ...env, ...extra }), { clock: systemClock, logger, dynamodb: newClient(), secretEnv: env, pollIntervalMs: 20 });
const event = (body?: unknown): any => ({
  version: '2.0', rawPath: '/', rawQueryString: '', pathParameters: { app: 'b' },
  headers: { authorization: `Bearer ${KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
  body: body ? JSON.stringify(body) : undefined, isBase64Encoded: false, requestContext: { http: { method: body ? 'POST' : 'GET' } },
});

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
/** `npm run bench -- --tiny` (CI): every benchmark once at a tiny size, written to a temporary file. */
const TINY = process.argv.includes('--tiny');
async function measure(requested: number, run: () => Promise<unknown>) {
  const n = TINY ? Math.min(requested, 3) : requested;
  const d0 = ddbRequests;
  const f0 = fetches();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await run();
    times.push(performance.now() - t);
  }
  return { p50: pct(times, 50), p99: pct(times, 99), ddb: (ddbRequests - d0) / n, fetches: (fetches() - f0) / n };
}
/** Rationed WeChat calls: token fetches and jsapi_ticket fetches. */
const fetches = () => sim.calls('wx_bench') + sim.calls('wx_bench', 'ticket_jsapi');
const ticketEvent = (routeKey: string, body?: unknown): any => ({
  ...event(body), routeKey, pathParameters: { app: 'b', type: 'jsapi' },
  requestContext: { http: { method: routeKey.split(' ')[0] } },
});
const GET_TICKET = 'GET /v1/apps/{app}/tickets/{type}';
const REFRESH_TICKET = 'POST /v1/apps/{app}/tickets/{type}/refresh';
const SIGN = 'POST /v1/apps/{app}/jsapi-signature';

const rows: string[] = [];
const row = (what: string, n: number, r: { p50: number; p99: number; ddb: number; fetches: number }) =>
  rows.push(`| ${what} | ${n} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.ddb.toFixed(2)} | ${r.fetches.toFixed(3)} |`);

const warm = container();
const firstRead = await measure(1, () => warm.getToken(event()));
row('first read (lazy fetch)', 1, firstRead);
row('read, container cache warm', 2000, await measure(2000, () => warm.getToken(event())));
const cold = container({ CACHE_TTL: '0' });
row('read, no container cache (consistent GetItem)', 500, await measure(500, () => cold.getToken(event())));
row('scheduled tick, token not due, tickets unused', 200, await measure(200, () => cold.tick()));

let stale = JSON.parse((await cold.getToken(event())).body!).access_token as string;
row('forced refresh, WeChat rejects the token (probe + fetch)', 50, await measure(50, async () => {
  sim.revokeTokens('wx_bench');
  const r = await cold.forceRefresh(event({ stale_token: stale }));
  stale = JSON.parse(r.body!).access_token;
}));
const noProbeCache = container({ CACHE_TTL: '0', PROBE_TTL: '0' });
row('forced refresh, WeChat accepts the token (probe, no fetch)', 50, await measure(50, () => noProbeCache.forceRefresh(event({ stale_token: stale }))));
row('forced refresh, token confirmed < PROBE_TTL ago', 500, await measure(500, () => cold.forceRefresh(event({ stale_token: stale }))));

const ticketCold = container({ CACHE_TTL: '0' });
row('first jsapi_ticket read (lazy fetch, token stored)', 1, await measure(1, () => ticketCold.tickets(ticketEvent(GET_TICKET))));
row('jsapi_ticket read, no container cache', 500, await measure(500, () => ticketCold.tickets(ticketEvent(GET_TICKET))));
row('JS-SDK signature, container cache warm', 2000, await measure(2000, () => warm.tickets(ticketEvent(SIGN, { url: 'https://shop.example/p?x=1' }))));
const tickNotDue = await measure(200, () => cold.tick());
row('scheduled tick, token and jsapi_ticket not due', 200, tickNotDue);

// A ticket cannot be probed: a report rotates one only once it is UNVERIFIED_MIN_AGE old (0 here, to measure the burst).
const containers = Array.from({ length: 5 }, () => container({ CACHE_TTL: '0', FORCED_DAILY_BUDGET: '1000', PROBE_TTL: '0', UNVERIFIED_MIN_AGE: '0' }));
const bursts: string[] = [];
for (const size of TINY ? [10] : [10, 100, 500]) {
  const cur = JSON.parse((await cold.getToken(event())).body!).access_token as string;
  sim.revokeTokens('wx_bench');
  const d0 = ddbRequests;
  const f0 = sim.calls('wx_bench');
  const t = performance.now();
  await Promise.all(Array.from({ length: size }, (_, i) => containers[i % 5]!.forceRefresh(event({ stale_token: cur }))));
  bursts.push(`| ${size} | 5 | ${(performance.now() - t).toFixed(1)} | ${sim.calls('wx_bench') - f0} | ${ddbRequests - d0} |`);
}

const ticketBursts: string[] = [];
for (const size of TINY ? [10] : [10, 100, 500]) {
  const cur = JSON.parse((await cold.tickets(ticketEvent(GET_TICKET))).body!).ticket as string;
  const d0 = ddbRequests;
  const f0 = sim.calls('wx_bench', 'ticket_jsapi');
  const t = performance.now();
  await Promise.all(Array.from({ length: size }, (_, i) => containers[i % 5]!.tickets(ticketEvent(REFRESH_TICKET, { stale_ticket: cur }))));
  ticketBursts.push(`| ${size} | 5 | ${(performance.now() - t).toFixed(1)} | ${sim.calls('wx_bench', 'ticket_jsapi') - f0} | ${ddbRequests - d0} |`);
}

const daySection = await simulatedDaySection(TINY);
const quotaSection = await quotaDaySection(TINY);
const stampede = await stampedeSection(TINY);
const scale = await scaleSection(TINY);
const readPath = await readPathSection(TINY);
const platforms = await platformSections(TINY, 'npm run bench');
// The tick's gauges come from what it saw and from the ledger's counts: no read per app.
const cost = costSection({ tickRequests: tickNotDue.ddb, probeWritesPerAppPerTick: 1, refreshReads: 1, refreshWrites: firstRead.ddb - 1, refreshesPerDay: 15 });
execFileSync('npx', ['sls', 'package'], { stdio: 'ignore' });
const bundleSection = await bundlesSection(TINY ? 1 : 9);

const md = `# Benchmarks

Produced by \`npm run bench\` (bench/run.ts) on ${new Date().toISOString().slice(0, 10)}, Node ${process.version},
${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}. DynamoDB is dynalite and WeChat is the simulator, both on loopback in
the same process, so the milliseconds are this machine's, not AWS's; the request counts are what the hub would
be billed for in DynamoDB and what it spends of WeChat's quota, and those carry over.

## Per operation

"WeChat fetches" counts /cgi-bin/token and /cgi-bin/ticket/getticket calls (the rationed
quotas); the probe (/cgi-bin/getcallbackip) spends none. The tick reads the due index, one query per
shard (16), and the secrets' meta document: the same for any number of apps (bench/scale.ts).

| operation | runs | p50 ms | p99 ms | DynamoDB requests / op | WeChat fetches / op |
|---|---|---|---|---|---|
${rows.join('\n')}

## A burst of forced refreshes with the same stale token

Callers spread over 5 containers (hubs with their own clients and caches), all at once.

The token has been revoked at WeChat first, so each burst does need exactly one new token.

| callers | containers | wall ms | WeChat token fetches | DynamoDB requests |
|---|---|---|---|---|
${bursts.join('\n')}

## A burst of forced refreshes with the same stale jsapi_ticket

The same over 5 containers, for the ticket (no probe exists for tickets: the stored ticket is rotated once).

| callers | containers | wall ms | WeChat ticket fetches | DynamoDB requests |
|---|---|---|---|---|
${ticketBursts.join('\n')}

${readPath}
${quotaSection}
${stampede}
${daySection}
${scale}
${bundleSection}
${cost}
${platforms}`;
const target = TINY ? join(tmpdir(), 'BENCHMARKS.tiny.md') : 'BENCHMARKS.md';
writeFileSync(target, md);
if (TINY) console.error(`bench --tiny: every benchmark ran; wrote ${target} (BENCHMARKS.md untouched)`);
console.log(md);
clients.forEach((c) => c.destroy());
await sim.close();
await dynamo.close();
process.exit(0);
