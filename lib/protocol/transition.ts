import type { HubApp } from '../apps.js';
import { ForcedRefreshBudgetError, UpstreamLimitError } from '../errors.js';
import type { FailureDecision } from '../failure.js';
import type { CredentialKind, Fetched } from '../kinds/kind.js';
import { OVERLAP_MS, recentlyValidated, retryAfterFor, seconds } from '../policy.js';
import type { QuotaCharge } from '../quota/ledger.js';
import { afterFailure, afterProbe, afterWrite, type ScheduleSettings } from '../scheduler/schedule.js';
import type { CredentialItem, CredentialKey, LastError, RefreshCause, Schedule } from '../store/store.js';
import type { LeaseFailure, LeaseWrite } from '../store/with-lease.js';
import type { ProtocolSettings } from './types.js';

/**
 * The refresh protocol as transitions (docs/protocol.md, "The protocol as transitions"): pure
 * functions of the item as read, the request, the time and the settings, returning what the
 * protocol does next. No I/O, no clock, no randomness: lib/protocol.ts and lib/held-lease.ts read,
 * lease, probe, fetch and write in the order these decisions say.
 */

/** What the entry of a round is told (beside the item and the time). */
export interface EntryRequest {
  /** The `needed` predicate's verdict on the item as read: false means someone else did it. */
  needed: boolean;
  cause: RefreshCause;
  /** A forced refresh of a kind with a probe: the value reported, and how long a confirmation of it stands. */
  probe?: { value: string; ttlMs: number };
  /**
   * The source (secret) fingerprint now, once asked for (an entry answering `backoff` with
   * `unlessSourceChanged` asks for it): a changed secret ends a configuration error's backoff.
   */
  sourceNow?: { fingerprint: string | undefined };
}

export type Entry =
  /** No refresh needed (someone else did it): the answer is the item. */
  | { do: 'done'; item: CredentialItem | undefined }
  /** WeChat blocked the app: refused before anything is asked. */
  | { do: 'blocked'; retryAfter: number; lastError?: LastError }
  /** A recent failure's backoff: not asked again yet; when `unlessSourceChanged`, ask the entry again with `sourceNow`. */
  | { do: 'backoff'; retryAfter: number; lastError?: LastError; unlessSourceChanged?: string }
  /** WeChat confirmed the reported value for another refresher just now: the answer, nothing leased. */
  | { do: 'validated'; item: CredentialItem }
  /** Take the lease at `seenVersion` (having the dependency first); `probed`: the value a forced refresh asks WeChat about. */
  | { do: 'lease'; seenVersion: number; probed?: CredentialItem };

/** One round's decision, from the item as read (steps 1-4). */
export function entry(item: CredentialItem | undefined, r: EntryRequest, now: number): Entry {
  if (!r.needed) return { do: 'done', item };
  // A value WeChat pushed (a ticket, an authorization's tokens) asks WeChat nothing: neither a block
  // nor a backoff holds it back. The ticket a fetch asked for with api_start_push_ticket arrives inside
  // the backoff that fetch's "not there yet" started; a re-authorization ends a refused refresh
  // token's failures (docs/wechat.md §10).
  if (r.cause === 'pushed') return { do: 'lease', seenVersion: item?.version ?? 0 };
  if (item?.blockedUntil !== undefined && item.blockedUntil > now) {
    return { do: 'blocked', retryAfter: seconds(item.blockedUntil - now), lastError: item.lastError };
  }
  // After a failure only the tick asks WeChat again before the backoff ends (unless, after a
  // configuration error, the secret changed since): every read asking again would only be
  // refused, and WeCom blocks an IP for an hour after too many failed gettoken calls.
  if (r.cause !== 'tick' && r.cause !== 'self_heal' && item?.backoffUntil !== undefined && item.backoffUntil > now && !sourceChanged(item, r.sourceNow)) {
    const ask = item.backoffSource !== undefined && r.sourceNow === undefined;
    return { do: 'backoff', retryAfter: seconds(item.backoffUntil - now), lastError: item.lastError, ...(ask ? { unlessSourceChanged: item.backoffSource } : {}) };
  }
  const probed = r.probe && item?.value === r.probe.value ? item : undefined;
  if (probed && recentlyValidated(probed, now, r.probe!.ttlMs)) return { do: 'validated', item: probed };
  return { do: 'lease', seenVersion: item?.version ?? 0, ...(probed ? { probed } : {}) };
}

function sourceChanged(item: CredentialItem, sourceNow: EntryRequest['sourceNow']): boolean {
  if (item.backoffSource === undefined || sourceNow?.fingerprint === undefined) return false;
  return sourceNow.fingerprint !== item.backoffSource;
}

/** WeChat's answer to a forced refresh's probe of the stored value; 'unknown': no probe, or it could not answer. */
export type Verdict = 'valid' | 'invalid' | 'unknown';

export type Forced =
  /** Fetch; `unverified`: a rotation WeChat could not confirm, which spends the day's unverified budget too. */
  | { do: 'fetch'; unverified: boolean }
  /** WeChat still accepts the value: give the lease back, recording the confirmation and the next probe. */
  | { do: 'release'; validatedAt: number; schedule: Schedule; item: CredentialItem }
  /** An unconfirmed rotation of a value too young: give the lease back and refuse (429). */
  | { do: 'refuse'; retryAfter: number; message: string };

/**
 * A forced refresh under its lease, after the probe (step 5): not rotated when WeChat still accepts
 * the value; a rotation WeChat could not confirm only of a value at least `unverifiedMinAgeMs` old,
 * so that a report cannot rotate a value just fetched.
 */
export function forcedUnderLease(
  key: CredentialKey,
  verdict: Verdict,
  probed: CredentialItem | undefined,
  old: CredentialItem | undefined,
  now: number,
  s: Pick<ProtocolSettings, 'unverifiedMinAgeMs'>,
  scheduling: ScheduleSettings,
): Forced {
  if (verdict === 'valid' && probed) {
    const schedule = afterProbe(key, { expiresAt: probed.expiresAt!, obtainedAt: probed.obtainedAt }, now, scheduling);
    return { do: 'release', validatedAt: now, schedule, item: { ...probed, validatedAt: now, leaseOwner: undefined, leaseUntil: undefined } };
  }
  if (verdict !== 'unknown') return { do: 'fetch', unverified: false };
  const age = old?.obtainedAt === undefined ? Infinity : now - old.obtainedAt;
  if (age >= s.unverifiedMinAgeMs) return { do: 'fetch', unverified: true };
  return {
    do: 'refuse',
    retryAfter: seconds(s.unverifiedMinAgeMs - age),
    message: `WeChat cannot be asked whether this value is still good, and it was fetched less than ${Math.round(s.unverifiedMinAgeMs / 1000)} s ago: it is rotated on a report only after that`,
  };
}

/**
 * The fenced write of a value WeChat issued (step 8). A rotation because WeChat rejected the value
 * (a forced refresh, the tick's probe) keeps no previous value: WeChat no longer accepts it.
 * Otherwise the old value is kept for the overlap (never past its own expiry). Every rotation
 * remembers the value it replaced until its own expiry, so that the compat pass-through can forward
 * a call still carrying it with the current value (docs/compat.md).
 */
export function written(
  key: CredentialKey,
  old: CredentialItem | undefined,
  fetched: Fetched,
  now: number,
  r: { cause: RefreshCause; forced: boolean },
  scheduling: ScheduleSettings,
): LeaseWrite {
  const rejected = r.forced || r.cause === 'self_heal';
  const replaced = old?.value !== undefined && old.value !== fetched.value && (old.expiresAt ?? 0) > now;
  const keepPrevious = replaced && !rejected;
  const expiresAt = now + fetched.expiresIn * 1000;
  return {
    value: fetched.value,
    expiresAt,
    obtainedAt: now,
    previousValue: keepPrevious ? old!.value : undefined,
    previousValidUntil: keepPrevious ? Math.min(now + OVERLAP_MS, old!.expiresAt!) : undefined,
    replacedValue: replaced ? old!.value : undefined,
    replacedUntil: replaced ? old!.expiresAt : undefined,
    secretFingerprint: fetched.sourceFingerprint,
    refreshedBy: r.cause,
    ...(fetched.state ? { state: fetched.state } : {}),
    schedule: afterWrite(key, { expiresAt, obtainedAt: now }, scheduling),
  };
}

/** The record of a failed refresh (decided by lib/failure.ts), which gives the lease back; due again at once for the tick. */
export function failed(key: CredentialKey, d: FailureDecision, backoffSource?: string): LeaseFailure {
  return { error: d.lastError, blockedUntil: d.blockedUntil, backoffUntil: d.backoffUntil, backoffSource, schedule: afterFailure(key, { at: d.lastError.at }) };
}

export type Healed =
  /** Fetch once more, with the replacement, under a renewed lease. */
  | { do: 'fetch_again'; value: string }
  /** Record this kind's failure (lib/failure.ts, dependencyFailureDecision). */
  | { do: 'fail'; why: { error: unknown } | 'still_accepted' };

/** What the guarded forced refresh of a rejected dependency gave: a replacement, the same value (WeChat still accepts it), or an error. */
export function healed(stale: string, outcome: { fresh: string } | { error: unknown }): Healed {
  if ('error' in outcome) return { do: 'fail', why: { error: outcome.error } }; // refused (the forced budget, stable_token's spacing) or failed
  // WeChat still accepts it: the same call would be refused the same way.
  if (outcome.fresh === stale) return { do: 'fail', why: 'still_accepted' };
  return { do: 'fetch_again', value: outcome.fresh };
}

/** How long the lease is renewed to while a holder heals its dependency (then `leaseMs` again for the second call). */
export const healingLeaseUntil = (now: number, s: Pick<ProtocolSettings, 'leaseMs'>): number => now + 2 * s.leaseMs;

export type Waiting =
  /** The holder wrote: the answer. Or WeChat confirmed the value for another refresher and that is all this call needed. */
  | { do: 'done'; item: CredentialItem }
  /** Confirmed for another, but this call still needs a refresh: start a round again. */
  | { do: 'retry' }
  /** The holder tried and failed just now: report its failure instead of trying again at once. */
  | { do: 'failed'; retryAfter: number; lastError: LastError }
  /** Nobody holds a lease (or it lapsed more than the skew ago by this clock): start a round again and take it over. */
  | { do: 'take_over' }
  | { do: 'wait' };

/** A waiter's reading of the item it polled, having lost the lease race at `seenVersion` (step 4). */
export function awaiting(
  item: CredentialItem | undefined,
  w: { seenVersion: number; startedAt: number; needed: (item: CredentialItem) => boolean; pushed?: boolean },
  now: number,
  skewMs: number,
): Waiting {
  // A pushed value is newer than anything the holder was fetching: whatever the holder did, it is
  // written next, under a lease of its own (an authorization's tokens never give way to a refresh
  // that carried the refresh token they replace).
  if (w.pushed) {
    const moved = (item && item.version > w.seenVersion) || (item?.lastError !== undefined && item.lastError.at >= w.startedAt);
    if (moved && item?.leaseOwner === undefined) return { do: 'retry' };
    return !item?.leaseUntil || item.leaseUntil + skewMs < now ? { do: 'take_over' } : { do: 'wait' };
  }
  if (item && item.version > w.seenVersion) return { do: 'done', item };
  if (item?.validatedAt !== undefined && item.validatedAt >= w.startedAt && item.leaseOwner === undefined) {
    return w.needed(item) ? { do: 'retry' } : { do: 'done', item };
  }
  if (item?.lastError && item.lastError.at >= w.startedAt && item.leaseOwner === undefined) {
    return { do: 'failed', retryAfter: retryAfterFor(item.lastError), lastError: item.lastError };
  }
  if (!item?.leaseUntil || item.leaseUntil + skewMs < now) return { do: 'take_over' };
  return { do: 'wait' };
}

/**
 * Enough polls to outlast the lease (renewed up to three times its length while a holder heals its
 * dependency) and the skew, even when every jittered wait is the shortest (half the interval).
 */
export function waitPolls(s: Pick<ProtocolSettings, 'leaseMs' | 'leaseSkewMs' | 'pollIntervalMs'>): number {
  return Math.ceil((3 * s.leaseMs + s.leaseSkewMs) / (s.pollIntervalMs * 0.5)) + 5;
}

const UNVERIFIED_LIMIT = "the day's rotations WeChat could not confirm";

/**
 * The ledger row of rotations WeChat could not confirm (no probe, or it could not answer), per app
 * and kind and quota day: one per rotation, whatever its calls, apart from the forced budget.
 */
export function unverifiedRow(app: HubApp, kind: CredentialKind, budget: number): QuotaCharge {
  return { scope: app.name, api: `unverified_${kind.id}`, period: 'day', limit: budget, limitName: UNVERIFIED_LIMIT };
}

/** What a caller is told when the ledger refused the call: the unverified row's limit is a forced refresh's refusal (429). */
export function chargeRefusal(error: unknown): unknown {
  return error instanceof UpstreamLimitError && error.message.startsWith(UNVERIFIED_LIMIT)
    ? new ForcedRefreshBudgetError(error.retryAfterSeconds, "today's rotations WeChat could not confirm (UNVERIFIED_DAILY_BUDGET) are spent for this app")
    : error;
}
