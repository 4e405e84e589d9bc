import { createHash, timingSafeEqual } from 'node:crypto';
import type { CredentialItem } from './store/store.js';

/** What a value sent to the hub is to one of its credentials (docs/compat.md, "Pass-through"). */
export type Identified =
  /** The value the hub serves now. */
  | 'current'
  /** The value before it, in the 5 minutes WeChat still accepts it after a scheduled rotation. */
  | 'previous'
  /** A value the hub issued and has replaced, before its own expiry: WeChat may no longer accept it. */
  | 'replaced';

/**
 * What `value` is to a credential (docs/compat.md, "A token that was just replaced"), compared in
 * constant time: the value this container serves (`cached`, no read), else the stored item's current,
 * previous (within the overlap) or replaced (within its own life) value.
 */
export async function identifyValue(value: string, cached: string | undefined, read: () => Promise<CredentialItem | undefined>, now: number): Promise<Identified | undefined> {
  if (cached !== undefined && sameSecret(cached, value)) return 'current';
  const item = await read();
  if (!item) return undefined;
  if (item.value !== undefined && (item.expiresAt ?? 0) > now && sameSecret(item.value, value)) return 'current';
  if (item.previousValue !== undefined && (item.previousValidUntil ?? 0) > now && sameSecret(item.previousValue, value)) return 'previous';
  if (item.replacedValue !== undefined && (item.replacedUntil ?? 0) > now && sameSecret(item.replacedValue, value)) return 'replaced';
  return undefined;
}

/** The token-hash index's key of a value (its SHA-256): the value itself is never stored there. */
export function tokenHash(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}
