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

/** Whole seconds a value has left to live (never negative): `expires_in` in every answer. */
export function secondsLeft(expiresAt: number, now: number): number {
  return Math.max(0, Math.floor((expiresAt - now) / 1000));
}

export function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
