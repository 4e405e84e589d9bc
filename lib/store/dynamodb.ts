import { ConditionalCheckFailedException, type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { credentialPk, fromItem, N, num, S, scheduleNames, scheduleSets, str, type Item } from './dynamo-codec.js';
import * as directory from './dynamo-directory.js';
import * as dueIndex from './dynamo-index.js';
import * as ledger from './dynamo-ledger.js';
import { DynamoTable, mayHaveBeenApplied } from './dynamo-table.js';
import { failureUpdate, tokenWriteUpdate } from './dynamo-updates.js';
import { StoreUnavailableError } from './errors.js';
import type {
  CredentialItem,
  CredentialKey,
  CredentialStore,
  DueEntry,
  FailureRecord,
  LeaseRequest,
  PrincipalRow,
  QuotaCall,
  QuotaCount,
  QuotaRefusal,
  Schedule,
  TokenIndexEntry,
  TokenWrite,
} from './store.js';

// The key builders and the table's creation, importable from here as before.
export { credentialPk, quotaPk } from './dynamo-codec.js';
export { ensureTable } from './dynamo-schema.js';

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
 * The due index (a `schedule` given to a write moves it in the same UpdateItem) is in
 * lib/store/dynamo-index.ts; principals, the token-hash index and meta in lib/store/dynamo-directory.ts.
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
    try {
      const out = await this.#table.client.send(new UpdateItemCommand({
        TableName: this.#table.name,
        Key: { pk: S(credentialPk(key)) },
        ...tokenWriteUpdate(w),
        ConditionExpression: 'leaseOwner = :me AND #version = :seen',
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

  async releaseLease(key: CredentialKey, owner: string, validatedAt?: number, schedule?: Schedule): Promise<boolean> {
    const values: Item = { ':me': S(owner) };
    const sets = ['releasedBy = :me'];
    if (validatedAt !== undefined) {
      sets.push('validatedAt = :validatedAt');
      values[':validatedAt'] = N(validatedAt);
    }
    if (schedule !== undefined) sets.push(...scheduleSets(schedule, values));
    const refused = await this.#table.conditional('releaseLease', new UpdateItemCommand({
      TableName: this.#table.name,
      Key: { pk: S(credentialPk(key)) },
      UpdateExpression: `SET ${sets.join(', ')} REMOVE leaseOwner, leaseUntil`,
      ConditionExpression: 'leaseOwner = :me',
      ...(schedule === undefined ? {} : { ExpressionAttributeNames: scheduleNames }),
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
    const refused = await this.#table.conditional('recordFailure', new UpdateItemCommand({
      TableName: this.#table.name,
      Key: { pk: S(credentialPk(key)) },
      ...failureUpdate(f),
      ConditionExpression: 'leaseOwner = :me',
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

  countUpstreamCall(call: QuotaCall): Promise<QuotaCount | QuotaRefusal> {
    return ledger.countUpstreamCall(this.#table, call);
  }

  uncountUpstreamCall(call: QuotaCall): Promise<void> {
    return ledger.uncountUpstreamCall(this.#table, call);
  }

  readQuota(app: string, api: string, period: string): Promise<QuotaCount> {
    return ledger.readQuota(this.#table, app, api, period);
  }

  schedule(key: CredentialKey, schedule: Schedule, when?: { ifVersion?: number; ifUnscheduled?: boolean }): Promise<boolean> {
    return dueIndex.schedule(this.#table, key, schedule, when);
  }

  unschedule(key: CredentialKey): Promise<void> {
    return dueIndex.unschedule(this.#table, key);
  }

  queryDue(shard: number, options: { limit: number; cursor?: string }): Promise<{ entries: DueEntry[]; cursor?: string }> {
    return dueIndex.queryDue(this.#table, shard, options);
  }

  putPrincipal(row: PrincipalRow): Promise<void> {
    return directory.putPrincipal(this.#table, row);
  }

  getPrincipal(name: string): Promise<PrincipalRow | undefined> {
    return directory.getPrincipal(this.#table, name);
  }

  listPrincipals(options: { limit: number; cursor?: string; prefix?: string }): Promise<{ principals: PrincipalRow[]; cursor?: string }> {
    return directory.listPrincipals(this.#table, options);
  }

  deletePrincipal(name: string): Promise<void> {
    return directory.deletePrincipal(this.#table, name);
  }

  indexToken(hash: string, entry: TokenIndexEntry): Promise<void> {
    return directory.indexToken(this.#table, hash, entry);
  }

  lookupToken(hash: string): Promise<TokenIndexEntry | undefined> {
    return directory.lookupToken(this.#table, hash);
  }

  getMeta(name: string): Promise<Record<string, unknown> | undefined> {
    return directory.getMeta(this.#table, name);
  }

  putMeta(name: string, doc: Record<string, unknown>): Promise<void> {
    return directory.putMeta(this.#table, name, doc);
  }

  claimOnce(name: string, claim: { now: number; until: number; attempt: string }): Promise<boolean> {
    return directory.claimOnce(this.#table, name, claim);
  }

  releaseOnce(name: string, attempt: string): Promise<void> {
    return directory.releaseOnce(this.#table, name, attempt);
  }
}
