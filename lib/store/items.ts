/**
 * The records the credential store keeps and is given (lib/store/store.ts for the interface that
 * reads and writes them, docs/store.md for how DynamoDB holds them). All times are epoch ms.
 */

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
export type RefreshCause = 'read' | 'tick' | 'forced' | 'self_heal' | 'pushed';

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
  /**
   * A value the hub issued and has just replaced, and the end of the life it was served for (epoch
   * ms); written by the write that replaced it, absent after a write that gave none.
   */
  replacedValue?: string;
  replacedUntil?: number;
  /**
   * The lease owner (one refresh attempt's uuid) whose fenced write produced this version: how a
   * retried write recognises its own write when the first answer was lost.
   */
  writtenBy?: string;
  /**
   * The kind's own state beside the value (an authorizer's refresh token), opaque to the protocol
   * and the store; written by the same fenced write as the value, so they never disagree.
   */
  state?: Record<string, string>;
  /** When the scheduler should next look at this credential (epoch ms); absent: it is not scheduled (in the due index). */
  dueAt?: number;
  /** The due index's shard of this credential (lib/scheduler/shards.ts); present whenever dueAt is. */
  shard?: number;
}

export interface LeaseRequest {
  /** Unique per refresh attempt (a uuid): a retried request recognises its own lease by it. */
  owner: string;
  seenVersion: number;
  /** The caller's clock (epoch ms); the lease is held until `now + leaseMs`. */
  now: number;
  leaseMs: number;
  /**
   * How far another container's clock may be ahead of ours (ms). Each container judges expiry by
   * its own clock, so a lease is taken over only once it lapsed more than this long ago by ours:
   * `leaseUntil < now - skewMs`. Default 0 (a lease is free the moment it lapses by our clock).
   */
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
  /** A value the hub issued that this write replaces, and the end of its life; both or neither (REMOVEd when not given). */
  replacedValue?: string;
  replacedUntil?: number;
  /** The kind's state to store with the value; absent: the stored state is kept as it is. */
  state?: Record<string, string>;
  /** When the scheduler should look at the credential next (its renewal), and its shard. */
  schedule?: Schedule;
}

/** A place in the due index: the scheduler looks at the credential once `dueAt` has passed. */
export interface Schedule {
  dueAt: number;
  shard: number;
}

export interface FailureRecord {
  owner: string;
  error: LastError;
  blockedUntil?: number;
  /** A configuration error: no read asks WeChat again before this (cleared by any other outcome). */
  backoffUntil?: number;
  backoffSource?: string;
  /** When the scheduler should try again (the backoff's or block's end); absent: the schedule is kept. */
  schedule?: Schedule;
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
  /**
   * Identifies this one call in its row, so that a request the SDK retries after a lost answer
   * counts once and a take-back removes exactly this call. countUpstreamCall generates one when it
   * is absent and **stores it on this object** (the object is mutated, and the id is also returned
   * as QuotaCount.attemptId); passing the same object to uncountUpstreamCall then takes back this
   * call and no other. A caller may set its own (short, random, unique per call): counting twice
   * with one id counts once, so build one object per call (as lib/quota/ledger.ts does) and never
   * count one object again for another call.
   */
  attemptId?: string;
}

/** Why the ledger refused to count a call (nothing was counted): a result, not an exception. */
export interface QuotaRefusal {
  refused: 'forced_budget' | 'limit';
}

export interface QuotaCount {
  count: number;
  forced: number;
  /** countUpstreamCall only: the id the call was counted under (QuotaCall.attemptId). */
  attemptId?: string;
}

/** A credential the due index returned, with its item as the index holds it. */
export interface DueEntry {
  key: CredentialKey;
  item: CredentialItem;
}

/**
 * Whom credentials belong to (docs/architecture.md): a configured app, later a platform or one of
 * its authorizers. `doc` is the principal's own description (its type's attributes, JSON, never a
 * secret: secrets are references such as {"ssm": path}); `digest` tells whether it changed.
 */
export interface PrincipalRow {
  name: string;
  type: string;
  /** Where it came from: `config` (HUB_APPS or the SSM apps path), or what registered it. */
  source: string;
  doc: Record<string, unknown>;
  digest: string;
  updatedAt: number;
}

export interface TokenIndexEntry {
  /** The principal and kind whose value it is. */
  app: string;
  kind: string;
  /** Epoch ms after which the entry says nothing (the value's expiry); DynamoDB's TTL removes it. */
  until: number;
}
