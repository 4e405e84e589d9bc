/** A credential (access_token, a ticket) of one app, as the hub keeps it. All times are epoch ms. */
export interface CredentialKey {
  app: string;
  /** The credential kind's id: `access_token`, `jsapi_ticket`, … (lib/kinds). */
  kind: string;
}

export interface LastError {
  /** `wechat:40164`, `network`, `lease_lost`, … never a token or a secret. */
  code: string;
  message: string;
  at: number;
}

/** What made a refresh: a read that found no usable value, the tick, a forced refresh, or the tick's probe finding it dead. */
export type RefreshCause = 'read' | 'tick' | 'forced' | 'self_heal';

export interface CredentialItem {
  value?: string;
  expiresAt?: number;
  obtainedAt?: number;
  /** 0 before the first token; +1 per successful write. The compare-and-swap is on this. */
  version: number;
  previousValue?: string;
  previousValidUntil?: number;
  leaseOwner?: string;
  leaseUntil?: number;
  failures: number;
  lastError?: LastError;
  blockedUntil?: number;
  /** Fingerprint of the secret the value was fetched with: a token of an old secret is not served. */
  secretFingerprint?: string;
  /** When WeChat last confirmed (by a probe that spends no token quota) that `value` is valid. */
  validatedAt?: number;
  /** When `value` was obtained by a stable_token force refresh (WeChat wants 30 s between them). */
  lastForcedAt?: number;
  /** What made the refresh that wrote `value`. */
  refreshedBy?: RefreshCause;
  /** After a configuration error, reads and forced refreshes do not ask WeChat again before this. */
  backoffUntil?: number;
  /** Fingerprint of the secret the configuration error was answered to: a changed secret ends the backoff. */
  backoffSource?: string;
  /** The value the hub issued before this one, and the end of the life it was served for. */
  replacedValue?: string;
  replacedUntil?: number;
  writtenBy?: string;
}

export interface LeaseRequest {
  owner: string;
  seenVersion: number;
  now: number;
  leaseMs: number;
  /** An existing lease is taken over only once it lapsed this long ago (clock skew between containers). */
  skewMs?: number;
}

export interface TokenWrite {
  owner: string;
  seenVersion: number;
  value: string;
  expiresAt: number;
  obtainedAt: number;
  previousValue?: string;
  previousValidUntil?: number;
  secretFingerprint?: string;
  /** Set when this write was a stable_token force refresh. */
  forcedAt?: number;
  refreshedBy?: RefreshCause;
  replacedValue?: string;
  replacedUntil?: number;
}

export interface FailureRecord {
  owner: string;
  error: LastError;
  blockedUntil?: number;
  /** A configuration error: no read asks WeChat again before this (cleared by any other outcome). */
  backoffUntil?: number;
  backoffSource?: string;
}

export interface QuotaCall {
  /** Whose quota: an app's name, or `corp:<corpid>` for a limit WeCom keeps per corp. */
  app: string;
  /** `token`, `stable_token`, `ticket_jsapi`, …: the upstream API whose quota the call spends. */
  api: string;
  /** The ledger period: a quota day (YYYY-MM-DD in Asia/Shanghai) or an hour (YYYY-MM-DDTHH). */
  period: string;
  /** A forced refresh counts against its own budget too, which this call refuses once spent. */
  forcedBudget?: number;
  /** Refuse the call when the row already counts this many (a limit WeChat enforces by blocking). */
  limit?: number;
  /** Epoch seconds when the ledger row may be deleted (DynamoDB TTL). */
  ttl: number;
}

export interface QuotaCount {
  count: number;
  forced: number;
}

/**
 * Where credentials live. Implementations only store: the protocol (when to lease, what to write)
 * is the refresher's. Every read that a decision depends on is strongly consistent.
 */
export interface CredentialStore {
  read(key: CredentialKey): Promise<CredentialItem | undefined>;
  /** Take the refresh lease if nobody holds it and the item is still at `seenVersion`. */
  acquireLease(key: CredentialKey, req: LeaseRequest): Promise<boolean>;
  /** Fenced write: succeeds only while `owner` holds the lease and the version is unchanged; the item as written, or undefined when fenced off. */
  writeToken(key: CredentialKey, write: TokenWrite): Promise<CredentialItem | undefined>;
  /** Give the lease back without a write (refused before any call, or WeChat confirmed the token at `validatedAt`). */
  releaseLease(key: CredentialKey, owner: string, validatedAt?: number): Promise<boolean>;
  /** Keep the value, count the failure, release the lease (only if `owner` still holds it). */
  recordFailure(key: CredentialKey, failure: FailureRecord): Promise<boolean>;
  /**
   * Count one upstream call before it is made; throws ForcedBudgetExhaustedError past the forced
   * budget, QuotaLimitError past the limit (nothing is counted then).
   */
  countUpstreamCall(call: QuotaCall): Promise<QuotaCount>;
  /** Take back a count (a later limit refused the call, so it was never made). */
  uncountUpstreamCall(call: QuotaCall): Promise<void>;
  readQuota(app: string, api: string, period: string): Promise<QuotaCount>;
}
