import type { LastError, CredentialItem } from './store/store.js';
import { WeChatError } from './wechat/errors.js';

/**
 * When a stored credential may be served, is due, or was recently confirmed by WeChat: pure
 * functions of the item and the time, the same for every kind (golang.org/x/oauth2's `Valid`).
 */

/**
 * Has a value with more than `minLeftMs` to live, fetched with the current secret (when both
 * fingerprints are known): a token of a replaced AppSecret is never served.
 */
export function servable(item: CredentialItem, minLeftMs: number, sourceFingerprint: string | undefined, now: number): boolean {
  return (
    item.value !== undefined &&
    item.expiresAt !== undefined &&
    item.expiresAt - now > minLeftMs &&
    (sourceFingerprint === undefined || item.secretFingerprint === undefined || item.secretFingerprint === sourceFingerprint)
  );
}

/**
 * When the hub replaces a value: `marginMs` before it expires, but never before half its life, so
 * that a value WeChat issued with less life than the margin (stable_token's remaining minutes, a
 * short expires_in) is not due the moment it is stored. The tick, reads and every answer's
 * `expires_in` use this one time.
 */
export function renewAt(item: { expiresAt: number; obtainedAt?: number }, marginMs: number): number {
  const fromMargin = item.expiresAt - marginMs;
  if (item.obtainedAt === undefined) return fromMargin;
  return Math.max(fromMargin, item.obtainedAt + Math.floor((item.expiresAt - item.obtainedAt) / 2));
}

/** Due for replacement: missing, not servable, or past its renewal time. */
export function isDue(item: CredentialItem | undefined, marginMs: number, sourceFingerprint: string | undefined, now: number): boolean {
  return !item || !servable(item, 0, sourceFingerprint, now) || now >= renewAt({ expiresAt: item.expiresAt!, obtainedAt: item.obtainedAt }, marginMs);
}

/** WeChat confirmed the stored value (by a probe) within `probeTtlMs`, and it still has time left. */
export function recentlyValidated(item: CredentialItem, now: number, probeTtlMs: number): boolean {
  return item.validatedAt !== undefined && item.validatedAt >= now - probeTtlMs && servable(item, 0, undefined, now);
}

/** Seconds a caller should wait after this failure before asking again. */
export function retryAfterFor(e: WeChatError | LastError): number {
  const code = e instanceof WeChatError ? e.kind : e.code;
  if (code === 'configuration' || code.startsWith('configuration')) return 300;
  return 5;
}

/** `kind:errcode` of a WeChat error, or the error's name. Never a message. */
export function errorCode(error: unknown): string {
  if (error instanceof WeChatError) return error.errcode === undefined ? error.kind : `${error.kind}:${error.errcode}`;
  if (error instanceof Error) return error.name;
  return 'unknown';
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : 'unknown error';
}

/** Whole seconds a value has left to live (never negative): the status view's `secondsLeft`. */
export function secondsLeft(expiresAt: number, now: number): number {
  return Math.max(0, Math.floor((expiresAt - now) / 1000));
}

/** WeChat keeps the previous value valid this long after a new one is fetched (docs/protocol.md). */
export const OVERLAP_MS = 5 * 60_000;

/**
 * `expires_in` of every answer that hands out a value: the seconds until the hub replaces it
 * (`renewAt`), so that a cache kept for `expires_in` never holds a value past its replacement and
 * the 5-minute overlap after it. A value already due whose refresh failed is given at most the
 * overlap (if the hub replaces it a moment later, WeChat still accepts it that long) and never past
 * its expiry. Never 0 (node-easywechat reads 0 as "forever"), never more than the value's life.
 */
export function servedSeconds(s: { expiresAt: number; renewAt: number }, now: number): number {
  const until = s.renewAt > now ? s.renewAt : Math.min(s.expiresAt, now + OVERLAP_MS);
  return Math.max(1, Math.min(Math.floor((until - now) / 1000), Math.floor((s.expiresAt - now) / 1000)));
}

export function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
