import { ConditionalCheckFailedException, DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { StoreUnavailableError } from './errors.js';
import {
  metaPk,
  N,
  principalFrom,
  principalItem,
  principalPk,
  PRINCIPALS_PARTITION,
  S,
  str,
  tokenIndexFrom,
  tokenIndexItem,
  tokenPk,
} from './dynamo-codec.js';
import { mayHaveBeenApplied, type DynamoTable } from './dynamo-table.js';
import type { PrincipalRow, TokenIndexEntry } from './store.js';

/**
 * The store's directory on DynamoDB (docs/store.md), for DynamoCredentialStore: principals
 * (`PRINCIPAL#<name>`, listed through gsi1's `PRINCIPAL` partition), the token-hash index
 * (`TOKEN#<hash>`) and the hub's meta documents (`META#<name>`). Every write replaces or deletes a
 * whole item unconditionally, so a request the SDK resends after a lost answer does the same again.
 */

export async function putPrincipal(table: DynamoTable, row: PrincipalRow): Promise<void> {
  await table.send('putPrincipal', () => table.client.send(new PutItemCommand({ TableName: table.name, Item: principalItem(row) })));
}

export async function getPrincipal(table: DynamoTable, name: string): Promise<PrincipalRow | undefined> {
  const raw = await table.readRaw('getPrincipal', { pk: principalPk(name) });
  return raw ? principalFrom(raw) : undefined;
}

export async function deletePrincipal(table: DynamoTable, name: string): Promise<void> {
  await table.send('deletePrincipal', () =>
    table.client.send(new DeleteItemCommand({ TableName: table.name, Key: { pk: S(principalPk(name)) } })),
  );
}

/** Eventually consistent (an index): a principal put a moment ago may be missing from the page. */
export async function listPrincipals(
  table: DynamoTable,
  options: { limit: number; cursor?: string; prefix?: string },
): Promise<{ principals: PrincipalRow[]; cursor?: string }> {
  const page = await table.queryIndex('listPrincipals', PRINCIPALS_PARTITION, options);
  return { principals: page.items.map(principalFrom), ...(page.cursor === undefined ? {} : { cursor: page.cursor }) };
}

/** With `ttl` a day past `until`, for DynamoDB's TTL. */
export async function indexToken(table: DynamoTable, hash: string, entry: TokenIndexEntry): Promise<void> {
  await table.send('indexToken', () => table.client.send(new PutItemCommand({ TableName: table.name, Item: tokenIndexItem(hash, entry) })));
}

/**
 * The entry as stored, also once `until` has passed (DynamoDB's TTL deletes it up to days late):
 * the caller compares `until` with its own clock.
 */
export async function lookupToken(table: DynamoTable, hash: string): Promise<TokenIndexEntry | undefined> {
  const raw = await table.readRaw('lookupToken', { pk: tokenPk(hash) });
  return raw ? tokenIndexFrom(raw) : undefined;
}

export async function getMeta(table: DynamoTable, name: string): Promise<Record<string, unknown> | undefined> {
  const raw = await table.readRaw('getMeta', { pk: metaPk(name) });
  const doc = str(raw?.doc);
  return doc === undefined ? undefined : (JSON.parse(doc) as Record<string, unknown>);
}

export async function putMeta(table: DynamoTable, name: string, doc: Record<string, unknown>): Promise<void> {
  await table.send('putMeta', () =>
    table.client.send(new PutItemCommand({ TableName: table.name, Item: { pk: S(metaPk(name)), doc: S(JSON.stringify(doc)) } })),
  );
}

/**
 * A one-time claim (`ONCE#<name>`): a PutItem conditioned on no claim standing; a condition failure
 * after a resent request is checked against the item (our attempt: claimed).
 */
export async function claimOnce(table: DynamoTable, name: string, c: { now: number; until: number; attempt: string }): Promise<boolean> {
  const pk = `ONCE#${name}`;
  try {
    await table.client.send(new PutItemCommand({
      TableName: table.name,
      Item: { pk: S(pk), until: N(c.until), attempt: S(c.attempt), ttl: N(Math.floor(c.until / 1000) + 86_400) },
      ConditionExpression: 'attribute_not_exists(pk) OR #until < :now',
      ExpressionAttributeNames: { '#until': 'until' },
      ExpressionAttributeValues: { ':now': N(c.now) },
    }));
    return true;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw new StoreUnavailableError('claimOnce', error);
    if (!mayHaveBeenApplied(error)) return false;
    const raw = await table.readRaw('claimOnce', { pk });
    return str(raw?.attempt) === c.attempt;
  }
}

/** Delete the claim if it is still this attempt's (a condition failure: another's claim, left standing). */
export async function releaseOnce(table: DynamoTable, name: string, attempt: string): Promise<void> {
  try {
    await table.client.send(new DeleteItemCommand({
      TableName: table.name,
      Key: { pk: S(`ONCE#${name}`) },
      ConditionExpression: 'attempt = :a',
      ExpressionAttributeValues: { ':a': S(attempt) },
    }));
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw new StoreUnavailableError('releaseOnce', error);
  }
}
