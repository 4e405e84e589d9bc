/**
 * A stampede: many concurrent forced refreshes with the same stale token, spread over many
 * containers (each its own SDK clients and cache, sharing one DynamoDB), against a lock-free
 * "everyone refreshes" variant. Returns the BENCHMARKS.md section.
 */
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { request } from 'undici';
import { httpEvent, REFRESH_KEY, sharedDynalite, startWorld, type World } from '../test/support/world.js';

const OA = 'wx_oa_0001';

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function countingClient(counter: { n: number }): Promise<DynamoDBClient> {
  const c = new DynamoDBClient({ endpoint: (await sharedDynalite()).endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  c.middlewareStack.add((next) => (args) => (counter.n++, next(args)), { step: 'initialize' });
  return c;
}

async function hubStampede(world: World, callers: number, containers: number) {
  const counter = { n: 0 };
  const hubs = await Promise.all(Array.from({ length: containers }, async () => world.container({ FORCED_DAILY_BUDGET: '1000' }, { dynamodb: await countingClient(counter) })));
  const stale = JSON.parse((await hubs[0]!.getToken(httpEvent({ key: REFRESH_KEY }))).body!).access_token as string;
  world.sim.revokeTokens(OA); // WeChat no longer accepts it: exactly one new token is needed
  const fetches0 = world.sim.calls(OA);
  counter.n = 0;
  const times: number[] = [];
  const t0 = performance.now();
  const answers = await Promise.all(
    Array.from({ length: callers }, async (_, i) => {
      const t = performance.now();
      const res = await hubs[i % containers]!.forceRefresh(httpEvent({ key: REFRESH_KEY, body: { stale_token: stale } }));
      times.push(performance.now() - t);
      return res.statusCode;
    }),
  );
  return { fetches: world.sim.calls(OA) - fetches0, p50: pct(times, 50), p99: pct(times, 99), ddbPerCaller: counter.n / callers, wall: performance.now() - t0, ok: answers.filter((s) => s === 200).length };
}

async function lockFreeStampede(world: World, callers: number) {
  const counter = { n: 0 };
  const client = await countingClient(counter);
  const fetches0 = world.sim.calls(OA);
  const times: number[] = [];
  const t0 = performance.now();
  let ok = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      const t = performance.now();
      const res = await request(`${world.wechatBase}/cgi-bin/token?grant_type=client_credential&appid=${OA}&secret=${world.secrets.SECRET_OA}`);
      const body = (await res.body.json()) as { access_token?: string };
      if (body.access_token) {
        await client.send(new UpdateItemCommand({ TableName: world.tableName, Key: { pk: { S: 'LOCKFREE#oa' } }, UpdateExpression: 'SET #v = :v', ExpressionAttributeNames: { '#v': 'value' }, ExpressionAttributeValues: { ':v': { S: body.access_token } } }));
        ok++;
      }
      times.push(performance.now() - t);
    }),
  );
  client.destroy();
  return { fetches: world.sim.calls(OA) - fetches0, p50: pct(times, 50), p99: pct(times, 99), ddbPerCaller: counter.n / callers, wall: performance.now() - t0, ok };
}

export async function stampedeSection(tiny = false): Promise<string> {
  const callers = tiny ? 20 : 1000;
  const containers = tiny ? 4 : 50;
  const world = await startWorld();
  let hub;
  let free;
  try {
    hub = await hubStampede(world, callers, containers);
  } finally {
    await world.close();
  }
  const world2 = await startWorld();
  try {
    free = await lockFreeStampede(world2, callers);
  } finally {
    await world2.close();
  }
  const row = (name: string, r: typeof hub) =>
    `| ${name} | ${r.fetches} | ${r.ok}/${callers} | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.ddbPerCaller.toFixed(2)} | ${r.wall.toFixed(0)} ms |`;
  return `## Stampede

\`npm run bench\` (bench/stampede.ts): ${callers} concurrent forced refreshes with the same stale token, spread over
${containers} containers (each its own DynamoDB client and caches, one shared dynalite), WeChat having already
dropped the token; against a lock-free variant in which every caller fetches a token and writes it.

| variant | token fetches | answered | p50 | p99 | DynamoDB requests / caller | wall |
|---|---|---|---|---|---|---|
${row('the hub (lease, fence, CAS)', hub)}
${row('everyone refreshes (no lock)', free)}

Goal: exactly 1 token fetch for the hub: ${hub.fetches === 1 ? 'met' : `missed (${hub.fetches})`}. The lock-free variant spends one fetch a caller, and each
fetch invalidates the one before (WeChat keeps only the latest and the previous): most callers end
up holding a dead token.
`;
}
