import { randomBytes } from 'node:crypto';
import { ConditionalCheckFailedException, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { N, quotaPk, quotaFrom, S, type Item } from './dynamo-codec.js';
import type { DynamoTable } from './dynamo-table.js';
import { StoreUnavailableError } from './errors.js';
import type { QuotaCall, QuotaCount, QuotaRefusal } from './store.js';

/**
 * The quota ledger's operations on DynamoDB (one row per app, API and period, `pk = QUOTA#…`,
 * docs/store.md), for DynamoCredentialStore: counting a call within its limit and forced budget,
 * taking a count back, and reading a row. Counting and taking back are idempotent per call by its
 * attemptId, as the store's other writes are by their marks (lib/store/dynamodb.ts).
 */

/**
 * A short random id for one counted call (48 bits: a row holds at most a few thousand, so a
 * collision, which would make two calls count once, is about as likely as 1 in 10^7 per day).
 * A row's `attempts` set is not trimmed: it lives as long as the row (its TTL, the period plus a
 * day or two), and a few thousand 8-character ids are tens of KB, far below DynamoDB's 400 KB item
 * limit (in a normal day a token row holds a few dozen).
 */
const newAttemptId = (): string => randomBytes(6).toString('base64url');

/**
 * Counted (the row after the count), or refused (nothing counted): `forced_budget` when the forced
 * budget is spent (also when the limit is reached as well), `limit` when only the limit is.
 */
export async function countUpstreamCall(table: DynamoTable, call: QuotaCall): Promise<QuotaCount | QuotaRefusal> {
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
    const out = await table.client.send(new UpdateItemCommand({
      TableName: table.name,
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
    const raw = await table.readRaw('countUpstreamCall', { pk: quotaPk(call.app, call.api, call.period) });
    if (raw?.attempts?.SS?.includes(attemptId)) return { ...quotaFrom(raw), attemptId }; // counted already: once
    const row = quotaFrom(raw);
    if (forced && (call.limit === undefined || row.forced >= call.forcedBudget!)) return { refused: 'forced_budget' };
    if (call.limit !== undefined) return { refused: 'limit' };
    // Only the attempt condition could fail, yet the id is not in the row (taken back meanwhile?).
    throw new StoreUnavailableError('countUpstreamCall', error);
  }
}

export async function uncountUpstreamCall(table: DynamoTable, call: QuotaCall): Promise<void> {
  const forced = call.forcedBudget !== undefined;
  if (call.attemptId !== undefined) {
    // Exactly this call, once: a retry of an applied take-back (or a call never counted) fails the
    // condition and changes nothing.
    await table.conditional('uncountUpstreamCall', new UpdateItemCommand({
      TableName: table.name,
      Key: { pk: S(quotaPk(call.app, call.api, call.period)) },
      UpdateExpression: `ADD #count :minus${forced ? ', forced :minus' : ''} DELETE attempts :ids`,
      ConditionExpression: 'contains(attempts, :id)',
      ExpressionAttributeNames: { '#count': 'count' },
      ExpressionAttributeValues: { ':minus': N(-1), ':id': S(call.attemptId), ':ids': { SS: [call.attemptId] } },
    }));
    return;
  }
  await table.send('uncountUpstreamCall', () =>
    table.client.send(new UpdateItemCommand({
      TableName: table.name,
      Key: { pk: S(quotaPk(call.app, call.api, call.period)) },
      UpdateExpression: forced ? 'ADD #count :minus, forced :minus' : 'ADD #count :minus',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#count': 'count' },
      ExpressionAttributeValues: { ':minus': N(-1) },
    })),
  );
}

export async function readQuota(table: DynamoTable, app: string, api: string, period: string): Promise<QuotaCount> {
  return quotaFrom(await table.readRaw('readQuota', { pk: quotaPk(app, api, period) }));
}
