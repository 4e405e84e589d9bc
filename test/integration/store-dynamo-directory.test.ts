import { randomBytes } from 'node:crypto';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTable } from '../../lib/store/dynamodb.js';
import type { PrincipalRow } from '../../lib/store/store.js';
import { destroyClients, plainClient, storeOnFreshTable } from '../support/store-on-table.js';
import { closeSharedDynalite } from '../support/world.js';

/**
 * Principals, the token-hash index and meta of the DynamoDB store, and its table's creation, with
 * the real SDK against dynalite (store-dynamo-index.test.ts: the due index).
 */
afterAll(async () => {
  destroyClients();
  await closeSharedDynalite();
});

const setup = () => storeOnFreshTable('directory');
const NOW = Date.UTC(2026, 11, 1, 4, 0);
const key = (app: string) => ({ app, kind: 'access_token' });

describe('principals', () => {
  const row = (name: string, extra: Partial<PrincipalRow> = {}): PrincipalRow => ({
    name, type: 'official_account', source: 'config', doc: { appid: `wx_${name}`, secret: { ssm: `/hub/${name}` } }, digest: `d-${name}`, updatedAt: NOW, ...extra,
  });

  it('are put, read consistently, replaced as a whole and deleted', async () => {
    const { store } = await setup();
    expect(await store.getPrincipal('oa')).toBeUndefined();
    await store.putPrincipal(row('oa'));
    expect(await store.getPrincipal('oa')).toEqual(row('oa'));
    await store.putPrincipal(row('oa', { type: 'mini_program', doc: { appid: 'wx2' }, digest: 'd2', source: 'admin', updatedAt: NOW + 1 }));
    expect(await store.getPrincipal('oa')).toEqual({ name: 'oa', type: 'mini_program', source: 'admin', doc: { appid: 'wx2' }, digest: 'd2', updatedAt: NOW + 1 });
    await store.deletePrincipal('oa');
    expect(await store.getPrincipal('oa')).toBeUndefined();
    await store.deletePrincipal('oa'); // deleting a missing one is no error
  });

  it('are listed in name order, in pages', async () => {
    const { store } = await setup();
    const names = ['platform/wx9', 'b', 'a', 'platform/wx1', 'c-2', 'c_1'];
    for (const n of names) await store.putPrincipal(row(n));
    await store.schedule(key('a'), { dueAt: NOW, shard: 0 }); // the due index shares gsi1, not its partition
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.listPrincipals({ limit: 4, cursor });
      expect(page.principals.length).toBeLessThanOrEqual(4);
      seen.push(...page.principals.map((p) => p.name));
      cursor = page.cursor;
      pages++;
    } while (cursor !== undefined && pages < 10);
    expect(pages).toBe(2);
    expect(seen).toEqual([...names].sort());
    expect((await store.listPrincipals({ limit: 10 })).principals.find((p) => p.name === 'b')).toEqual(row('b'));
    await store.deletePrincipal('b');
    expect((await store.listPrincipals({ limit: 10 })).principals.map((p) => p.name)).not.toContain('b');
  });
});

describe('the token-hash index and meta', () => {
  it('an indexed hash is found with its credential and until, and a DynamoDB TTL a day past until', async () => {
    const { store, raw } = await setup();
    const hash = 'a'.repeat(64);
    expect(await store.lookupToken(hash)).toBeUndefined();
    await store.indexToken(hash, { app: 'oa', kind: 'access_token', until: NOW + 7_200_000 });
    expect(await store.lookupToken(hash)).toEqual({ app: 'oa', kind: 'access_token', until: NOW + 7_200_000 });
    expect((await raw(`TOKEN#${hash}`))?.ttl).toEqual({ N: String(Math.floor((NOW + 7_200_000) / 1000) + 86_400) });
    // The store returns an entry past its until as it is: the caller compares until with its clock.
    await store.indexToken('b'.repeat(64), { app: 'mp', kind: 'access_token', until: 1 });
    expect(await store.lookupToken('b'.repeat(64))).toEqual({ app: 'mp', kind: 'access_token', until: 1 });
  });

  it('a meta document is written whole and read back', async () => {
    const { store } = await setup();
    expect(await store.getMeta('principal-sync')).toBeUndefined();
    await store.putMeta('principal-sync', { digest: 'abc', at: NOW, names: ['oa', 'mp'] });
    expect(await store.getMeta('principal-sync')).toEqual({ digest: 'abc', at: NOW, names: ['oa', 'mp'] });
    await store.putMeta('principal-sync', { digest: 'def' });
    expect(await store.getMeta('principal-sync')).toEqual({ digest: 'def' });
  });
});

describe('ensureTable', () => {
  it('is idempotent, and refuses a table an older hub made without gsi1', async () => {
    const client = await plainClient();
    const fresh = `fresh-${randomBytes(4).toString('hex')}`;
    await ensureTable(client, fresh);
    await expect(ensureTable(client, fresh)).resolves.toBeUndefined();
    const old = `old-${randomBytes(4).toString('hex')}`;
    await client.send(new CreateTableCommand({
      TableName: old, BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }));
    await expect(ensureTable(client, old)).rejects.toThrow(/has no index gsi1/);
  });
});
