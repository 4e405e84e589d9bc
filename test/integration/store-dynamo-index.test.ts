import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { DynamoCredentialStore } from '../../lib/store/dynamodb.js';
import type { CredentialKey } from '../../lib/store/store.js';
import { destroyClients, storeOnFreshTable } from '../support/store-on-table.js';
import { closeSharedDynalite } from '../support/world.js';

/**
 * The due index of the DynamoDB store, with the real SDK against dynalite: gsi1's order and paging,
 * the conditions of schedule(), the writes that move a credential in the index, and the lost
 * answers of the conditional ones (store-dynamo-directory.test.ts: principals, token index, meta).
 */
afterAll(async () => {
  destroyClients();
  await closeSharedDynalite();
});

const setup = () => storeOnFreshTable('index');

const NOW = Date.UTC(2026, 11, 1, 4, 0);
const LEASE = 15_000;
const key = (app: string, kind = 'access_token'): CredentialKey => ({ app, kind });
const write = (owner: string, seenVersion: number, extra: Record<string, unknown> = {}) => ({
  owner, seenVersion, value: `tok-${owner.slice(0, 6)}`, expiresAt: NOW + 7_200_000, obtainedAt: NOW, ...extra,
});

/** Every page of a shard, followed through its cursors. */
async function allDue(store: DynamoCredentialStore, shard: number, limit: number) {
  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await store.queryDue(shard, { limit, cursor });
    pages.push(page.entries.map((e) => e.key.app));
    cursor = page.cursor;
  } while (cursor !== undefined && pages.length < 20);
  return pages;
}

describe('the due index', () => {
  it('returns a shard in dueAt order, also across numbers of digits, with each entry\'s key and item', async () => {
    const { store } = await setup();
    // Unpadded, "10000" < "9000" < "950" as strings: the sort key is padded so that order is time order.
    const times: Record<string, number> = { late: NOW, mid: 10_000, early: 9_000, earliest: 950 };
    for (const [app, dueAt] of Object.entries(times)) expect(await store.schedule(key(app), { dueAt, shard: 3 })).toBe(true);
    const page = await store.queryDue(3, { limit: 10 });
    expect(page.entries.map((e) => e.key)).toEqual(['earliest', 'early', 'mid', 'late'].map((a) => key(a)));
    expect(page.entries[1]!.item).toMatchObject({ dueAt: 9_000, shard: 3, version: 0, failures: 0 });
    expect(page.cursor).toBeUndefined();
  });

  it('pages with a cursor, and says when the shard ended (also on a page exactly as long as the limit)', async () => {
    const { store } = await setup();
    for (let i = 0; i < 5; i++) await store.schedule(key(`app${i}`), { dueAt: NOW + i * 1000, shard: 1 });
    expect(await allDue(store, 1, 2)).toEqual([['app0', 'app1'], ['app2', 'app3'], ['app4']]);
    expect(await allDue(store, 1, 5)).toEqual([['app0', 'app1', 'app2', 'app3', 'app4']]);
    expect(await allDue(store, 1, 1)).toHaveLength(5);
    // Equal dueAt values all come back, once each, across pages.
    for (let i = 5; i < 8; i++) await store.schedule(key(`app${i}`), { dueAt: NOW, shard: 1 });
    const flat = (await allDue(store, 1, 3)).flat();
    expect([...flat].sort()).toEqual(Array.from({ length: 8 }, (_, i) => `app${i}`));
    expect(flat.slice(-4)).toEqual(['app1', 'app2', 'app3', 'app4']);
  });

  it('keeps shards apart, and holds neither principals nor plain credentials', async () => {
    const { store, other } = await setup();
    await store.schedule(key('a'), { dueAt: NOW, shard: 0 });
    await store.schedule(key('b'), { dueAt: NOW, shard: 15 });
    await store.putPrincipal({ name: 'a', type: 'official_account', source: 'config', doc: {}, digest: 'd', updatedAt: NOW });
    const me = randomUUID();
    expect(await other.acquireLease(key('plain'), { owner: me, seenVersion: 0, now: NOW, leaseMs: LEASE })).toBe(true);
    expect(await other.writeToken(key('plain'), write(me, 0))).toMatchObject({ version: 1 });
    expect((await store.queryDue(0, { limit: 10 })).entries.map((e) => e.key.app)).toEqual(['a']);
    expect((await store.queryDue(15, { limit: 10 })).entries.map((e) => e.key.app)).toEqual(['b']);
    expect((await store.queryDue(7, { limit: 10 })).entries).toEqual([]);
  });

  it('decodes a key whose app has a slash or a #: the kind is after the last #', async () => {
    const { store } = await setup();
    await store.schedule({ app: 'platform/wx0001', kind: 'authorizer_token' }, { dueAt: NOW, shard: 2 });
    await store.schedule({ app: 'odd#name', kind: 'jsapi_ticket' }, { dueAt: NOW + 1, shard: 2 });
    expect((await store.queryDue(2, { limit: 10 })).entries.map((e) => e.key)).toEqual([
      { app: 'platform/wx0001', kind: 'authorizer_token' },
      { app: 'odd#name', kind: 'jsapi_ticket' },
    ]);
  });

  it('schedule() on a missing item creates it at version 0; a schedule moves the credential, and keeps its value', async () => {
    const { store, raw } = await setup();
    expect(await store.schedule(key('new'), { dueAt: NOW + 5, shard: 4 })).toBe(true);
    expect(await store.read(key('new'))).toMatchObject({ version: 0, failures: 0, dueAt: NOW + 5, shard: 4, value: undefined });
    expect(await raw('CRED#new#access_token')).toMatchObject({ gsi1pk: { S: 'DUE#4' }, gsi1sk: { S: String(NOW + 5).padStart(15, '0') } });
    // The first lease on it sees version 0.
    const me = randomUUID();
    expect(await store.acquireLease(key('new'), { owner: me, seenVersion: 0, now: NOW, leaseMs: LEASE })).toBe(true);
    expect(await store.writeToken(key('new'), write(me, 0))).toMatchObject({ version: 1, dueAt: NOW + 5 });
    expect(await store.schedule(key('new'), { dueAt: NOW + 9, shard: 5 })).toBe(true);
    expect(await store.read(key('new'))).toMatchObject({ version: 1, value: `tok-${me.slice(0, 6)}`, dueAt: NOW + 9, shard: 5 });
    expect((await store.queryDue(4, { limit: 5 })).entries).toEqual([]);
    expect((await store.queryDue(5, { limit: 5 })).entries.map((e) => e.item.value)).toEqual([`tok-${me.slice(0, 6)}`]);
  });

  it('ifVersion: only at that version (a missing item is at version 0); ifUnscheduled: only without dueAt', async () => {
    const { store, other } = await setup();
    expect(await store.schedule(key('v'), { dueAt: NOW, shard: 1 }, { ifVersion: 0 })).toBe(true); // missing: created
    expect(await store.schedule(key('v'), { dueAt: NOW + 1, shard: 1 }, { ifVersion: 0 })).toBe(true); // at version 0
    expect(await store.schedule(key('v'), { dueAt: NOW + 2, shard: 1 }, { ifVersion: 1 })).toBe(false);
    const me = randomUUID();
    expect(await other.acquireLease(key('v'), { owner: me, seenVersion: 0, now: NOW, leaseMs: LEASE })).toBe(true);
    expect(await other.writeToken(key('v'), write(me, 0))).toMatchObject({ version: 1 });
    expect(await store.schedule(key('v'), { dueAt: NOW + 3, shard: 1 }, { ifVersion: 0 })).toBe(false); // a newer value
    expect(await store.read(key('v'))).toMatchObject({ dueAt: NOW + 1 });
    expect(await store.schedule(key('v'), { dueAt: NOW + 4, shard: 1 }, { ifVersion: 1 })).toBe(true);
    expect(await store.schedule(key('v'), { dueAt: NOW + 5, shard: 1 }, { ifUnscheduled: true })).toBe(false);
    expect(await store.read(key('v'))).toMatchObject({ dueAt: NOW + 4 });
    expect(await store.schedule(key('u'), { dueAt: NOW + 6, shard: 1 }, { ifUnscheduled: true })).toBe(true);
    await store.unschedule(key('v'));
    expect(await store.schedule(key('v'), { dueAt: NOW + 7, shard: 1 }, { ifUnscheduled: true, ifVersion: 2 })).toBe(false);
    expect(await store.schedule(key('v'), { dueAt: NOW + 7, shard: 1 }, { ifUnscheduled: true, ifVersion: 1 })).toBe(true);
    expect(await store.read(key('v'))).toMatchObject({ dueAt: NOW + 7, version: 1 });
  });

  it('unschedule() takes it out of the index and keeps the item; on a missing item it creates none', async () => {
    const { store, raw } = await setup();
    const me = randomUUID();
    expect(await store.acquireLease(key('gone'), { owner: me, seenVersion: 0, now: NOW, leaseMs: LEASE })).toBe(true);
    await store.writeToken(key('gone'), write(me, 0, { schedule: { dueAt: NOW, shard: 6 } }));
    expect((await store.queryDue(6, { limit: 5 })).entries).toHaveLength(1);
    await store.unschedule(key('gone'));
    expect((await store.queryDue(6, { limit: 5 })).entries).toEqual([]);
    const item = await raw('CRED#gone#access_token');
    expect(item).toMatchObject({ value: { S: `tok-${me.slice(0, 6)}` }, version: { N: '1' } });
    expect(Object.keys(item!).filter((k) => ['dueAt', 'shard', 'gsi1pk', 'gsi1sk'].includes(k))).toEqual([]);
    await store.unschedule(key('never'));
    expect(await raw('CRED#never#access_token')).toBeUndefined();
  });
});

describe('the writes that move a credential in the due index', () => {
  it('the fenced write moves it and writes the state, in one write; without them it keeps both', async () => {
    const { store, raw } = await setup();
    const a = randomUUID();
    expect(await store.acquireLease(key('w'), { owner: a, seenVersion: 0, now: NOW, leaseMs: LEASE })).toBe(true);
    const first = await store.writeToken(key('w'), write(a, 0, { state: { refresh_token: 'r1', n: '1' }, schedule: { dueAt: NOW + 100, shard: 2 } }));
    expect(first).toMatchObject({ version: 1, state: { refresh_token: 'r1', n: '1' }, dueAt: NOW + 100, shard: 2 });
    expect(await raw('CRED#w#access_token')).toMatchObject({ state: { M: { refresh_token: { S: 'r1' }, n: { S: '1' } } } });
    const b = randomUUID();
    expect(await store.acquireLease(key('w'), { owner: b, seenVersion: 1, now: NOW + 1, leaseMs: LEASE })).toBe(true);
    const second = await store.writeToken(key('w'), write(b, 1));
    expect(second).toMatchObject({ version: 2, state: { refresh_token: 'r1', n: '1' }, dueAt: NOW + 100, shard: 2 });
    const c = randomUUID();
    expect(await store.acquireLease(key('w'), { owner: c, seenVersion: 2, now: NOW + 2, leaseMs: LEASE })).toBe(true);
    const third = await store.writeToken(key('w'), write(c, 2, { state: {}, schedule: { dueAt: NOW + 50, shard: 9 } }));
    expect(third).toMatchObject({ version: 3, state: {}, dueAt: NOW + 50, shard: 9 });
    expect((await store.queryDue(2, { limit: 5 })).entries).toEqual([]);
    expect((await store.queryDue(9, { limit: 5 })).entries.map((e) => e.item.version)).toEqual([3]);
  });

  it('a fenced-off write moves nothing', async () => {
    const { store, other } = await setup();
    const holder = randomUUID();
    await store.schedule(key('f'), { dueAt: NOW, shard: 1 });
    expect(await other.acquireLease(key('f'), { owner: holder, seenVersion: 0, now: NOW, leaseMs: LEASE })).toBe(true);
    expect(await store.writeToken(key('f'), write(randomUUID(), 0, { state: { x: 'y' }, schedule: { dueAt: NOW + 9, shard: 2 } }))).toBeUndefined();
    expect(await store.releaseLease(key('f'), randomUUID(), undefined, { dueAt: NOW + 9, shard: 2 })).toBe(false);
    expect(await other.read(key('f'))).toMatchObject({ dueAt: NOW, shard: 1, state: undefined, leaseOwner: holder });
  });

  it('the failure record and the release move it when given a schedule, and keep it when not', async () => {
    const { store } = await setup();
    await store.schedule(key('r'), { dueAt: NOW, shard: 1 });
    const a = randomUUID();
    expect(await store.acquireLease(key('r'), { owner: a, seenVersion: 0, now: NOW, leaseMs: LEASE })).toBe(true);
    expect(await store.recordFailure(key('r'), { owner: a, error: { code: 'network', message: 'x', at: NOW }, schedule: { dueAt: NOW + 60_000, shard: 1 } })).toBe(true);
    expect(await store.read(key('r'))).toMatchObject({ failures: 1, dueAt: NOW + 60_000, shard: 1, leaseOwner: undefined });
    const b = randomUUID();
    expect(await store.acquireLease(key('r'), { owner: b, seenVersion: 0, now: NOW + 1, leaseMs: LEASE })).toBe(true);
    expect(await store.recordFailure(key('r'), { owner: b, error: { code: 'network', message: 'x', at: NOW + 1 } })).toBe(true);
    expect(await store.read(key('r'))).toMatchObject({ failures: 2, dueAt: NOW + 60_000 });
    const c = randomUUID();
    expect(await store.acquireLease(key('r'), { owner: c, seenVersion: 0, now: NOW + 2, leaseMs: LEASE })).toBe(true);
    expect(await store.releaseLease(key('r'), c, NOW + 2, { dueAt: NOW + 120_000, shard: 3 })).toBe(true);
    expect(await store.read(key('r'))).toMatchObject({ validatedAt: NOW + 2, dueAt: NOW + 120_000, shard: 3, leaseOwner: undefined });
    const d = randomUUID();
    expect(await store.acquireLease(key('r'), { owner: d, seenVersion: 0, now: NOW + 3, leaseMs: LEASE })).toBe(true);
    expect(await store.releaseLease(key('r'), d)).toBe(true);
    expect(await store.read(key('r'))).toMatchObject({ dueAt: NOW + 120_000, shard: 3 });
    expect((await store.queryDue(3, { limit: 5 })).entries.map((e) => e.key.app)).toEqual(['r']);
    expect((await store.queryDue(1, { limit: 5 })).entries).toEqual([]);
  });
});

describe('lost answers of the conditional schedule writes', () => {
  it('ifUnscheduled: the SDK\'s retry, refused by the first attempt\'s own schedule, is true', async () => {
    const { handler, store, other } = await setup();
    handler.lose('UpdateItem');
    await expect(store.schedule(key('l'), { dueAt: NOW, shard: 2 }, { ifUnscheduled: true })).resolves.toBe(true);
    expect(handler.sent).toEqual(['UpdateItem', 'UpdateItem', 'GetItem']);
    expect(await other.read(key('l'))).toMatchObject({ dueAt: NOW, shard: 2, version: 0 });
  });

  it('ifUnscheduled: a competitor\'s schedule is still a refusal when the refusal\'s answer was lost', async () => {
    const { handler, store, other } = await setup();
    expect(await other.schedule(key('c'), { dueAt: NOW + 7, shard: 2 })).toBe(true);
    handler.lose('UpdateItem');
    await expect(store.schedule(key('c'), { dueAt: NOW, shard: 2 }, { ifUnscheduled: true })).resolves.toBe(false);
    expect(await other.read(key('c'))).toMatchObject({ dueAt: NOW + 7 });
  });

  it('ifVersion 0 on a missing item: the retry finds the item the first attempt created, at version 0, and is true', async () => {
    const { handler, store, other } = await setup();
    handler.lose('UpdateItem');
    await expect(store.schedule(key('z'), { dueAt: NOW, shard: 2 }, { ifVersion: 0 })).resolves.toBe(true);
    expect(handler.count('UpdateItem')).toBe(2);
    expect(await other.read(key('z'))).toMatchObject({ dueAt: NOW, version: 0, failures: 0 });
  });

  it('a fenced write with a schedule and state, whose answer was lost, returns the item as written, written once', async () => {
    const { handler, store, other } = await setup();
    const me = randomUUID();
    expect(await store.acquireLease(key('x'), { owner: me, seenVersion: 0, now: NOW, leaseMs: LEASE })).toBe(true);
    handler.lose('UpdateItem');
    const written = await store.writeToken(key('x'), write(me, 0, { state: { k: 'v' }, schedule: { dueAt: NOW + 1, shard: 8 } }));
    expect(written).toMatchObject({ version: 1, writtenBy: me, state: { k: 'v' }, dueAt: NOW + 1, shard: 8 });
    expect(await other.read(key('x'))).toEqual(written);
  });
});
