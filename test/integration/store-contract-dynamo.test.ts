import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll } from 'vitest';
import { DynamoCredentialStore, ensureTable } from '../../lib/store/dynamodb.js';
import { storeContract } from '../contract/store-contract.js';
import { closeSharedDynalite, sharedDynalite } from '../support/world.js';

/**
 * The SDK's HTTP handler, which can apply the next UpdateItem and lose its answer: the SDK's standard
 * retry strategy then sends it again (as after a socket timeout), and the store must recognise its
 * own applied write (test/integration/store-lost-acks.test.ts has the full-blown version).
 */
class LosingHandler extends NodeHttpHandler {
  loseNext = false;

  override async handle(...args: Parameters<NodeHttpHandler['handle']>): ReturnType<NodeHttpHandler['handle']> {
    const [request] = args;
    const target = Object.entries(request.headers).find(([name]) => name.toLowerCase() === 'x-amz-target')?.[1] ?? '';
    const out = await super.handle(...args);
    if (this.loseNext && target.endsWith('.UpdateItem')) {
      this.loseNext = false;
      for await (const _ of out.response.body as AsyncIterable<unknown>) { /* drain, free the socket */ }
      throw Object.assign(new Error('the answer was lost'), { name: 'TimeoutError' });
    }
    return out;
  }
}

afterAll(closeSharedDynalite);

storeContract('DynamoCredentialStore (dynalite)', async () => {
  const engine = await sharedDynalite();
  const handler = new LosingHandler();
  const client = new DynamoDBClient({
    endpoint: engine.endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, requestHandler: handler, maxAttempts: 3,
  });
  const tableName = `contract-${randomBytes(4).toString('hex')}`;
  await ensureTable(client, tableName);
  return {
    store: new DynamoCredentialStore({ client, tableName }),
    loseNextAnswer: () => void (handler.loseNext = true),
    close: async () => client.destroy(),
  };
});
