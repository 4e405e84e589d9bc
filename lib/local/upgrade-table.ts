import { BatchWriteItemCommand, CreateTableCommand, DeleteTableCommand, DescribeTableCommand, ResourceNotFoundException, ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { tableSchema } from '../store/dynamo-schema.js';

/**
 * A local table (HUB_DATA_DIR) made by a hub older than the due index has no `gsi1`, and dynalite
 * cannot add an index to a table: it is copied into a new one with the index, item by item (a few
 * dozen locally), so that the tokens it holds are not fetched again. Credentials come back without
 * a place in the due index; the principal sync puts them there. True when it upgraded.
 */
export async function upgradeLocalTable(client: DynamoDBClient, tableName: string): Promise<boolean> {
  let indexes: unknown[] | undefined;
  try {
    indexes = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table?.GlobalSecondaryIndexes;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return false;
    throw error;
  }
  if (indexes?.length) return false;
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  await client.send(new DeleteTableCommand({ TableName: tableName }));
  await client.send(new CreateTableCommand({ TableName: tableName, ...tableSchema() }));
  for (let i = 0; i < items.length; i += 25) {
    let request: BatchWriteItemCommand['input']['RequestItems'] = { [tableName]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) };
    // What the engine did not take this time is sent again (a few times), not dropped.
    for (let attempt = 0; request && Object.keys(request).length && attempt < 5; attempt++) {
      request = (await client.send(new BatchWriteItemCommand({ RequestItems: request }))).UnprocessedItems;
    }
    if (request && Object.keys(request).length) throw new Error(`could not copy every item of ${tableName} into its new table`);
  }
  return true;
}
