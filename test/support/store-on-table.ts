import { randomBytes } from 'node:crypto';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoCredentialStore, ensureTable } from '../../lib/store/dynamodb.js';
import { LosingHandler } from './losing-handler.js';
import { sharedDynalite } from './world.js';

/**
 * A DynamoDB store on a fresh table of the shared dynalite, whose client loses the answers it is
 * told to lose (test/support/losing-handler.ts), another store beside it whose answers all arrive,
 * and a raw consistent read by pk. For the store's own tests (store-dynamo-*.test.ts).
 */
const clients: DynamoDBClient[] = [];

export async function plainClient(): Promise<DynamoDBClient> {
  const { endpoint } = await sharedDynalite();
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  clients.push(client);
  return client;
}

export async function storeOnFreshTable(prefix: string) {
  const { endpoint } = await sharedDynalite();
  const handler = new LosingHandler();
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, requestHandler: handler }); // default retries: 3 attempts
  clients.push(client);
  const plain = await plainClient();
  const tableName = `${prefix}-${randomBytes(4).toString('hex')}`;
  await ensureTable(plain, tableName);
  return {
    handler,
    store: new DynamoCredentialStore({ client, tableName }),
    /** Another container, whose answers all arrive. */
    other: new DynamoCredentialStore({ client: plain, tableName }),
    raw: async (pk: string) => (await plain.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: pk } }, ConsistentRead: true }))).Item,
  };
}

/** Destroy the clients made so far (afterAll). */
export function destroyClients(): void {
  clients.splice(0).forEach((c) => c.destroy());
}
