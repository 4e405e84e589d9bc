import { InvalidCursorError } from '../errors.js';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { CredentialItem, CredentialKey, PrincipalRow, QuotaCount, Schedule, TokenIndexEntry } from './store.js';

/**
 * How the store's items look in DynamoDB (docs/store.md): the keys of the items (credentials, quota
 * ledger rows, principals, token-hash index entries, meta documents), the attribute value helpers,
 * the due index's attributes (gsi1), the decoding of a stored item, and the paging cursor.
 */

export type Item = Record<string, AttributeValue>;

export const S = (s: string): AttributeValue => ({ S: s });
export const N = (n: number): AttributeValue => ({ N: String(n) });

export const credentialPk = (key: CredentialKey): string => `CRED#${key.app}#${key.kind}`;
export const quotaPk = (app: string, api: string, period: string): string => `QUOTA#${app}#${api}#${period}`;
export const principalPk = (name: string): string => `PRINCIPAL#${name}`;
export const tokenPk = (hash: string): string => `TOKEN#${hash}`;
export const metaPk = (name: string): string => `META#${name}`;

/** The one global secondary index, overloaded: the due index and the principal list (docs/store.md). */
export const GSI = 'gsi1';
export const duePartition = (shard: number): string => `DUE#${shard}`;
export const PRINCIPALS_PARTITION = 'PRINCIPAL';

/**
 * The due index's sort key: `dueAt` as 15 zero-padded decimal digits, so that string order is time
 * order (epoch ms has 13 digits until the year 2286). A fraction is cut off and a negative time
 * sorts as 0 (the attribute `dueAt` keeps the exact number).
 */
export const dueSortKey = (dueAt: number): string => String(Math.max(0, Math.floor(dueAt))).padStart(15, '0');

/** The key of a credential item's pk (`CRED#<app>#<kind>`): a kind never contains '#', an app may (later). */
export function credentialKeyOf(pk: string): CredentialKey | undefined {
  if (!pk.startsWith('CRED#')) return undefined;
  const rest = pk.slice('CRED#'.length);
  const cut = rest.lastIndexOf('#');
  if (cut <= 0 || cut === rest.length - 1) return undefined;
  return { app: rest.slice(0, cut), kind: rest.slice(cut + 1) };
}

/**
 * The SET clauses (and their values, added to `values`) that put a credential in the due index at
 * `s`: the plain `dueAt` and `shard`, and gsi1's key. Names `#dueAt`… are in scheduleNames.
 */
export function scheduleSets(s: Schedule, values: Item): string[] {
  values[':dueAt'] = N(s.dueAt);
  values[':shard'] = N(s.shard);
  values[':gsi1pk'] = S(duePartition(s.shard));
  values[':gsi1sk'] = S(dueSortKey(s.dueAt));
  return ['#dueAt = :dueAt', '#shard = :shard', 'gsi1pk = :gsi1pk', 'gsi1sk = :gsi1sk'];
}
export const scheduleNames: Record<string, string> = { '#dueAt': 'dueAt', '#shard': 'shard' };

/** A kind's state (string to string) as a map of strings. */
export const stateValue = (state: Record<string, string>): AttributeValue => ({
  M: Object.fromEntries(Object.entries(state).map(([k, v]) => [k, S(v)])),
});

function stateFrom(v: AttributeValue | undefined): Record<string, string> | undefined {
  if (v?.M === undefined) return undefined;
  return Object.fromEntries(Object.entries(v.M).flatMap(([k, x]) => (x.S === undefined ? [] : [[k, x.S]])));
}

export function num(v: AttributeValue | undefined): number | undefined {
  return v?.N === undefined ? undefined : Number(v.N);
}

export function str(v: AttributeValue | undefined): string | undefined {
  return v?.S;
}

export function fromItem(item: Item): CredentialItem {
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
    state: stateFrom(item.state),
    dueAt: num(item.dueAt),
    shard: num(item.shard),
  };
}

export function principalItem(row: PrincipalRow): Item {
  return {
    pk: S(principalPk(row.name)),
    name: S(row.name),
    type: S(row.type),
    source: S(row.source),
    doc: S(JSON.stringify(row.doc)),
    digest: S(row.digest),
    updatedAt: N(row.updatedAt),
    gsi1pk: S(PRINCIPALS_PARTITION),
    gsi1sk: S(row.name),
  };
}

export function principalFrom(item: Item): PrincipalRow {
  return {
    name: str(item.name) ?? '',
    type: str(item.type) ?? '',
    source: str(item.source) ?? '',
    doc: JSON.parse(str(item.doc) ?? '{}') as Record<string, unknown>,
    digest: str(item.digest) ?? '',
    updatedAt: num(item.updatedAt) ?? 0,
  };
}

/** One day past `until`: DynamoDB's TTL deletes an entry only after it has said nothing for a day. */
export function tokenIndexItem(hash: string, entry: TokenIndexEntry): Item {
  return {
    pk: S(tokenPk(hash)),
    app: S(entry.app),
    kind: S(entry.kind),
    until: N(entry.until),
    ttl: N(Math.floor(entry.until / 1000) + 86_400),
  };
}

export function tokenIndexFrom(item: Item): TokenIndexEntry {
  return { app: str(item.app) ?? '', kind: str(item.kind) ?? '', until: num(item.until) ?? 0 };
}

/** A page's cursor: the base64url JSON of the key to continue after (opaque to callers). */
export const encodeCursor = (key: Item): string => Buffer.from(JSON.stringify(key)).toString('base64url');

export function decodeCursor(cursor: string | undefined): Item | undefined {
  if (cursor === undefined) return undefined;
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  // Exactly the key of an item of the index: the table's key and the index's (a string each).
  const k = key as Record<string, { S?: unknown }> | null;
  const valid = typeof k === 'object' && k !== null && !Array.isArray(k) &&
    Object.keys(k).sort().join() === 'gsi1pk,gsi1sk,pk' && Object.values(k).every((v) => typeof v?.S === 'string' && Object.keys(v).length === 1);
  if (!valid) throw new InvalidCursorError();
  return key as Item;
}

export function quotaFrom(item: Item | undefined): QuotaCount {
  return { count: num(item?.count) ?? 0, forced: num(item?.forced) ?? 0 };
}
