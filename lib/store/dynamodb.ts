import { randomBytes } from 'node:crypto';
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

/**
 * A short random id for one counted call (48 bits: a row holds at most a few thousand, so a
 * collision, which would make two calls count once, is about as likely as 1 in 10^7 per day).
 * A row's `attempts` set is not trimmed: it lives as long as the row (its TTL, the period plus a
 * day or two), and a few thousand 8-character ids are tens of KB, far below DynamoDB's 400 KB item
 * limit (in a normal day a token row holds a few dozen).
 */
const newAttemptId = (): string => randomBytes(6).toString('base64url');

/**
 * The credential store on one DynamoDB table keyed by `pk` (docs/store.md).
 *
 * Idempotent per attempt. The SDK sends a request again when the answer to the first was lost (a
 * timeout, a reset connection) even though DynamoDB may have applied it; the second then fails its
 * condition on the first one's effect. So every conditional write leaves a mark of who made it, and
 * a condition failure after more than one attempt is checked against a consistent re-read:
 * - acquireLease: `leaseOwner` is ours and `leaseUntil` the one we set: acquired;
 * - writeToken: `writtenBy` (SET by every fenced write) is ours and `version` is seenVersion + 1: written;
 * - releaseLease: `releasedBy` (SET by every release) is ours and the lease is not: released;
 * - recordFailure: `failedBy` (SET by every failure record) is ours, the lease is not, and
 *   `lastError` is the one we recorded (its code and time): recorded, and counted once;
 * - countUpstreamCall: the row's string set `attempts` holds the call's attemptId (ADDed with the
 *   count, conditioned on not being there yet): counted once; uncountUpstreamCall DELETEs it with the
 *   subtraction, conditioned on its being there, so a take-back is also applied once.
 * A condition failure on the first attempt cannot be our own (nothing was sent before), so it is
 * reported without the extra read (a lost lease race, the common case, costs one request).
 * The owner is a uuid per refresh attempt (lib/protocol.ts), so a mark names one attempt (a second,
 * deliberate release or failure record by the same owner, which the protocol never makes, would
 * also read as done). The marks stay on the item; each is overwritten by the next of its kind.
 */
export class DynamoCredentialStore implements CredentialStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;

  constructor(options: { client: DynamoDBClient; tableName: string }) {
    this.#client = options.client;
    this.#table = options.tableName;
  }

  async read(key: CredentialKey): Promise<CredentialItem | undefined> {
    const item = await this.#readRaw('read', key);
    return item ? fromItem(item) : undefined;
  }

  async acquireLease(key: CredentialKey, req: LeaseRequest): Promise<boolean> {
    const until = req.now + req.leaseMs;
    const refused = await this.#conditional('acquireLease', new UpdateItemCommand({
      TableName: this.#table,
      Key: { pk: S(credentialPk(key)) },
      UpdateExpression: 'SET leaseOwner = :me, leaseUntil = :until, #version = if_not_exists(#version, :zero)',
      ConditionExpression:
        '(attribute_not_exists(pk) OR #version = :seen) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :lapsedBefore)',
      ExpressionAttributeNames: { '#version': 'version' },
      ExpressionAttributeValues: {
        ':me': S(req.owner),
        ':until': N(until),
        ':zero': N(0),
        ':seen': N(req.seenVersion),
        // Another container's clock may be ahead of ours by up to skewMs: its lease is free only
        // once it lapsed that long ago by our clock.
        ':lapsedBefore': N(req.now - (req.skewMs ?? 0)),
      },
    }));
    if (refused === undefined) return true;
    if (!mayHaveBeenApplied(refused)) return false;
    const item = await this.#readRaw('acquireLease', key);
    return str(item?.leaseOwner) === req.owner && num(item?.leaseUntil) === until;
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
    const sets = [
      '#value = :value', 'expiresAt = :expiresAt', 'obtainedAt = :obtainedAt', '#version = #version + :one', 'failures = :zero',
      'writtenBy = :me',
    ];
    const removes = ['leaseOwner', 'leaseUntil', 'lastError', 'blockedUntil', 'validatedAt', 'backoffUntil', 'backoffSource'];
    if (w.previousValue !== undefined && w.previousValidUntil !== undefined) {
      sets.push('previousValue = :prev', 'previousValidUntil = :prevUntil');
      values[':prev'] = S(w.previousValue);
      values[':prevUntil'] = N(w.previousValidUntil);
    } else {
      removes.push('previousValue', 'previousValidUntil');
    }
    if (w.replacedValue !== undefined && w.replacedUntil !== undefined) {
      sets.push('replacedValue = :replaced', 'replacedUntil = :replacedUntil');
      values[':replaced'] = S(w.replacedValue);
      values[':replacedUntil'] = N(w.replacedUntil);
    } else {
      removes.push('replacedValue', 'replacedUntil');
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
      if (!(error instanceof ConditionalCheckFailedException)) throw new StoreUnavailableError('writeToken', error);
      if (!mayHaveBeenApplied(error)) return undefined;
    }
    // Fenced off, or our own write applied under a lost answer: only ours has our owner and our version.
    const raw = await this.#readRaw('writeToken', key);
    const item = raw && fromItem(raw);
    return item?.writtenBy === w.owner && item.version === w.seenVersion + 1 ? item : undefined;
  }

  async releaseLease(key: CredentialKey, owner: string, validatedAt?: number): Promise<boolean> {
    const values: Item = { ':me': S(owner) };
    if (validatedAt !== undefined) values[':validatedAt'] = N(validatedAt);
    const refused = await this.#conditional('releaseLease', new UpdateItemCommand({
      TableName: this.#table,
      Key: { pk: S(credentialPk(key)) },
      UpdateExpression: `SET releasedBy = :me${validatedAt === undefined ? '' : ', validatedAt = :validatedAt'} REMOVE leaseOwner, leaseUntil`,
      ConditionExpression: 'leaseOwner = :me',
      ExpressionAttributeValues: values,
    }));
    if (refused === undefined) return true;
    if (!mayHaveBeenApplied(refused)) return false;
    const item = await this.#readRaw('releaseLease', key);
    return str(item?.releasedBy) === owner && str(item?.leaseOwner) !== owner;
  }

  async recordFailure(key: CredentialKey, f: FailureRecord): Promise<boolean> {
    const values: Item = {
      ':me': S(f.owner),
      ':one': N(1),
      ':zero': N(0),
      ':err': { M: { code: S(f.error.code), message: S(f.error.message || '-'), at: N(f.error.at) } },
    };
    let update = 'SET failures = if_not_exists(failures, :zero) + :one, lastError = :err, failedBy = :me';
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
    const refused = await this.#conditional('recordFailure', new UpdateItemCommand({
      TableName: this.#table,
      Key: { pk: S(credentialPk(key)) },
      UpdateExpression: `${update} REMOVE ${removes.join(', ')}`,
      ConditionExpression: 'leaseOwner = :me',
      ExpressionAttributeValues: values,
    }));
    if (refused === undefined) return true;
    if (!mayHaveBeenApplied(refused)) return false;
    const raw = await this.#readRaw('recordFailure', key);
    const item = raw && fromItem(raw);
    return (
      str(raw?.failedBy) === f.owner && item?.leaseOwner !== f.owner &&
      item?.lastError?.at === f.error.at && item.lastError.code === f.error.code
    );
  }

  async countUpstreamCall(call: QuotaCall): Promise<QuotaCount> {
    const forced = call.forcedBudget !== undefined;
    // Stored on the caller's object, so that uncountUpstreamCall(call) takes back this very call.
    const attemptId = (call.attemptId ??= newAttemptId());
    const values: Item = { ':one': N(1), ':ttl': N(call.ttl), ':id': S(attemptId), ':ids': { SS: [attemptId] } };
    const conditions: string[] = ['NOT contains(attempts, :id)'];
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
        UpdateExpression: `ADD #count :one, ${forced ? 'forced :one, ' : ''}attempts :ids SET #ttl = :ttl`,
        ConditionExpression: conditions.map((c) => `(${c})`).join(' AND '),
        ExpressionAttributeNames: { '#count': 'count', '#ttl': 'ttl' },
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }));
      return { ...quotaFrom(out.Attributes), attemptId };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw new StoreUnavailableError('countUpstreamCall', error);
      // Which condition failed? (dynalite ignores ReturnValuesOnConditionCheckFailure, so read.) Read
      // even after a single attempt: a caller may have passed an id it counted before.
      const raw = await this.#readRaw('countUpstreamCall', { pk: quotaPk(call.app, call.api, call.period) });
      if (raw?.attempts?.SS?.includes(attemptId)) return { ...quotaFrom(raw), attemptId }; // counted already: once
      const row = quotaFrom(raw);
      if (forced && (call.limit === undefined || row.forced >= call.forcedBudget!)) throw new ForcedBudgetExhaustedError(call.app);
      if (call.limit !== undefined) throw new QuotaLimitError(call.app, call.api);
      // Only the attempt condition could fail, yet the id is not in the row (taken back meanwhile?).
      throw new StoreUnavailableError('countUpstreamCall', error);
    }
  }

  async uncountUpstreamCall(call: QuotaCall): Promise<void> {
    const forced = call.forcedBudget !== undefined;
    if (call.attemptId !== undefined) {
      // Exactly this call, once: a retry of an applied take-back (or a call never counted) fails the
      // condition and changes nothing.
      await this.#conditional('uncountUpstreamCall', new UpdateItemCommand({
        TableName: this.#table,
        Key: { pk: S(quotaPk(call.app, call.api, call.period)) },
        UpdateExpression: `ADD #count :minus${forced ? ', forced :minus' : ''} DELETE attempts :ids`,
        ConditionExpression: 'contains(attempts, :id)',
        ExpressionAttributeNames: { '#count': 'count' },
        ExpressionAttributeValues: { ':minus': N(-1), ':id': S(call.attemptId), ':ids': { SS: [call.attemptId] } },
      }));
      return;
    }
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
    return quotaFrom(await this.#readRaw('readQuota', { pk: quotaPk(app, api, period) }));
  }

  /** Undefined when applied; the condition failure when refused; StoreUnavailableError otherwise. */
  async #conditional(operation: string, command: UpdateItemCommand): Promise<ConditionalCheckFailedException | undefined> {
    try {
      await this.#client.send(command);
      return undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return error;
      throw new StoreUnavailableError(operation, error);
    }
  }

  /** The stored attributes, read consistently (by a credential key or a ledger row's pk). */
  async #readRaw(operation: string, key: CredentialKey | { pk: string }): Promise<Item | undefined> {
    const pk = 'pk' in key ? key.pk : credentialPk(key);
    const out = await this.#send(operation, () =>
      this.#client.send(new GetItemCommand({ TableName: this.#table, Key: { pk: S(pk) }, ConsistentRead: true })),
    );
    return out.Item;
  }

  async #send<T>(operation: string, call: () => Promise<T>): Promise<T> {
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
function mayHaveBeenApplied(error: ConditionalCheckFailedException): boolean {
  return (error.$metadata?.attempts ?? 2) > 1;
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
    replacedValue: str(item.replacedValue),
    replacedUntil: num(item.replacedUntil),
    writtenBy: str(item.writtenBy),
  };
}

function quotaFrom(item: Item | undefined): QuotaCount {
  return { count: num(item?.count) ?? 0, forced: num(item?.forced) ?? 0 };
}
