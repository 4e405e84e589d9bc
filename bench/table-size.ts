/**
 * What the hub's table holds, by item type, in DynamoDB's billed sizes (dynalite's own item size:
 * attribute names and values in bytes), for the storage and point-in-time-recovery lines of the
 * cost model. Read with a client of its own: not counted as the hub's requests.
 */
import { createRequire } from 'node:module';
import { DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';

const itemSize = (createRequire(import.meta.url)('dynalite/db/index.js') as { itemSize(item: Record<string, AttributeValue>): number }).itemSize;

export interface TableSize {
  items: number;
  bytes: number;
  /** By the key's prefix (CRED, PRINCIPAL, QUOTA, ONCE, TOKEN, META). */
  byType: Record<string, { items: number; bytes: number }>;
}

export async function tableSize(endpoint: string, tableName: string): Promise<TableSize> {
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'b', secretAccessKey: 'b' } });
  const out: TableSize = { items: 0, bytes: 0, byType: {} };
  try {
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start }));
      for (const item of page.Items ?? []) {
        const type = (item.pk?.S ?? '').split('#')[0] || '?';
        const size = itemSize(item);
        const t = (out.byType[type] ??= { items: 0, bytes: 0 });
        t.items++;
        t.bytes += size;
        out.items++;
        out.bytes += size;
      }
      start = page.LastEvaluatedKey;
    } while (start);
  } finally {
    client.destroy();
  }
  return out;
}
