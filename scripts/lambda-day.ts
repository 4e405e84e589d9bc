/**
 * npm run lambda-day [-- --seconds 90]
 * The deploy artifacts (after `npx sls package`) run as separate Lambda-like processes over a
 * compressed day: tokens live 60 s instead of 7200, the tick runs every 5 s, three get-token
 * processes and one force-refresh process serve services that read every 100 ms and use each token
 * against the simulator, with WeChat faults and one outside fetch. Prints what it saw; exits 1 when
 * a read failed outside a fault window, a rejected token was not healed, or the ledger and WeChat
 * disagree. Not part of CI (it runs in real time).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { request } from 'undici';
import { hashApiKey } from '../lib/http/auth.js';
import { tokenEvent } from './api-event.js';
import { startDynalite } from '../lib/local/dynalite.js';
import { WeChatSimulator } from '../lib/simulator/wechat-simulator.js';
import { DynamoCredentialStore, ensureTable } from '../lib/store/dynamodb.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '90' } } });
const SECONDS = Number(values.seconds);
const KEY = 'lambda_day_key_0123456789abcdef';
const OA = 'wx_lambda_day';
const SECRET = 'lambda-day-secret';

const dir = mkdtempSync(join(tmpdir(), 'lambda-day-'));
for (const f of ['getToken', 'forceRefresh', 'refreshTick']) execFileSync('unzip', ['-q', '-o', `.serverless/${f}.zip`, '-d', join(dir, f)]);
// A Lambda-like runner: one process per container, the handler loaded once, one invocation at a time.
const runner = join(dir, 'runner.mjs');
writeFileSync(
  runner,
  `import { createServer } from 'node:http';
const { handler } = await import(process.argv[2]);
let busy = Promise.resolve();
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    busy = busy.then(async () => {
      try {
        const out = await handler(JSON.parse(body || '{}'));
        res.end(JSON.stringify(out));
      } catch (error) {
        res.statusCode = 500;
        res.end(JSON.stringify({ crashed: String(error && error.name) }));
      }
    });
  });
});
server.listen(0, '127.0.0.1', () => console.log('READY ' + server.address().port));
`,
);

const dynamo = await startDynalite();
const sim = new WeChatSimulator({ apps: [{ appid: OA, secret: SECRET }], tokenTtlSeconds: 60, overlapMs: 10_000 });
const base = await sim.listen();
const table = 'lambda-day';
const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'local', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
await ensureTable(client, table);
const env = {
  PATH: process.env.PATH ?? '',
  AWS_REGION: 'local',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  POWERTOOLS_LOG_LEVEL: 'WARN',
  POWERTOOLS_METRICS_DISABLED: 'true',
  HUB_APPS: JSON.stringify([{ name: 'oa', appid: OA, type: 'official_account', secret: { env: 'OA_SECRET' } }]),
  OA_SECRET: SECRET,
  HUB_API_KEYS: JSON.stringify([{ name: 'svc', sha256: hashApiKey(KEY), apps: ['*'], scopes: ['read', 'refresh'] }]),
  WECHAT_API_BASE: base,
  TABLE_NAME: table,
  DYNAMODB_ENDPOINT: dynamo.endpoint,
  // The day compressed: tokens live 60 s, the tick every 5 s.
  REFRESH_MARGIN: '20',
  MIN_SERVE: '3',
  CACHE_TTL: '2',
  PROBE_TTL: '1',
  CONFIG_ERROR_BACKOFF: '2',
};

const children: ChildProcess[] = [];
async function container(fn: string, file: string): Promise<string> {
  const child = spawn(process.execPath, [runner, join(dir, fn, 'functions', file)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve) => {
    child.stdout!.on('data', (d: Buffer) => {
      const m = /READY (\d+)/.exec(String(d));
      if (m) resolve(`http://127.0.0.1:${m[1]}`);
    });
  });
}
const readers = await Promise.all([1, 2, 3].map(() => container('getToken', 'get-token.mjs')));
const forcer = await container('forceRefresh', 'force-refresh.mjs');
const ticker = await container('refreshTick', 'refresh-tick.mjs');

const invoke = async (url: string, event: unknown) => JSON.parse(await (await request(url, { method: 'POST', body: JSON.stringify(event) })).body.text());

const started = Date.now();
const at = () => (Date.now() - started) / 1000;
const faultWindows: [number, number][] = [];
const events: string[] = [];
let outsideAt: number | undefined;
let reads = 0;
const failed: { t: number; status: number }[] = [];
const rejected: { t: number; healed: boolean }[] = [];
const plan: [number, () => Promise<void> | void][] = [
  [SECONDS * 0.2, () => { sim.failNext({ kind: 'errcode', errcode: -1 }, 3); events.push('-1 x3'); }],
  [SECONDS * 0.35, () => { sim.failNext({ kind: 'reset' }, 1); events.push('reset'); }],
  [SECONDS * 0.5, async () => {
    outsideAt = at();
    await (await request(`${base}/cgi-bin/token?grant_type=client_credential&appid=${OA}&secret=${SECRET}`)).body.text();
    events.push('outside fetch');
  }],
  [SECONDS * 0.7, () => { sim.failNext({ kind: 'hang' }, 2); faultWindows.push([at(), at() + 12]); events.push('hang x2'); }],
];

const tick = setInterval(() => void invoke(ticker, {}).catch(() => undefined), 5_000);
await invoke(ticker, {});
while (at() < SECONDS) {
  while (plan.length && at() >= plan[0]![0]) await plan.shift()![1]();
  const reader = readers[reads % readers.length]!;
  const res = await invoke(reader, tokenEvent(KEY, 'oa'));
  reads++;
  if (res.statusCode !== 200) {
    failed.push({ t: at(), status: res.statusCode });
  } else {
    const token = JSON.parse(res.body).access_token as string;
    if (!sim.isValid(token)) {
      const healed = await invoke(forcer, tokenEvent(KEY, 'oa', token));
      rejected.push({ t: at(), healed: healed.statusCode === 200 && sim.isValid(JSON.parse(healed.body).access_token) });
    }
  }
  await new Promise((r) => setTimeout(r, 100));
}
clearInterval(tick);

const store = new DynamoCredentialStore({ client, tableName: table });
const day = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
const ledger = (await store.readQuota('oa', 'token', day)).count;
const wechat = sim.calls(OA, 'token') - 1; // minus the outside fetch
const inFault = (t: number) => faultWindows.some(([a, b]) => t >= a && t <= b);
const badReads = failed.filter((f) => !inFault(f.t));
const badRejects = rejected.filter((r) => !r.healed || outsideAt === undefined || r.t < outsideAt);
console.log(`${SECONDS} s, ${reads} reads over 3 get-token processes; events: ${events.join(', ')}`);
console.log(`failed reads: ${failed.length} (outside fault windows: ${badReads.length}); rejected tokens: ${rejected.length} (not healed or before the outside fetch: ${badRejects.length})`);
console.log(`token fetches: ledger ${ledger}, WeChat ${wechat} (the outside fetch not counted)`);
for (const c of children) c.kill();
client.destroy();
await sim.close();
await dynamo.close();
const ok = badReads.length === 0 && badRejects.length === 0 && ledger === wechat;
console.log(ok ? 'lambda day: ok' : 'lambda day: FAILED');
process.exit(ok ? 0 : 1);
