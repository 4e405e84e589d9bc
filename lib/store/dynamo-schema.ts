import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { GSI } from './dynamo-codec.js';

/**
 * The hub's table as the store needs it (docs/store.md), the same as serverless.yml's TokenTable:
 * hash key `pk`, on demand, and the one overloaded global secondary index gsi1 (`gsi1pk`, `gsi1sk`,
 * all attributes projected).
 */
export const tableSchema = (): Omit<CreateTableCommandInput, 'TableName'> => ({
  AttributeDefinitions: [
    { AttributeName: 'pk', AttributeType: 'S' },
    { AttributeName: 'gsi1pk', AttributeType: 'S' },
    { AttributeName: 'gsi1sk', AttributeType: 'S' },
  ],
  KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
  BillingMode: 'PAY_PER_REQUEST',
  GlobalSecondaryIndexes: [
    {
      IndexName: GSI,
      KeySchema: [
        { AttributeName: 'gsi1pk', KeyType: 'HASH' },
        { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    },
  ],
});

/**
 * Create the hub's table if it is missing (local runs and tests; in AWS the stack owns it). A table
 * that exists without gsi1 (made by an older hub, e.g. in a local data directory) is refused with
 * what to do: dynalite cannot add an index to an existing table.
 */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand({ TableName: tableName, ...tableSchema() }));
    return;
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  if (!Table?.GlobalSecondaryIndexes?.some((i) => i.IndexName === GSI)) {
    throw new Error(
      `the table ${tableName} has no index ${GSI} (it was made by an older version of the hub): ` +
        'remove it (locally: the data directory) and start again; the hub fetches its credentials anew',
    );
  }
}
