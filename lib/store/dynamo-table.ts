import { ConditionalCheckFailedException, GetItemCommand, QueryCommand, type DynamoDBClient, type UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { InvalidCursorError } from '../errors.js';
import { credentialPk, decodeCursor, encodeCursor, GSI, S, type Item } from './dynamo-codec.js';
import { StoreUnavailableError } from './errors.js';
import type { CredentialKey } from './store.js';

/**
 * The hub's one DynamoDB table as the store's operations use it (lib/store/dynamodb.ts for the
 * credentials, lib/store/dynamo-ledger.ts for the quota ledger, lib/store/dynamo-index.ts and
 * lib/store/dynamo-directory.ts for the due index and the rest): a conditional update that reports
 * its refusal, a consistent read by key, a page of one gsi1 partition, any other failure as
 * StoreUnavailableError naming the operation, and whether a refusal may be the effect of our own
 * retried request.
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

  /**
   * At most `limit` items of one gsi1 partition in sort key order, continuing after `cursor`, and a
   * cursor only when there are more: the query asks for one item more than the page, so that a page
   * that ends the partition says so (DynamoDB returns a LastEvaluatedKey whenever its Limit is hit).
   */
  async queryIndex(operation: string, partition: string, options: { limit: number; cursor?: string; prefix?: string }): Promise<{ items: Item[]; cursor?: string }> {
    const limit = Math.max(1, Math.floor(options.limit));
    const start = decodeCursor(options.cursor);
    // A cursor of another partition would be refused by DynamoDB as a failure of the store.
    if (start && start.gsi1pk?.S !== partition) throw new InvalidCursorError();
    // Nor one of another prefix's list (DynamoDB would refuse a start key outside the key condition).
    if (start && options.prefix && !start.gsi1sk?.S?.startsWith(options.prefix)) throw new InvalidCursorError();
    const out = await this.send(operation, () =>
      this.client.send(new QueryCommand({
        TableName: this.name,
        IndexName: GSI,
        KeyConditionExpression: options.prefix ? 'gsi1pk = :p AND begins_with(gsi1sk, :s)' : 'gsi1pk = :p',
        ExpressionAttributeValues: { ':p': S(partition), ...(options.prefix ? { ':s': S(options.prefix) } : {}) },
        ScanIndexForward: true,
        Limit: limit + 1,
        ...(start ? { ExclusiveStartKey: start } : {}),
      })),
    );
    const items = out.Items ?? [];
    if (items.length > limit) {
      const last = items[limit - 1]!;
      return { items: items.slice(0, limit), cursor: encodeCursor({ pk: last.pk!, gsi1pk: last.gsi1pk!, gsi1sk: last.gsi1sk! }) };
    }
    // Fewer than asked: the partition ended, or DynamoDB stopped at its 1 MB page (then it says where).
    return { items, ...(out.LastEvaluatedKey ? { cursor: encodeCursor(out.LastEvaluatedKey) } : {}) };
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
