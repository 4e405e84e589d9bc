import { randomBytes } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { upgradeLocalTable } from '../../lib/local/upgrade-table.js';
import { DynamoCredentialStore, ensureTable } from '../../lib/store/dynamodb.js';
import { closeSharedDynalite, sharedDynalite } from '../support/world.js';

afterAll(closeSharedDynalite);

describe('a local data directory made by a hub older than the due index', () => {
  it('is copied into a table with the index, keeping the tokens it holds (no fetch again), and a current table is left alone', async () => {
    const client = new DynamoDBClient({ endpoint: (await sharedDynalite()).endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    const name = `old-${randomBytes(4).toString('hex')}`;
    await client.send(new CreateTableCommand({
      TableName: name, BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }));
    const expiresAt = Date.now() + 7_000_000;
    for (let i = 0; i < 30; i++) {
      await client.send(new PutItemCommand({ TableName: name, Item: { pk: { S: `CRED#app${i}#access_token` }, value: { S: `token-${i}` }, expiresAt: { N: String(expiresAt) }, version: { N: '3' } } }));
    }
    expect(await upgradeLocalTable(client, name)).toBe(true);
    await expect(ensureTable(client, name)).resolves.toBeUndefined(); // it has gsi1 now
    const store = new DynamoCredentialStore({ client, tableName: name });
    for (const i of [0, 17, 29]) expect(await store.read({ app: `app${i}`, kind: 'access_token' })).toMatchObject({ value: `token-${i}`, version: 3, expiresAt });
    // The index works on the copy.
    expect(await store.schedule({ app: 'app0', kind: 'access_token' }, { dueAt: 5, shard: 2 }, { ifVersion: 3 })).toBe(true);
    expect((await store.queryDue(2, { limit: 10 })).entries.map((e) => e.key.app)).toEqual(['app0']);
    expect(await upgradeLocalTable(client, name)).toBe(false);
    expect(await upgradeLocalTable(client, `missing-${randomBytes(4).toString('hex')}`)).toBe(false);
    client.destroy();
  });
});
