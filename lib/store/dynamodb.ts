import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { credentialPk, fromItem, N, num, S, str, type Item } from './dynamo-codec.js';
import * as ledger from './dynamo-ledger.js';
import { DynamoTable, mayHaveBeenApplied } from './dynamo-table.js';
import { StoreUnavailableError } from './errors.js';
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

// The key builders, importable from here as before.
export { credentialPk, quotaPk } from './dynamo-codec.js';

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
 * - countUpstreamCall (lib/store/dynamo-ledger.ts): the row's string set `attempts` holds the
 *   call's attemptId (ADDed with the count, conditioned on not being there yet): counted once;
 *   uncountUpstreamCall DELETEs it with the subtraction, conditioned on its being there, so a
 *   take-back is also applied once.
 * A condition failure on the first attempt cannot be our own (nothing was sent before), so it is
 * reported without the extra read (a lost lease race, the common case, costs one request).
 * The owner is a uuid per refresh attempt (lib/protocol.ts), so a mark names one attempt (a second,
 * deliberate release or failure record by the same owner, which the protocol never makes, would
 * also read as done). The marks stay on the item; each is overwritten by the next of its kind.
 */
export class DynamoCredentialStore implements CredentialStore {
  readonly #table: DynamoTable;

  constructor(options: { client: DynamoDBClient; tableName: string }) {
    this.#table = new DynamoTable(options.client, options.tableName);
  }

  async read(key: CredentialKey): Promise<CredentialItem | undefined> {
    const item = await this.#table.readRaw('read', key);
    return item ? fromItem(item) : undefined;
  }

  async acquireLease(key: CredentialKey, req: LeaseRequest): Promise<boolean> {
    const until = req.now + req.leaseMs;
    const refused = await this.#table.conditional('acquireLease', new UpdateItemCommand({
      TableName: this.#table.name,
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
    const item = await this.#table.readRaw('acquireLease', key);
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
      const out = await this.#table.client.send(new UpdateItemCommand({
        TableName: this.#table.name,
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
    const raw = await this.#table.readRaw('writeToken', key);
    const item = raw && fromItem(raw);
    return item?.writtenBy === w.owner && item.version === w.seenVersion + 1 ? item : undefined;
  }

  async releaseLease(key: CredentialKey, owner: string, validatedAt?: number): Promise<boolean> {
    const values: Item = { ':me': S(owner) };
    if (validatedAt !== undefined) values[':validatedAt'] = N(validatedAt);
    const refused = await this.#table.conditional('releaseLease', new UpdateItemCommand({
      TableName: this.#table.name,
      Key: { pk: S(credentialPk(key)) },
      UpdateExpression: `SET releasedBy = :me${validatedAt === undefined ? '' : ', validatedAt = :validatedAt'} REMOVE leaseOwner, leaseUntil`,
      ConditionExpression: 'leaseOwner = :me',
      ExpressionAttributeValues: values,
    }));
    if (refused === undefined) return true;
    if (!mayHaveBeenApplied(refused)) return false;
    const item = await this.#table.readRaw('releaseLease', key);
    return str(item?.releasedBy) === owner && str(item?.leaseOwner) !== owner;
  }

  async renewLease(key: CredentialKey, owner: string, until: number): Promise<boolean> {
    // Idempotent as it is: a retry of an applied renewal finds the same owner and sets the same time.
    const refused = await this.#table.conditional('renewLease', new UpdateItemCommand({
      TableName: this.#table.name,
      Key: { pk: S(credentialPk(key)) },
      UpdateExpression: 'SET leaseUntil = :until',
      ConditionExpression: 'leaseOwner = :me',
      ExpressionAttributeValues: { ':me': S(owner), ':until': N(until) },
    }));
    return refused === undefined;
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
    const refused = await this.#table.conditional('recordFailure', new UpdateItemCommand({
      TableName: this.#table.name,
      Key: { pk: S(credentialPk(key)) },
      UpdateExpression: `${update} REMOVE ${removes.join(', ')}`,
      ConditionExpression: 'leaseOwner = :me',
      ExpressionAttributeValues: values,
    }));
    if (refused === undefined) return true;
    if (!mayHaveBeenApplied(refused)) return false;
    const raw = await this.#table.readRaw('recordFailure', key);
    const item = raw && fromItem(raw);
    return (
      str(raw?.failedBy) === f.owner && item?.leaseOwner !== f.owner &&
      item?.lastError?.at === f.error.at && item.lastError.code === f.error.code
    );
  }

  countUpstreamCall(call: QuotaCall): Promise<QuotaCount> {
    return ledger.countUpstreamCall(this.#table, call);
  }

  uncountUpstreamCall(call: QuotaCall): Promise<void> {
    return ledger.uncountUpstreamCall(this.#table, call);
  }

  readQuota(app: string, api: string, period: string): Promise<QuotaCount> {
    return ledger.readQuota(this.#table, app, api, period);
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
