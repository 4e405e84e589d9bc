import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ResourceInUseException,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { ForcedBudgetExhaustedError, QuotaLimitError, StoreUnavailableError } from './errors.js';
import type {
  CredentialItem,
  CredentialKey,
  CredentialStore,
  FailureRecord,
  LeaseRequest,
  QuotaCall,
  QuotaCount,
  TokenWrite,
} from './store.js';

type Item = Record<string, AttributeValue>;

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });

export const credentialPk = (key: CredentialKey): string => `CRED#${key.app}#${key.kind}`;
export const quotaPk = (app: string, api: string, period: string): string => `QUOTA#${app}#${api}#${period}`;

/** The credential store on one DynamoDB table keyed by `pk` (DESIGN.md, "Store"). */
export class DynamoCredentialStore implements CredentialStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;

  constructor(options: { client: DynamoDBClient; tableName: string }) {
    this.#client = options.client;
    this.#table = options.tableName;
  }

  async read(key: CredentialKey): Promise<CredentialItem | undefined> {
    const out = await this.#send('read', () =>
      this.#client.send(new GetItemCommand({ TableName: this.#table, Key: { pk: S(credentialPk(key)) }, ConsistentRead: true })),
    );
    return out.Item ? fromItem(out.Item) : undefined;
  }

  async acquireLease(key: CredentialKey, req: LeaseRequest): Promise<boolean> {
    return this.#conditional('acquireLease', new UpdateItemCommand({
      TableName: this.#table,
      Key: { pk: S(credentialPk(key)) },
      UpdateExpression: 'SET leaseOwner = :me, leaseUntil = :until, #version = if_not_exists(#version, :zero)',
      ConditionExpression:
        '(attribute_not_exists(pk) OR #version = :seen) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)',
      ExpressionAttributeNames: { '#version': 'version' },
      ExpressionAttributeValues: {
        ':me': S(req.owner),
        ':until': N(req.now + req.leaseMs),
        ':zero': N(0),
        ':seen': N(req.seenVersion),
        ':now': N(req.now),
      },
    }));
  }

  async writeToken(key: CredentialKey, w: TokenWrite): Promise<CredentialItem | undefined> {
    const values: Item = {
      ':me': S(w.owner),
      ':seen': N(w.seenVersion),
      ':one': N(1),
      ':zero': N(0),
      ':value': S(w.value),
      ':expiresAt': N(w.expiresAt),
      ':obtainedAt': N(w.obtainedAt),
    };
    const sets = ['#value = :value', 'expiresAt = :expiresAt', 'obtainedAt = :obtainedAt', '#version = #version + :one', 'failures = :zero'];
    const removes = ['leaseOwner', 'leaseUntil', 'lastError', 'blockedUntil', 'validatedAt', 'backoffUntil', 'backoffSource'];
    if (w.previousValue !== undefined && w.previousValidUntil !== undefined) {
      sets.push('previousValue = :prev', 'previousValidUntil = :prevUntil');
      values[':prev'] = S(w.previousValue);
      values[':prevUntil'] = N(w.previousValidUntil);
    } else {
      removes.push('previousValue', 'previousValidUntil');
    }
    if (w.forcedAt !== undefined) {
      sets.push('lastForcedAt = :forcedAt');
      values[':forcedAt'] = N(w.forcedAt);
    }
    if (w.secretFingerprint !== undefined) {
      sets.push('secretFingerprint = :sfp');
      values[':sfp'] = S(w.secretFingerprint);
    }
    if (w.refreshedBy !== undefined) {
      sets.push('refreshedBy = :by');
      values[':by'] = S(w.refreshedBy);
    }
    try {
      const out = await this.#client.send(new UpdateItemCommand({
        TableName: this.#table,
        Key: { pk: S(credentialPk(key)) },
        UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
        ConditionExpression: 'leaseOwner = :me AND #version = :seen',
        ExpressionAttributeNames: { '#value': 'value', '#version': 'version' },
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }));
      return fromItem(out.Attributes ?? {});
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw new StoreUnavailableError('writeToken', error);
    }
  }

  async releaseLease(key: CredentialKey, owner: string, validatedAt?: number): Promise<boolean> {
    const values: Item = { ':me': S(owner) };
    if (validatedAt !== undefined) values[':validatedAt'] = N(validatedAt);
    return this.#conditional('releaseLease', new UpdateItemCommand({
      TableName: this.#table,
      Key: { pk: S(credentialPk(key)) },
      UpdateExpression: `${validatedAt === undefined ? '' : 'SET validatedAt = :validatedAt '}REMOVE leaseOwner, leaseUntil`,
      ConditionExpression: 'leaseOwner = :me',
      ExpressionAttributeValues: values,
    }));
  }

  async recordFailure(key: CredentialKey, f: FailureRecord): Promise<boolean> {
    const values: Item = {
      ':me': S(f.owner),
      ':one': N(1),
      ':zero': N(0),
      ':err': { M: { code: S(f.error.code), message: S(f.error.message || '-'), at: N(f.error.at) } },
    };
    let update = 'SET failures = if_not_exists(failures, :zero) + :one, lastError = :err';
    const removes = ['leaseOwner', 'leaseUntil'];
    if (f.blockedUntil !== undefined) {
      update += ', blockedUntil = :blocked';
      values[':blocked'] = N(f.blockedUntil);
    }
    if (f.backoffUntil !== undefined) {
      update += ', backoffUntil = :backoff';
      values[':backoff'] = N(f.backoffUntil);
      if (f.backoffSource !== undefined) {
        update += ', backoffSource = :bsrc';
        values[':bsrc'] = S(f.backoffSource);
      } else {
        removes.push('backoffSource');
      }
    } else {
      removes.push('backoffUntil', 'backoffSource');
    }
    return this.#conditional('recordFailure', new UpdateItemCommand({
      TableName: this.#table,
      Key: { pk: S(credentialPk(key)) },
      UpdateExpression: `${update} REMOVE ${removes.join(', ')}`,
      ConditionExpression: 'leaseOwner = :me',
      ExpressionAttributeValues: values,
    }));
  }

  async countUpstreamCall(call: QuotaCall): Promise<QuotaCount> {
    const forced = call.forcedBudget !== undefined;
    const values: Item = { ':one': N(1), ':ttl': N(call.ttl) };
    const conditions: string[] = [];
    if (forced) {
      values[':budget'] = N(call.forcedBudget!);
      conditions.push('attribute_not_exists(forced) OR forced < :budget');
    }
    if (call.limit !== undefined) {
      values[':limit'] = N(call.limit);
      conditions.push('attribute_not_exists(#count) OR #count < :limit');
    }
    try {
      const out = await this.#client.send(new UpdateItemCommand({
        TableName: this.#table,
        Key: { pk: S(quotaPk(call.app, call.api, call.period)) },
        UpdateExpression: forced ? 'ADD #count :one, forced :one SET #ttl = :ttl' : 'ADD #count :one SET #ttl = :ttl',
        ConditionExpression: conditions.length > 1 ? conditions.map((c) => `(${c})`).join(' AND ') : conditions[0],
        ExpressionAttributeNames: { '#count': 'count', '#ttl': 'ttl' },
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }));
      return quotaFrom(out.Attributes);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        if (!forced) throw new QuotaLimitError(call.app, call.api);
        if (call.limit === undefined) throw new ForcedBudgetExhaustedError(call.app);
        // Both conditions: which one failed? (dynalite ignores ReturnValuesOnConditionCheckFailure.)
        const row = await this.readQuota(call.app, call.api, call.period);
        throw row.forced >= call.forcedBudget! ? new ForcedBudgetExhaustedError(call.app) : new QuotaLimitError(call.app, call.api);
      }
      throw new StoreUnavailableError('countUpstreamCall', error);
    }
  }

  async uncountUpstreamCall(call: QuotaCall): Promise<void> {
    const forced = call.forcedBudget !== undefined;
    await this.#send('uncountUpstreamCall', () =>
      this.#client.send(new UpdateItemCommand({
        TableName: this.#table,
        Key: { pk: S(quotaPk(call.app, call.api, call.period)) },
        UpdateExpression: forced ? 'ADD #count :minus, forced :minus' : 'ADD #count :minus',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#count': 'count' },
        ExpressionAttributeValues: { ':minus': N(-1) },
      })),
    );
  }

  async readQuota(app: string, api: string, period: string): Promise<QuotaCount> {
    const out = await this.#send('readQuota', () =>
      this.#client.send(new GetItemCommand({ TableName: this.#table, Key: { pk: S(quotaPk(app, api, period)) }, ConsistentRead: true })),
    );
    return quotaFrom(out.Item);
  }

  async #conditional(operation: string, command: UpdateItemCommand): Promise<boolean> {
    try {
      await this.#client.send(command);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw new StoreUnavailableError(operation, error);
    }
  }

  async #send<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw new StoreUnavailableError(operation, error);
    }
  }
}

/** Create the hub's table if it is missing (local runs and tests; in AWS the stack owns it). */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
}

function num(v: AttributeValue | undefined): number | undefined {
  return v?.N === undefined ? undefined : Number(v.N);
}

function str(v: AttributeValue | undefined): string | undefined {
  return v?.S;
}

function fromItem(item: Item): CredentialItem {
  const err = item.lastError?.M;
  return {
    value: str(item.value),
    expiresAt: num(item.expiresAt),
    obtainedAt: num(item.obtainedAt),
    version: num(item.version) ?? 0,
    previousValue: str(item.previousValue),
    previousValidUntil: num(item.previousValidUntil),
    leaseOwner: str(item.leaseOwner),
    leaseUntil: num(item.leaseUntil),
    failures: num(item.failures) ?? 0,
    lastError: err ? { code: str(err.code) ?? '', message: str(err.message) ?? '', at: num(err.at) ?? 0 } : undefined,
    blockedUntil: num(item.blockedUntil),
    secretFingerprint: str(item.secretFingerprint),
    validatedAt: num(item.validatedAt),
    lastForcedAt: num(item.lastForcedAt),
    refreshedBy: str(item.refreshedBy) as CredentialItem['refreshedBy'],
    backoffUntil: num(item.backoffUntil),
    backoffSource: str(item.backoffSource),
  };
}

function quotaFrom(item: Item | undefined): QuotaCount {
  return { count: num(item?.count) ?? 0, forced: num(item?.forced) ?? 0 };
}
