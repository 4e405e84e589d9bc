import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { DynamoDBClient, InternalServerError, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { MINUTE } from '../support/manual-clock.js';
import { httpEvent, json, OTHER_APP_KEY, READ_KEY, REFRESH_KEY, sharedDynalite, type World } from '../support/world.js';
import { useWorld } from '../support/use-world.js';

/**
 * Faults, each with: which token is served, what is recorded, when it recovers. Virtual clock,
 * dynalite, the simulator. (A refresher that dies holding the lease: refresh.test.ts.)
 */
const OA = 'wx_oa_0001';
const key = { app: 'oa', kind: 'access_token' } as const;
const world = useWorld();

const read = (hub: ReturnType<World['container']>, app = 'oa') => hub.getToken(httpEvent({ key: app === 'other' ? OTHER_APP_KEY : READ_KEY, app }));

/** A DynamoDB client with the SDK's own retries (3 attempts) and faults injected under them, per attempt. */
async function faultyClient(endpoint?: string) {
  const faults: { remaining: number; make: () => Error }[] = [];
  let attempts = 0;
  const client = new DynamoDBClient({ endpoint: endpoint ?? (await sharedDynalite()).endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 3 });
  client.middlewareStack.add(
    (next) => async (args) => {
      attempts++;
      const f = faults[0];
      if (f && f.remaining-- > 0) {
        if (f.remaining === 0) faults.shift();
        throw f.make();
      }
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'faultInjection' }, // under the retry middleware: every attempt
  );
  return {
    client,
    attempts: () => attempts,
    fail: (times: number, make: () => Error) => faults.push({ remaining: times, make }),
  };
}
const throttled = () => new ProvisionedThroughputExceededException({ message: 'throughput exceeded', $metadata: { httpStatusCode: 400 } });
const serverError = () => new InternalServerError({ message: 'internal', $metadata: { httpStatusCode: 500 } });

describe('DynamoDB faults', () => {
  it('throttling and 5xx within the SDK\'s retries: the caller never notices', async () => {
    const ddb = await faultyClient();
    const hub = world.container({ CACHE_TTL: '0' }, { dynamodb: ddb.client });
    const first = json(await read(hub)).access_token;
    ddb.fail(2, throttled);
    const before = ddb.attempts();
    expect(json(await read(hub)).access_token).toBe(first);
    expect(ddb.attempts() - before).toBe(3); // two throttled attempts, retried by the SDK, then the read
    ddb.fail(2, serverError);
    expect(json(await read(hub)).access_token).toBe(first);
  });

  it('past the SDK\'s retries: a container that holds a valid token serves it (stale-if-error); one that does not answers 503; forced refresh needs the store', async () => {
    const ddb = await faultyClient();
    const hub = world.container({ CACHE_TTL: '0' }, { dynamodb: ddb.client });
    const token = json(await read(hub)).access_token;
    ddb.fail(100, throttled);
    const stale = await read(hub);
    expect(stale.statusCode).toBe(200);
    expect(json(stale).access_token).toBe(token);
    const fresh = world.container({ CACHE_TTL: '0' }, { dynamodb: (await faultyClient()).client });
    const other = await faultyClient();
    other.fail(100, serverError);
    const cold = await read(world.container({ CACHE_TTL: '0' }, { dynamodb: other.client }));
    expect(cold.statusCode).toBe(503);
    expect(json(cold).error.code).toBe('store_unavailable');
    expect(cold.headers?.['retry-after']).toBeDefined();
    const forced = await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, body: { stale_token: token } }));
    expect(forced.statusCode).toBe(503);
    // Recovery: as soon as DynamoDB answers again (a container whose client is not failing).
    expect((await read(fresh)).statusCode).toBe(200);
    // A value with MIN_SERVE or less left is not served from memory.
    world.clock.advance(7200_000 - 59_000);
    const late = await faultyClient();
    const lateHub = world.container({ CACHE_TTL: '0' }, { dynamodb: late.client });
    late.fail(100, throttled);
    expect((await read(lateHub)).statusCode).toBe(503);
  });

  it('DynamoDB unreachable in the middle of a refresh, then back: the fetched token is not stored, the lease lapses, the hub recovers', async () => {
    // A TCP relay in front of the engine stands for the network path to DynamoDB: stopping it makes
    // DynamoDB unreachable with its data intact, as an outage does.
    const engine = new URL((await sharedDynalite()).endpoint);
    const sockets = new Set<Socket>();
    const relay = createServer((client) => {
      const upstream = connect(Number(engine.port), engine.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const port = (relay.address() as AddressInfo).port;
    const ddb = await faultyClient(`http://127.0.0.1:${port}`);
    let stopped = false;
    ddb.client.middlewareStack.add(
      (next) => async (args) => {
        const input = (args as { input?: { ConditionExpression?: string } }).input;
        if (!stopped && input?.ConditionExpression === 'leaseOwner = :me AND #version = :seen') {
          stopped = true; // the fenced write is about to go out: DynamoDB goes away
          for (const s of sockets) s.destroy();
          await new Promise<void>((r) => relay.close(() => r()));
        }
        return next(args);
      },
      { step: 'initialize', name: 'cutDynamo' },
    );
    try {
      const during = await read(world.container({}, { dynamodb: ddb.client }));
      expect(during.statusCode).toBe(503); // WeChat issued a token, but it could not be stored
      expect(json(during).error.code).toBe('store_unavailable');
      expect(world.sim.calls(OA)).toBe(1);
      await new Promise<void>((r) => relay.listen(port, '127.0.0.1', r));
      // The item still carries the lost refresher's lease and no value: nobody fetches until it lapses.
      const item = await world.store.read(key);
      expect(item?.leaseOwner).toBeDefined();
      expect(item?.value).toBeUndefined();
      const waiting = await read(world.container({}, { pollIntervalMs: 5000 }));
      expect(waiting.statusCode).toBe(503); // it waits on the lease, then gives up
      expect(json(waiting).error.code).toBe('refresh_in_progress');
      expect(world.sim.calls(OA)).toBe(1);
      world.clock.advance(21_000); // the lease (15 s) and the clock skew it allows for (5 s)
      const after = await read(world.container({}, { dynamodb: ddb.client }));
      expect(after.statusCode).toBe(200);
      expect(json(after).access_token).toBe(world.sim.currentToken(OA));
      expect(world.sim.calls(OA)).toBe(2);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => relay.close(() => r()));
    }
  });
});

describe('WeChat faults', () => {
  it('-1 bursts, hangs and connection resets are retried within the deadline; past it the old token is served and the failure recorded', async () => {
    const hub = world.container();
    await hub.tick();
    const t1 = json(await read(hub)).access_token;
    world.clock.advance(101 * MINUTE);
    world.sim.failNext({ kind: 'errcode', errcode: -1 }, 2, OA);
    world.sim.failNext({ kind: 'reset' }, 1, OA);
    expect(await hub.tick()).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'refreshed' });
    expect(world.sim.calls(OA)).toBe(5); // 3 refused + the one that worked + the first

    world.clock.advance(101 * MINUTE);
    const t2 = world.sim.currentToken(OA);
    world.sim.failNext({ kind: 'hang' }, 20, OA);
    const outcome = await hub.tick();
    expect(outcome).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'failed', code: 'retry_later' });
    expect(json(await read(world.container())).access_token).toBe(t2); // still valid: served
    const item = await world.store.read(key);
    expect(item?.failures).toBe(1);
    expect(item?.lastError?.code).toBe('retry_later');
    // Not a configuration error: reads may try again soon, after a short backoff (one attempt
    // sequence per backoff window, however many reads come in).
    expect(item?.backoffUntil).toBe(item!.lastError!.at + 5_000);
    world.sim.clearFaults();
    world.clock.advance(5 * MINUTE);
    expect(await hub.tick()).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'refreshed' });
    expect((await world.store.read(key))?.failures).toBe(0);
    expect(t1).not.toBe(t2);
  });

  it('40164 mid-day: the old token is served while it lives, reads do not ask WeChat again during the backoff, the tick does; fixed whitelist recovers', async () => {
    const hub = world.container();
    await hub.tick();
    const token = world.sim.currentToken(OA);
    world.clock.advance(101 * MINUTE);
    world.sim.failNext({ kind: 'errcode', errcode: 40164 }, 1000, OA);
    expect(await hub.tick()).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'failed', code: 'configuration:40164' });
    const calls = world.sim.calls(OA);
    expect(json(await read(world.container())).access_token).toBe(token); // 19 minutes left: served
    world.clock.advance(18 * MINUTE + 30_000); // 30 s left, under MIN_SERVE: the read tries WeChat (the first backoff is over)
    const refused = await read(world.container());
    expect(refused.statusCode).toBe(200); // refused again, but 30 s left is still a valid token: served rather than nothing
    world.clock.advance(31_000); // expired
    const dead = await read(world.container());
    expect(dead.statusCode).toBe(502);
    expect(json(dead).error.errcode).toBe(40164);
    expect(Number(dead.headers?.['retry-after'])).toBeGreaterThan(0);
    expect(world.sim.calls(OA)).toBe(calls + 1); // the backoff had run out at 20 minutes: one read asked again
    // Growing: the next read within the (now longer) backoff does not ask again.
    await read(world.container());
    expect(world.sim.calls(OA)).toBe(calls + 1);
    // The tick still tries once per tick; when the whitelist is fixed it recovers.
    world.sim.clearFaults();
    world.clock.advance(5 * MINUTE);
    expect(await hub.tick()).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'refreshed' });
    const ok = await read(world.container());
    expect(ok.statusCode).toBe(200);
    expect((await world.store.read(key))?.backoffUntil).toBeUndefined();
  });

  it('a changed secret ends a configuration-error backoff at once', async () => {
    world.sim.setSecret(OA, 'the-new-secret-0000');
    const hub = world.container();
    const res = await read(hub);
    expect(json(res).error.errcode).toBe(40001); // the old secret: WeChat's "wrong AppSecret"
    expect(json(await read(world.container())).error.errcode).toBe(40001);
    expect(world.sim.calls(OA)).toBe(1); // in backoff
    world.setSecret('SECRET_OA', 'the-new-secret-0000');
    expect((await read(world.container())).statusCode).toBe(200);
    expect(world.sim.calls(OA)).toBe(2);
  });

  it('45009 blocks the app until the next quota day; 89503 is a configuration error (administrator must confirm)', async () => {
    const hub = world.container();
    world.sim.failNext({ kind: 'errcode', errcode: 89503 }, 1, 'wx_other_03');
    const r = await read(hub, 'other');
    expect(r.statusCode).toBe(502);
    expect(json(r).error.errcode).toBe(89503);
    expect((await world.store.read({ app: 'other', kind: 'access_token' }))?.backoffUntil).toBeGreaterThan(world.clock.now());

    world.sim.failNext({ kind: 'errcode', errcode: 45009 }, 1, OA);
    expect(await hub.tick()).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'failed', code: 'quota:45009' });
    expect(await hub.tick()).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'blocked', code: 'quota:45009' });
    expect((await world.store.read(key))?.blockedUntil).toBe(Date.UTC(2026, 10, 23, 16, 0));
    world.clock.set(Date.UTC(2026, 10, 23, 16, 0));
    expect(await hub.tick()).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'refreshed' });
  });
});

describe('self-healing', () => {
  it('the tick finds a token WeChat no longer accepts (an outside fetch) and refreshes it at once; SELF_HEAL=off does not', async () => {
    const hub = world.container();
    await hub.tick();
    const before = world.sim.currentToken(OA);
    world.sim.revokeTokens(OA); // someone fetched with the same secret outside the hub
    world.clock.advance(5 * MINUTE);
    expect(await hub.tick()).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'healed' });
    const now = world.sim.currentToken(OA);
    expect(now).not.toBe(before);
    expect(json(await read(world.container())).access_token).toBe(now);
    expect((await world.store.read(key))?.refreshedBy).toBe('self_heal');

    const off = world.container({ SELF_HEAL: 'off' });
    world.sim.revokeTokens(OA);
    world.clock.advance(5 * MINUTE);
    expect(await off.tick()).not.toContainEqual(expect.objectContaining({ app: 'oa', kind: 'access_token', outcome: expect.stringMatching(/refreshed|healed/) }));
  });
});
