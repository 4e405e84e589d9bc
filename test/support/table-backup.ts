import { randomBytes } from 'node:crypto';
import { BatchWriteItemCommand, DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { ensureTable } from '../../lib/store/dynamodb.js';
import { sharedDynalite } from './world.js';

/**
 * A point-in-time backup of a world's table and its restore into a new table, as DynamoDB's PITR
 * does it (every item as it was, into a new table with the same schema and index), on the shared
 * dynalite with the SDK: the hub never sees the copy being made.
 */
export type Backup = Record<string, AttributeValue>[];

async function withClient<T>(run: (client: DynamoDBClient) => Promise<T>): Promise<T> {
  const { endpoint } = await sharedDynalite();
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  try {
    return await run(client);
  } finally {
    client.destroy();
  }
}

/** Every item of the table, read consistently, page by page. */
export function backupTable(tableName: string): Promise<Backup> {
  return withClient(async (client) => {
    const items: Backup = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  });
}

/** A new table (ensureTable: the hub's schema) holding exactly the backup's items; its name. */
export function restoreTable(backup: Backup, prefix = 'restored'): Promise<string> {
  return withClient(async (client) => {
    const tableName = `${prefix}-${randomBytes(4).toString('hex')}`;
    await ensureTable(client, tableName);
    for (let i = 0; i < backup.length; i += 25) {
      let pending: Record<string, { PutRequest: { Item: Record<string, AttributeValue> } }[]> | undefined = {
        [tableName]: backup.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })),
      };
      while (pending && Object.keys(pending).length) {
        const out = await client.send(new BatchWriteItemCommand({ RequestItems: pending }));
        pending = out.UnprocessedItems as typeof pending;
      }
    }
    return tableName;
  });
}
