import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  credentialKeyOf,
  credentialPk,
  duePartition,
  fromItem,
  N,
  num,
  S,
  scheduleNames,
  scheduleSets,
  type Item,
} from './dynamo-codec.js';
import { mayHaveBeenApplied, type DynamoTable } from './dynamo-table.js';
import type { CredentialKey, DueEntry, Schedule } from './store.js';

/**
 * The due index on DynamoDB (docs/store.md), for DynamoCredentialStore: a credential is in it while
 * its item carries `dueAt` and `shard` and gsi1's key (`gsi1pk = DUE#<shard>`, `gsi1sk` the padded
 * `dueAt`). The fenced write, the release and the failure record move it in the same UpdateItem
 * (lib/store/dynamodb.ts, with scheduleSets); these put it there, take it out, and page through a shard.
 */

/**
 * Idempotent per attempt like the store's other writes: `ifVersion` holds again on a resent request
 * (a schedule changes no version; a missing item counts as version 0, and the first attempt created
 * it at version 0), and a resent `ifUnscheduled` that finds the item at exactly the place it asked
 * for takes it for its own (whoever put it there, the credential is where the caller wanted it).
 */
export async function schedule(
  table: DynamoTable,
  key: CredentialKey,
  s: Schedule,
  when: { ifVersion?: number; ifUnscheduled?: boolean; ifExists?: boolean } = {},
): Promise<boolean> {
  const values: Item = { ':zero': N(0) };
  const sets = [...scheduleSets(s, values), '#version = if_not_exists(#version, :zero)', 'failures = if_not_exists(failures, :zero)'];
  const conditions: string[] = [];
  if (when.ifVersion !== undefined) {
    values[':v'] = N(when.ifVersion);
    conditions.push(when.ifVersion === 0 ? '(attribute_not_exists(pk) OR #version = :v)' : '#version = :v');
  }
  if (when.ifUnscheduled) conditions.push('attribute_not_exists(#dueAt)');
  if (when.ifExists) conditions.push('attribute_exists(pk)');
  const refused = await table.conditional('schedule', new UpdateItemCommand({
    TableName: table.name,
    Key: { pk: S(credentialPk(key)) },
    UpdateExpression: `SET ${sets.join(', ')}`,
    ...(conditions.length ? { ConditionExpression: conditions.join(' AND ') } : {}),
    ExpressionAttributeNames: { ...scheduleNames, '#version': 'version' },
    ExpressionAttributeValues: values,
  }));
  if (refused === undefined) return true;
  if (!when.ifUnscheduled || !mayHaveBeenApplied(refused)) return false;
  const item = await table.readRaw('schedule', key);
  const versionHolds = when.ifVersion === undefined || (num(item?.version) ?? 0) === when.ifVersion;
  return versionHolds && num(item?.dueAt) === s.dueAt && num(item?.shard) === s.shard;
}

/** REMOVEs the due index's attributes; a missing item stays missing (an UpdateItem would create it). */
export async function unschedule(table: DynamoTable, key: CredentialKey): Promise<void> {
  await table.conditional('unschedule', new UpdateItemCommand({
    TableName: table.name,
    Key: { pk: S(credentialPk(key)) },
    UpdateExpression: 'REMOVE #dueAt, #shard, gsi1pk, gsi1sk',
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeNames: scheduleNames,
  }));
}

export async function queryDue(
  table: DynamoTable,
  shard: number,
  options: { limit: number; cursor?: string },
): Promise<{ entries: DueEntry[]; cursor?: string }> {
  const page = await table.queryIndex('queryDue', duePartition(shard), options);
  const entries = page.items.flatMap((raw): DueEntry[] => {
    const key = credentialKeyOf(raw.pk?.S ?? '');
    return key ? [{ key, item: fromItem(raw) }] : [];
  });
  return { entries, ...(page.cursor === undefined ? {} : { cursor: page.cursor }) };
}
