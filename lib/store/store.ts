import type {
  CredentialItem,
  CredentialKey,
  DueEntry,
  FailureRecord,
  LeaseRequest,
  PrincipalRow,
  QuotaCall,
  QuotaCount,
  QuotaRefusal,
  Schedule,
  TokenIndexEntry,
  TokenWrite,
} from './items.js';

// The records, importable from here as before.
export type * from './items.js';

/**
 * Where credentials live. Implementations only store: the protocol (when to lease, what to write)
 * is the refresher's. Every read that a decision depends on is strongly consistent.
 *
 * Every write is idempotent per attempt: when a write was applied but its answer was lost and the
 * request is sent again (the AWS SDK's retries), the second request recognises the first's effect
 * (by the owner uuid, or the call's attemptId) and reports success, without applying it twice. A
 * competitor (another owner, another call) is still refused.
 */
export interface CredentialStore {
  read(key: CredentialKey): Promise<CredentialItem | undefined>;
  /**
   * Take the refresh lease if nobody holds it (no lease, or one whose `leaseUntil` is before
   * `now - skewMs`) and the item is still at `seenVersion`.
   */
  acquireLease(key: CredentialKey, req: LeaseRequest): Promise<boolean>;
  /**
   * Fenced write: succeeds only while `owner` holds the lease and the version is unchanged; the item
   * as written (`version` seenVersion + 1, `writtenBy` the owner), or undefined when fenced off.
   */
  writeToken(key: CredentialKey, write: TokenWrite): Promise<CredentialItem | undefined>;
  /** Give the lease back without a write (refused before any call, or WeChat confirmed the token at `validatedAt`). */
  releaseLease(key: CredentialKey, owner: string, validatedAt?: number, schedule?: Schedule): Promise<boolean>;
  /**
   * Move the end of a lease `owner` holds to `until` (the holder needs longer: it heals what it is
   * fetched with); false when `owner` no longer holds it.
   */
  renewLease(key: CredentialKey, owner: string, until: number): Promise<boolean>;
  /** Keep the value, count the failure, release the lease (only if `owner` still holds it). */
  recordFailure(key: CredentialKey, failure: FailureRecord): Promise<boolean>;
  /**
   * Count one upstream call before it is made; refused (a QuotaRefusal, nothing counted) past the
   * forced budget (`forced_budget`) or the limit (`limit`).
   */
  countUpstreamCall(call: QuotaCall): Promise<QuotaCount | QuotaRefusal>;
  /**
   * Take back a count (a later limit refused the call, so it was never made). Pass the object that
   * was counted (it carries the attemptId): exactly that call is taken back, once however often this
   * is repeated; a call that is not (or no longer) counted changes nothing. Without an attemptId one
   * call is subtracted, unconditionally (not idempotent).
   */
  uncountUpstreamCall(call: QuotaCall): Promise<void>;
  readQuota(app: string, api: string, period: string): Promise<QuotaCount>;

  /**
   * Put a credential in the due index (or move it there), creating the item (version 0) when it does
   * not exist. `when.ifVersion`: only while the item is at that version (a probe's result must not
   * move a newer value); `when.ifUnscheduled`: only when it has no `dueAt` yet (registering a
   * principal never delays a credential already scheduled); `when.ifExists`: only an item that
   * exists (no item is created). False when the condition refused it.
   */
  schedule(key: CredentialKey, schedule: Schedule, when?: { ifVersion?: number; ifUnscheduled?: boolean; ifExists?: boolean }): Promise<boolean>;
  /** Take a credential out of the due index (its principal is gone); the item is kept. */
  unschedule(key: CredentialKey): Promise<void>;
  /**
   * The credentials of one shard in `dueAt` order, from the earliest: at most `limit`, continuing
   * after `cursor`. Eventually consistent (an index): the protocol re-checks under its lease.
   * The page may include credentials not yet due; the caller stops at the first one after its horizon.
   */
  queryDue(shard: number, options: { limit: number; cursor?: string }): Promise<{ entries: DueEntry[]; cursor?: string }>;

  /** A principal's row (created or replaced as a whole). */
  putPrincipal(row: PrincipalRow): Promise<void>;
  getPrincipal(name: string): Promise<PrincipalRow | undefined>;
  /** Principals in name order, `limit` at a time, continuing after `cursor`; only names starting with `prefix` (a platform's authorizers, `<platform>/`). */
  listPrincipals(options: { limit: number; cursor?: string; prefix?: string }): Promise<{ principals: PrincipalRow[]; cursor?: string }>;
  deletePrincipal(name: string): Promise<void>;

  /**
   * The token-hash index (reverse lookups of the WeChat-compatible paths): which credential issued
   * the value with this hash (the SHA-256 of the value, never the value), until when. Written before
   * the value is written, so every value the hub hands out is in it; an entry whose credential does
   * not (or no longer) hold that value is a miss for the caller.
   */
  indexToken(hash: string, entry: TokenIndexEntry): Promise<void>;
  /**
   * The entry as stored, also once its `until` has passed (DynamoDB's TTL deletes entries late, up
   * to days): the caller compares `until` with its clock. Undefined when there is none.
   */
  lookupToken(hash: string): Promise<TokenIndexEntry | undefined>;

  /** A small JSON document of the hub's own (the configuration digest of the principal sync). */
  getMeta(name: string): Promise<Record<string, unknown> | undefined>;
  putMeta(name: string, doc: Record<string, unknown>): Promise<void>;

  /**
   * Claim a one-time name (a pushed event's signature, against replays) until `until` (epoch ms):
   * true the first time, false while an earlier claim stands (`now` before its `until`). A claim is
   * kept as a small item with a TTL. `attempt` makes a resent request recognise its own claim.
   */
  claimOnce(name: string, claim: { now: number; until: number; attempt: string }): Promise<boolean>;
  /** Give back a claim of this attempt (the work it guarded failed, so that a retry may do it); another's claim is left standing. */
  releaseOnce(name: string, attempt: string): Promise<void>;
}
