import { ConditionalCheckFailedException, GetItemCommand, type DynamoDBClient, type UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { credentialPk, S, type Item } from './dynamo-codec.js';
import { StoreUnavailableError } from './errors.js';
import type { CredentialKey } from './store.js';

/**
 * The hub's one DynamoDB table as the store's operations use it (lib/store/dynamodb.ts for the
 * credentials, lib/store/dynamo-ledger.ts for the quota ledger): a conditional update that reports
 * its refusal, a consistent read by key, any other failure as StoreUnavailableError naming the
 * operation, and whether a refusal may be the effect of our own retried request.
 */
export class DynamoTable {
  constructor(
    readonly client: DynamoDBClient,
    readonly name: string,
  ) {}

  /** Undefined when applied; the condition failure when refused; StoreUnavailableError otherwise. */
  async conditional(operation: string, command: UpdateItemCommand): Promise<ConditionalCheckFailedException | undefined> {
    try {
      await this.client.send(command);
      return undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return error;
      throw new StoreUnavailableError(operation, error);
    }
  }

  /** The stored attributes, read consistently (by a credential key or a ledger row's pk). */
  async readRaw(operation: string, key: CredentialKey | { pk: string }): Promise<Item | undefined> {
    const pk = 'pk' in key ? key.pk : credentialPk(key);
    const out = await this.send(operation, () =>
      this.client.send(new GetItemCommand({ TableName: this.name, Key: { pk: S(pk) }, ConsistentRead: true })),
    );
    return out.Item;
  }

  async send<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw new StoreUnavailableError(operation, error);
    }
  }
}

/**
 * Whether a condition failure may be the effect of our own request: only when the SDK sent it more
 * than once (its retry middleware records the attempts). Unknown (no metadata, e.g. a mocked
 * client) counts as "may".
 */
export function mayHaveBeenApplied(error: ConditionalCheckFailedException): boolean {
  return (error.$metadata?.attempts ?? 2) > 1;
}
