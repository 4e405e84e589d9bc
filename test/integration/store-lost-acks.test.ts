import { randomBytes, randomUUID } from 'node:crypto';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamLimitError } from '../../lib/errors.js';
import { Ledger } from '../../lib/quota/ledger.js';
import { DynamoCredentialStore, ensureTable } from '../../lib/store/dynamodb.js';
import type { CredentialKey, QuotaCall } from '../../lib/store/store.js';
import { LosingHandler } from '../support/losing-handler.js';
import { closeSharedDynalite, sharedDynalite } from '../support/world.js';

/**
 * Lost acknowledgements, with the real SDK against dynalite: the request reaches DynamoDB and is
 * applied, but its answer never reaches the SDK, which sends the same request again (its standard
 * retry strategy, 3 attempts). Each store operation must take its own applied write for success,
 * and still refuse a genuine competitor.
 */
let endpoint: string;
const clients: DynamoDBClient[] = [];

beforeAll(async () => {
  endpoint = (await sharedDynalite()).endpoint;
});
afterAll(async () => {
  clients.forEach((c) => c.destroy());
  await closeSharedDynalite();
});

/** A store on a fresh table whose client loses the answers it is told to lose, and a plain one beside it. */
async function setup() {
  const handler = new LosingHandler();
  const options = { endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } } as const;
  const client = new DynamoDBClient({ ...options, requestHandler: handler }); // default retries: 3 attempts
  const plain = new DynamoDBClient(options);
  clients.push(client, plain);
  const tableName = `acks-${randomBytes(4).toString('hex')}`;
  await ensureTable(plain, tableName);
  return {
    handler,
    store: new DynamoCredentialStore({ client, tableName }),
    /** Another container, whose answers all arrive. */
    other: new DynamoCredentialStore({ client: plain, tableName }),
    raw: async (pk: string) => (await plain.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: pk } }, ConsistentRead: true }))).Item,
  };
}

const key: CredentialKey = { app: 'oa', kind: 'access_token' };
const NOW = Date.UTC(2026, 10, 23, 4, 0);
const LEASE = 15_000;
const token = (owner: string, seenVersion: number, value = `tok-${owner.slice(0, 6)}`) => ({
  owner, seenVersion, value, expiresAt: NOW + 7_200_000, obtainedAt: NOW,
});
const quota = (extra: Partial<QuotaCall> = {}): QuotaCall => ({ app: 'oa', api: 'token', period: '2026-11-23', ttl: 1, ...extra });

describe('the SDK resends a request whose answer was lost', () => {
  it('the lost-answer handler really makes the SDK send the same request again', async () => {
    const { handler, store } = await setup();
    handler.lose('GetItem');
    await expect(store.read(key)).resolves.toBeUndefined();
    expect(handler.count('GetItem')).toBe(2);
  });
});

describe('each store operation under one lost acknowledgement', () => {
  it('a lease whose answer was lost is acquired on the SDK\'s retry (the caller does not wait for itself)', async () => {
    const { handler, store, other } = await setup();
    const me = randomUUID();
    handler.lose('UpdateItem');
    await expect(store.acquireLease(key, { owner: me, seenVersion: 0, now: NOW, leaseMs: LEASE })).resolves.toBe(true);
    expect(handler.count('UpdateItem')).toBe(2); // applied, answer lost, sent again, refused by its own lease
    expect(await other.read(key)).toMatchObject({ leaseOwner: me, leaseUntil: NOW + LEASE, version: 0 });
    // ...and it is the lease: another owner is refused, our write goes through.
    await expect(other.acquireLease(key, { owner: randomUUID(), seenVersion: 0, now: NOW + 1, leaseMs: LEASE })).resolves.toBe(false);
    await expect(store.writeToken(key, token(me, 0))).resolves.toMatchObject({ version: 1 });
  });

  it('a fenced write whose answer was lost succeeds on the SDK\'s retry and returns the item as written', async () => {
    const { handler, store, other } = await setup();
    const me = randomUUID();
    expect(await store.acquireLease(key, { owner: me, seenVersion: 0, now: NOW, leaseMs: LEASE })).toBe(true);
    handler.lose('UpdateItem');
    const written = await store.writeToken(key, { ...token(me, 0, 'tok-new'), replacedValue: 'tok-served', replacedUntil: NOW + 300_000 });
    expect(handler.count('UpdateItem')).toBe(3); // the lease, the write, its retry
    expect(written).toMatchObject({
      value: 'tok-new', version: 1, writtenBy: me, leaseOwner: undefined, failures: 0,
      replacedValue: 'tok-served', replacedUntil: NOW + 300_000,
    });
    expect(await other.read(key)).toEqual(written); // written once: version 1, not 2
  });

  it('a release whose answer was lost is true on the SDK\'s retry, and the lease is free', async () => {
    const { handler, store, other } = await setup();
    const me = randomUUID();
    expect(await store.acquireLease(key, { owner: me, seenVersion: 0, now: NOW, leaseMs: LEASE })).toBe(true);
    handler.lose('UpdateItem');
    await expect(store.releaseLease(key, me, NOW + 50)).resolves.toBe(true);
    expect(handler.count('UpdateItem')).toBe(3);
    expect(await other.read(key)).toMatchObject({ leaseOwner: undefined, leaseUntil: undefined, validatedAt: NOW + 50 });
  });

  it('a failure record whose answer was lost is true on the SDK\'s retry and counts one failure', async () => {
    const { handler, store, other } = await setup();
    const me = randomUUID();
    expect(await store.acquireLease(key, { owner: me, seenVersion: 0, now: NOW, leaseMs: LEASE })).toBe(true);
    handler.lose('UpdateItem');
    const error = { code: 'wechat:-1', message: 'system busy', at: NOW + 20 };
    await expect(store.recordFailure(key, { owner: me, error })).resolves.toBe(true);
    expect(handler.count('UpdateItem')).toBe(3);
    expect(await other.read(key)).toMatchObject({ failures: 1, lastError: error, leaseOwner: undefined });
  });

  it('an upstream call whose answer was lost is counted exactly once', async () => {
    const { handler, store, other } = await setup();
    handler.lose('UpdateItem');
    const call = quota();
    const counted = await store.countUpstreamCall(call);
    expect(handler.count('UpdateItem')).toBe(2);
    expect(counted).toEqual({ count: 1, forced: 0, attemptId: call.attemptId });
    expect(call.attemptId).toMatch(/^[\w-]{8}$/);
    expect(await other.readQuota('oa', 'token', '2026-11-23')).toEqual({ count: 1, forced: 0 });
  });

  it('a forced call that reached its budget and limit, and whose answer was lost, is counted once, not refused', async () => {
    const { handler, store, other } = await setup();
    handler.lose('UpdateItem');
    // The call itself takes the row to its budget and its limit, so its retry fails both conditions.
    await expect(store.countUpstreamCall(quota({ forcedBudget: 1, limit: 1 }))).resolves.toMatchObject({ count: 1, forced: 1 });
    expect(await other.readQuota('oa', 'token', '2026-11-23')).toEqual({ count: 1, forced: 1 });
    // The next call is refused, as before.
    await expect(store.countUpstreamCall(quota({ forcedBudget: 1, limit: 5 }))).resolves.toEqual({ refused: 'forced_budget' });
    await expect(store.countUpstreamCall(quota({ limit: 1 }))).resolves.toEqual({ refused: 'limit' });
    expect(await other.readQuota('oa', 'token', '2026-11-23')).toEqual({ count: 1, forced: 1 }); // refusals count nothing
  });

  it('a take-back whose answer was lost takes back exactly one call, the one it was given', async () => {
    const { handler, store, other, raw } = await setup();
    const first = quota({ forcedBudget: 9 });
    const second = quota({ forcedBudget: 9 });
    await store.countUpstreamCall(first);
    await store.countUpstreamCall(second);
    expect(first.attemptId).not.toBe(second.attemptId);
    handler.lose('UpdateItem');
    await store.uncountUpstreamCall(first);
    expect(handler.count('UpdateItem')).toBe(4); // two counts, the take-back and its retry
    expect(await other.readQuota('oa', 'token', '2026-11-23')).toEqual({ count: 1, forced: 1 });
    expect((await raw('QUOTA#oa#token#2026-11-23'))?.attempts?.SS).toEqual([second.attemptId]);
    // Taking it back again changes nothing; the second call is still taken back once.
    await store.uncountUpstreamCall(first);
    await store.uncountUpstreamCall(second);
    expect(await other.readQuota('oa', 'token', '2026-11-23')).toEqual({ count: 0, forced: 0 });
  });

  it.each([
    ['the count\'s', 0],
    ['the take-back\'s', 2],
  ])('the ledger\'s refused charge leaves the rows as they were when %s answer was lost', async (_, lost) => {
    const { handler, store, other } = await setup();
    const ledger = new Ledger(store);
    const charges = [
      { scope: 'oa', api: 'ticket_jsapi', period: 'day' as const },
      { scope: 'oa', api: 'ticket_limited', period: 'day' as const, limit: 1, limitName: 'the test limit' },
    ];
    await ledger.charge(charges, NOW);
    // The first row counts, the second refuses, the first row's count is taken back; one of these
    // UpdateItems (0: the count, 2: the take-back) loses its answer and is resent. The call object
    // carries its attempt id from the count to the take-back.
    handler.loseAt('UpdateItem', [lost]);
    const sentBefore = handler.count('UpdateItem');
    await expect(ledger.charge(charges, NOW)).rejects.toBeInstanceOf(UpstreamLimitError);
    expect(handler.count('UpdateItem') - sentBefore).toBe(4);
    expect(await other.readQuota('oa', 'ticket_jsapi', '2026-11-23')).toEqual({ count: 1, forced: 0 });
    expect(await other.readQuota('oa', 'ticket_limited', '2026-11-23')).toEqual({ count: 1, forced: 0 });
  });
});

describe('a genuine competitor is still fenced off', () => {
  it('a lease another owner holds is refused, also when the SDK sent the request twice', async () => {
    const { handler, store, other } = await setup();
    const holder = randomUUID();
    expect(await other.acquireLease(key, { owner: holder, seenVersion: 0, now: NOW, leaseMs: LEASE })).toBe(true);
    // Refused on the first attempt: no re-read, one request.
    await expect(store.acquireLease(key, { owner: randomUUID(), seenVersion: 0, now: NOW + 1, leaseMs: LEASE })).resolves.toBe(false);
    expect(handler.sent).toEqual(['UpdateItem']);
    // The refusal's answer lost and the request sent again: the re-read finds the holder's lease, not ours.
    handler.lose('UpdateItem');
    await expect(store.acquireLease(key, { owner: randomUUID(), seenVersion: 0, now: NOW + 2, leaseMs: LEASE })).resolves.toBe(false);
    expect(handler.sent.slice(1)).toEqual(['UpdateItem', 'UpdateItem', 'GetItem']);
    expect(await other.read(key)).toMatchObject({ leaseOwner: holder });
  });

  it('a stalled holder\'s late write is fenced off after its lease was taken over, also when resent', async () => {
    const { handler, store, other } = await setup();
    const stalled = randomUUID();
    const taker = randomUUID();
    expect(await store.acquireLease(key, { owner: stalled, seenVersion: 0, now: NOW, leaseMs: LEASE })).toBe(true);
    expect(await other.acquireLease(key, { owner: taker, seenVersion: 0, now: NOW + LEASE + 1, leaseMs: LEASE })).toBe(true);
    expect(await other.writeToken(key, token(taker, 0, 'tok-taker'))).toMatchObject({ version: 1, writtenBy: taker });
    handler.lose('UpdateItem');
    await expect(store.writeToken(key, token(stalled, 0, 'tok-stalled'))).resolves.toBeUndefined();
    await expect(store.writeToken(key, token(stalled, 0, 'tok-stalled'))).resolves.toBeUndefined();
    expect(await other.read(key)).toMatchObject({ value: 'tok-taker', version: 1 });
  });

  it('a write by an owner that does not hold the lease is refused, and so are its release and failure record', async () => {
    const { handler, store, other } = await setup();
    const holder = randomUUID();
    const intruder = randomUUID();
    expect(await other.acquireLease(key, { owner: holder, seenVersion: 0, now: NOW, leaseMs: LEASE })).toBe(true);
    handler.lose('UpdateItem', 3);
    await expect(store.writeToken(key, token(intruder, 0))).resolves.toBeUndefined();
    await expect(store.releaseLease(key, intruder)).resolves.toBe(false);
    await expect(store.recordFailure(key, { owner: intruder, error: { code: 'network', message: 'x', at: NOW } })).resolves.toBe(false);
    expect(await other.read(key)).toMatchObject({ leaseOwner: holder, version: 0, failures: 0, value: undefined });
  });

  it('a release by an owner whose lease already ended and was taken by the next holder is refused', async () => {
    const { handler, store, other } = await setup();
    const first = randomUUID();
    expect(await store.acquireLease(key, { owner: first, seenVersion: 0, now: NOW, leaseMs: LEASE })).toBe(true);
    expect(await store.recordFailure(key, { owner: first, error: { code: 'network', message: 'x', at: NOW + 1 } })).toBe(true);
    const next = randomUUID();
    expect(await other.acquireLease(key, { owner: next, seenVersion: 0, now: NOW + 2, leaseMs: LEASE })).toBe(true);
    // The first owner, which ended its lease with a failure record, releases (its answer lost, resent).
    handler.lose('UpdateItem');
    await expect(store.releaseLease(key, first)).resolves.toBe(false);
    expect(await other.read(key)).toMatchObject({ leaseOwner: next, failures: 1 });
  });

  it('two calls are two counts, and a spent budget is still refused when the refusal\'s answer was lost', async () => {
    const { handler, store, other } = await setup();
    await store.countUpstreamCall(quota({ forcedBudget: 2 }));
    await store.countUpstreamCall(quota({ forcedBudget: 2 }));
    handler.lose('UpdateItem');
    await expect(store.countUpstreamCall(quota({ forcedBudget: 2 }))).resolves.toEqual({ refused: 'forced_budget' });
    expect(await other.readQuota('oa', 'token', '2026-11-23')).toEqual({ count: 2, forced: 2 });
  });

  it('an attempt id given by the caller counts once however often it is counted', async () => {
    const { store, other } = await setup();
    const call = quota({ attemptId: 'caller-1' });
    await expect(store.countUpstreamCall(call)).resolves.toEqual({ count: 1, forced: 0, attemptId: 'caller-1' });
    await expect(store.countUpstreamCall({ ...call })).resolves.toEqual({ count: 1, forced: 0, attemptId: 'caller-1' });
    expect(await other.readQuota('oa', 'token', '2026-11-23')).toEqual({ count: 1, forced: 0 });
  });
});

describe('clock skew and the lease', () => {
  it('a lease that lapsed 3 s ago by the caller\'s clock is not taken with skewMs 5000; one that lapsed 6 s ago is', async () => {
    const { store, other } = await setup();
    const holder = randomUUID();
    expect(await other.acquireLease(key, { owner: holder, seenVersion: 0, now: NOW, leaseMs: LEASE })).toBe(true);
    const lapsed = NOW + LEASE;
    await expect(store.acquireLease(key, { owner: randomUUID(), seenVersion: 0, now: lapsed + 3_000, leaseMs: LEASE, skewMs: 5_000 })).resolves.toBe(false);
    expect(await other.read(key)).toMatchObject({ leaseOwner: holder });
    const taker = randomUUID();
    await expect(store.acquireLease(key, { owner: taker, seenVersion: 0, now: lapsed + 6_000, leaseMs: LEASE, skewMs: 5_000 })).resolves.toBe(true);
    expect(await other.read(key)).toMatchObject({ leaseOwner: taker, leaseUntil: lapsed + 6_000 + LEASE });
  });

  it('without skewMs a lease is free the moment it lapsed by the caller\'s clock', async () => {
    const { store, other } = await setup();
    expect(await other.acquireLease(key, { owner: randomUUID(), seenVersion: 0, now: NOW, leaseMs: LEASE })).toBe(true);
    await expect(store.acquireLease(key, { owner: randomUUID(), seenVersion: 0, now: NOW + LEASE, leaseMs: LEASE })).resolves.toBe(false);
    await expect(store.acquireLease(key, { owner: randomUUID(), seenVersion: 0, now: NOW + LEASE + 1, leaseMs: LEASE })).resolves.toBe(true);
  });
});

describe('the replaced value', () => {
  it('is written when given and removed by a write that gives none', async () => {
    const { store } = await setup();
    const a = randomUUID();
    expect(await store.acquireLease(key, { owner: a, seenVersion: 0, now: NOW, leaseMs: LEASE })).toBe(true);
    expect(await store.writeToken(key, { ...token(a, 0), replacedValue: 'old', replacedUntil: NOW + 1000 }))
      .toMatchObject({ replacedValue: 'old', replacedUntil: NOW + 1000, writtenBy: a });
    const b = randomUUID();
    expect(await store.acquireLease(key, { owner: b, seenVersion: 1, now: NOW + 1, leaseMs: LEASE })).toBe(true);
    const written = await store.writeToken(key, token(b, 1));
    expect(written).toMatchObject({ version: 2, writtenBy: b });
    expect(written).not.toHaveProperty('replacedValue', expect.anything());
    expect(written?.replacedUntil).toBeUndefined();
    expect(await store.read(key)).toEqual(written);
  });
});
