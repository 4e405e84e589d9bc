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
import { ForcedBudgetExhaustedError, StoreUnavailableError } from '../../lib/store/errors.js';

const ddb = mockClient(DynamoDBClient);
const store = new DynamoCredentialStore({ client: new DynamoDBClient({ region: 'local' }), tableName: 'hub' });
const key = { app: 'oa', kind: 'access_token' } as const;
const conditionFailed = () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });

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
    await expect(store.acquireLease(key, { owner: 'me', seenVersion: 2, now: 10, leaseMs: 15 })).resolves.toBe(false);
    const input = ddb.commandCalls(UpdateItemCommand)[0]!.args[0].input;
    expect(input.ConditionExpression).toContain('leaseUntil < :now');
    expect(input.ExpressionAttributeValues).toMatchObject({ ':seen': { N: '2' }, ':until': { N: '25' }, ':me': { S: 'me' } });
  });

  it('the fenced write is conditioned on owner and version, and false when fenced off', async () => {
    ddb.on(UpdateItemCommand).rejects(conditionFailed());
    const written = await store.writeToken(key, { owner: 'me', seenVersion: 4, value: 'v', expiresAt: 2, obtainedAt: 1 });
    expect(written).toBeUndefined();
    const input = ddb.commandCalls(UpdateItemCommand)[0]!.args[0].input;
    expect(input.ConditionExpression).toBe('leaseOwner = :me AND #version = :seen');
    expect(input.UpdateExpression).toContain('#version = #version + :one');
  });

  it('turns SDK failures into StoreUnavailableError without the SDK message', async () => {
    ddb.on(UpdateItemCommand).rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));
    ddb.on(GetItemCommand).rejects(new Error('socket hang up'));
    await expect(store.writeToken(key, { owner: 'me', seenVersion: 1, value: 'v', expiresAt: 2, obtainedAt: 1 })).rejects.toBeInstanceOf(StoreUnavailableError);
    const err = await store.read(key).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toBe('credential store read failed (Error)');
  });

  it('a forced call past the budget is ForcedBudgetExhaustedError', async () => {
    ddb.on(UpdateItemCommand).rejects(conditionFailed());
    await expect(store.countUpstreamCall({ app: 'oa', api: 'token', period: '2026-11-23', forcedBudget: 5, ttl: 1 })).rejects.toBeInstanceOf(ForcedBudgetExhaustedError);
    expect(ddb).toHaveReceivedCommandWith(UpdateItemCommand, { Key: { pk: { S: 'QUOTA#oa#token#2026-11-23' } }, ConditionExpression: 'attribute_not_exists(forced) OR forced < :budget' });
  });

  it('counts a scheduled call without a budget condition', async () => {
    ddb.on(UpdateItemCommand).resolves({ Attributes: { count: { N: '7' } } });
    await expect(store.countUpstreamCall({ app: 'oa', api: 'token', period: '2026-11-23', ttl: 1 })).resolves.toEqual({ count: 7, forced: 0 });
    expect(ddb.commandCalls(UpdateItemCommand)[0]!.args[0].input.ConditionExpression).toBeUndefined();
  });

  it('releasing or failing under a lost lease is false', async () => {
    ddb.on(UpdateItemCommand).rejects(conditionFailed());
    await expect(store.releaseLease(key, 'me')).resolves.toBe(false);
    await expect(store.recordFailure(key, { owner: 'me', error: { code: 'x', message: 'y', at: 1 } })).resolves.toBe(false);
  });
});
