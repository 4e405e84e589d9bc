import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { CredentialItem, CredentialKey, QuotaCount } from './store.js';

/**
 * How the store's items look in DynamoDB (docs/store.md): the key of a credential item and of a
 * quota ledger row, the attribute value helpers, and the decoding of a stored item into a
 * CredentialItem or a QuotaCount.
 */

export type Item = Record<string, AttributeValue>;

export const S = (s: string): AttributeValue => ({ S: s });
export const N = (n: number): AttributeValue => ({ N: String(n) });

export const credentialPk = (key: CredentialKey): string => `CRED#${key.app}#${key.kind}`;
export const quotaPk = (app: string, api: string, period: string): string => `QUOTA#${app}#${api}#${period}`;

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
  };
}

export function quotaFrom(item: Item | undefined): QuotaCount {
  return { count: num(item?.count) ?? 0, forced: num(item?.forced) ?? 0 };
}
