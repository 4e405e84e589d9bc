import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoCredentialStore } from '../../lib/store/dynamodb.js';
import { StoreUnavailableError } from '../../lib/store/errors.js';
import type { QuotaCall } from '../../lib/store/store.js';

const ddb = mockClient(DynamoDBClient);
const store = new DynamoCredentialStore({ client: new DynamoDBClient({ region: 'local' }), tableName: 'hub' });
const key = { app: 'oa', kind: 'access_token' } as const;
/** A condition failure; `attempts` as the SDK's retry middleware records it (absent: unknown, as with a mock). */
const conditionFailed = (attempts?: number) =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: attempts === undefined ? {} : { attempts } });

afterEach(() => ddb.reset());

describe('DynamoCredentialStore', () => {
  it('reads consistently, by the credential key', async () => {
    ddb.on(GetItemCommand).resolves({ Item: { pk: { S: 'CRED#oa#access_token' }, value: { S: 'tok' }, version: { N: '3' }, expiresAt: { N: '1000' } } });
    const item = await store.read(key);
    expect(item).toMatchObject({ value: 'tok', version: 3, expiresAt: 1000, failures: 0 });
    expect(ddb).toHaveReceivedCommandWith(GetItemCommand, { TableName: 'hub', Key: { pk: { S: 'CRED#oa#access_token' } }, ConsistentRead: true });
  });

  it('a lease refused by its condition is false, not an error', async () => {
    ddb.on(UpdateItemCommand).rejects(conditionFailed());
    ddb.on(GetItemCommand).resolves({ Item: { pk: { S: 'CRED#oa#access_token' }, leaseOwner: { S: 'other' }, leaseUntil: { N: '20' } } });
    await expect(store.acquireLease(key, { owner: 'me', seenVersion: 2, now: 10, leaseMs: 15 })).resolves.toBe(false);
    const input = ddb.commandCalls(UpdateItemCommand)[0]!.args[0].input;
    expect(input.ConditionExpression).toContain('leaseUntil < :lapsedBefore');
    expect(input.ExpressionAttributeValues).toMatchObject({ ':seen': { N: '2' }, ':until': { N: '25' }, ':me': { S: 'me' }, ':lapsedBefore': { N: '10' } });
  });

  it('a lease is taken over only once it lapsed skewMs ago by the caller\'s clock', async () => {
    ddb.on(UpdateItemCommand).resolves({});
    await expect(store.acquireLease(key, { owner: 'me', seenVersion: 2, now: 10_000, leaseMs: 15, skewMs: 5_000 })).resolves.toBe(true);
    expect(ddb.commandCalls(UpdateItemCommand)[0]!.args[0].input.ExpressionAttributeValues).toMatchObject({
      ':lapsedBefore': { N: '5000' }, ':until': { N: '10015' },
    });
  });

  it('a condition failure on the SDK\'s first attempt is reported without a re-read', async () => {
    ddb.on(UpdateItemCommand).rejects(conditionFailed(1));
    await expect(store.acquireLease(key, { owner: 'me', seenVersion: 2, now: 10, leaseMs: 15 })).resolves.toBe(false);
    await expect(store.writeToken(key, { owner: 'me', seenVersion: 4, value: 'v', expiresAt: 2, obtainedAt: 1 })).resolves.toBeUndefined();
    await expect(store.releaseLease(key, 'me')).resolves.toBe(false);
    await expect(store.recordFailure(key, { owner: 'me', error: { code: 'x', message: 'y', at: 1 } })).resolves.toBe(false);
    expect(ddb).not.toHaveReceivedCommand(GetItemCommand);
  });

  it('a lease refused after a retry, by the lease that retry\'s first attempt took, is acquired', async () => {
    ddb.on(UpdateItemCommand).rejects(conditionFailed(2));
    ddb.on(GetItemCommand).resolves({ Item: { pk: { S: 'CRED#oa#access_token' }, version: { N: '2' }, leaseOwner: { S: 'me' }, leaseUntil: { N: '25' } } });
    await expect(store.acquireLease(key, { owner: 'me', seenVersion: 2, now: 10, leaseMs: 15 })).resolves.toBe(true);
    // The same owner's older lease (another leaseUntil) is not this request's.
    await expect(store.acquireLease(key, { owner: 'me', seenVersion: 2, now: 11, leaseMs: 15 })).resolves.toBe(false);
    expect(ddb).toHaveReceivedCommandWith(GetItemCommand, { ConsistentRead: true });
  });

  it('the fenced write is conditioned on owner and version, marks its writer, and is undefined when fenced off', async () => {
    ddb.on(UpdateItemCommand).rejects(conditionFailed());
    ddb.on(GetItemCommand).resolves({ Item: { pk: { S: 'CRED#oa#access_token' }, version: { N: '5' }, writtenBy: { S: 'other' } } });
    const written = await store.writeToken(key, { owner: 'me', seenVersion: 4, value: 'v', expiresAt: 2, obtainedAt: 1 });
    expect(written).toBeUndefined();
    const input = ddb.commandCalls(UpdateItemCommand)[0]!.args[0].input;
    expect(input.ConditionExpression).toBe('leaseOwner = :me AND #version = :seen');
    expect(input.UpdateExpression).toContain('#version = #version + :one');
    expect(input.UpdateExpression).toContain('writtenBy = :me');
    expect(input.UpdateExpression).toMatch(/REMOVE .*replacedValue, replacedUntil/);
  });

  it('a fenced write refused by its own applied first attempt returns the item as written', async () => {
    ddb.on(UpdateItemCommand).rejects(conditionFailed(2));
    ddb.on(GetItemCommand).resolves({ Item: { pk: { S: 'CRED#oa#access_token' }, value: { S: 'v' }, version: { N: '5' }, writtenBy: { S: 'me' } } });
    await expect(store.writeToken(key, { owner: 'me', seenVersion: 4, value: 'v', expiresAt: 2, obtainedAt: 1 })).resolves.toMatchObject({ value: 'v', version: 5, writtenBy: 'me' });
    // Our mark on a later version is not this write (someone wrote after us).
    await expect(store.writeToken(key, { owner: 'me', seenVersion: 3, value: 'v', expiresAt: 2, obtainedAt: 1 })).resolves.toBeUndefined();
  });

  it('writes the replaced value and the end of its life when given', async () => {
    ddb.on(UpdateItemCommand).resolves({ Attributes: { version: { N: '1' }, replacedValue: { S: 'old' }, replacedUntil: { N: '9' } } });
    await expect(store.writeToken(key, { owner: 'me', seenVersion: 0, value: 'v', expiresAt: 2, obtainedAt: 1, replacedValue: 'old', replacedUntil: 9 }))
      .resolves.toMatchObject({ replacedValue: 'old', replacedUntil: 9 });
    const input = ddb.commandCalls(UpdateItemCommand)[0]!.args[0].input;
    expect(input.UpdateExpression).toContain('replacedValue = :replaced, replacedUntil = :replacedUntil');
    expect(input.UpdateExpression).not.toMatch(/REMOVE .*replaced/);
    expect(input.ExpressionAttributeValues).toMatchObject({ ':replaced': { S: 'old' }, ':replacedUntil': { N: '9' } });
  });

  it('turns SDK failures into StoreUnavailableError without the SDK message', async () => {
    ddb.on(UpdateItemCommand).rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));
    ddb.on(GetItemCommand).rejects(new Error('socket hang up'));
    await expect(store.writeToken(key, { owner: 'me', seenVersion: 1, value: 'v', expiresAt: 2, obtainedAt: 1 })).rejects.toBeInstanceOf(StoreUnavailableError);
    const err = await store.read(key).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toBe('credential store read failed (Error)');
  });

  it('a forced call past the budget is refused: a result, forced_budget, not an exception', async () => {
    ddb.on(UpdateItemCommand).rejects(conditionFailed());
    ddb.on(GetItemCommand).resolves({ Item: { pk: { S: 'QUOTA#oa#token#2026-11-23' }, count: { N: '9' }, forced: { N: '5' }, attempts: { SS: ['someone'] } } });
    await expect(store.countUpstreamCall({ app: 'oa', api: 'token', period: '2026-11-23', forcedBudget: 5, ttl: 1 })).resolves.toEqual({ refused: 'forced_budget' });
    expect(ddb).toHaveReceivedCommandWith(UpdateItemCommand, {
      Key: { pk: { S: 'QUOTA#oa#token#2026-11-23' } },
      ConditionExpression: '(NOT contains(attempts, :id)) AND (attribute_not_exists(forced) OR forced < :budget)',
    });
  });

  it('counts a scheduled call with no condition but its attempt id, and returns the id', async () => {
    ddb.on(UpdateItemCommand).resolves({ Attributes: { count: { N: '7' } } });
    const call: QuotaCall = { app: 'oa', api: 'token', period: '2026-11-23', ttl: 1 };
    const counted = await store.countUpstreamCall(call);
    expect(counted).toEqual({ count: 7, forced: 0, attemptId: call.attemptId });
    const input = ddb.commandCalls(UpdateItemCommand)[0]!.args[0].input;
    expect(input.ConditionExpression).toBe('(NOT contains(attempts, :id))');
    expect(input.UpdateExpression).toBe('ADD #count :one, attempts :ids SET #ttl = :ttl');
    expect(input.ExpressionAttributeValues).toMatchObject({ ':id': { S: call.attemptId }, ':ids': { SS: [call.attemptId] } });
  });

  it('a take-back removes the counted call\'s attempt id, conditioned on its being there; without an id it subtracts one', async () => {
    ddb.on(UpdateItemCommand).rejects(conditionFailed(2)); // already taken back (by its own first attempt)
    await expect(store.uncountUpstreamCall({ app: 'oa', api: 'token', period: 'p', forcedBudget: 3, ttl: 1, attemptId: 'abc' })).resolves.toBeUndefined();
    expect(ddb.commandCalls(UpdateItemCommand)[0]!.args[0].input).toMatchObject({
      UpdateExpression: 'ADD #count :minus, forced :minus DELETE attempts :ids',
      ConditionExpression: 'contains(attempts, :id)',
      ExpressionAttributeValues: { ':minus': { N: '-1' }, ':id': { S: 'abc' }, ':ids': { SS: ['abc'] } },
    });
    ddb.reset();
    ddb.on(UpdateItemCommand).resolves({});
    await store.uncountUpstreamCall({ app: 'oa', api: 'token', period: 'p', ttl: 1 });
    expect(ddb.commandCalls(UpdateItemCommand)[0]!.args[0].input).toMatchObject({ UpdateExpression: 'ADD #count :minus', ConditionExpression: 'attribute_exists(pk)' });
  });

  it('releasing or failing under a lost lease is false', async () => {
    ddb.on(UpdateItemCommand).rejects(conditionFailed());
    ddb.on(GetItemCommand).resolves({ Item: { pk: { S: 'CRED#oa#access_token' }, leaseOwner: { S: 'other' }, releasedBy: { S: 'x' }, failedBy: { S: 'y' } } });
    await expect(store.releaseLease(key, 'me')).resolves.toBe(false);
    await expect(store.recordFailure(key, { owner: 'me', error: { code: 'x', message: 'y', at: 1 } })).resolves.toBe(false);
  });

  it('a release or failure record refused after a retry by its own applied first attempt is true', async () => {
    ddb.on(UpdateItemCommand).rejects(conditionFailed(2));
    ddb.on(GetItemCommand).resolves({ Item: {
      pk: { S: 'CRED#oa#access_token' }, releasedBy: { S: 'me' }, failedBy: { S: 'me' },
      lastError: { M: { code: { S: 'x' }, message: { S: 'y' }, at: { N: '1' } } },
    } });
    await expect(store.releaseLease(key, 'me')).resolves.toBe(true);
    await expect(store.recordFailure(key, { owner: 'me', error: { code: 'x', message: 'y', at: 1 } })).resolves.toBe(true);
    // Another failure than the one recorded is not this request's.
    await expect(store.recordFailure(key, { owner: 'me', error: { code: 'x', message: 'y', at: 2 } })).resolves.toBe(false);
    expect(ddb.commandCalls(UpdateItemCommand)[0]!.args[0].input.UpdateExpression).toContain('releasedBy = :me');
    expect(ddb.commandCalls(UpdateItemCommand)[1]!.args[0].input.UpdateExpression).toContain('failedBy = :me');
  });
});
