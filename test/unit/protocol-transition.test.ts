import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HubApp } from '../../lib/apps.js';
import { ForcedRefreshBudgetError, UpstreamLimitError } from '../../lib/errors.js';
import { failureDecision } from '../../lib/failure.js';
import type { CredentialKind, Fetched } from '../../lib/kinds/kind.js';
import { OVERLAP_MS } from '../../lib/policy.js';
import {
  awaiting, chargeRefusal, entry, failed, forcedUnderLease, healed, healingLeaseUntil, unverifiedRow, waitPolls, written, type EntryRequest,
} from '../../lib/protocol/transition.js';
import { afterFailure, afterProbe, afterWrite, type ScheduleSettings } from '../../lib/scheduler/schedule.js';
import type { CredentialItem, RefreshCause } from '../../lib/store/store.js';
import { ConfigurationError, QuotaExceededError } from '../../lib/wechat/errors.js';

/** The protocol's decisions (lib/protocol/transition.ts), without a store, a clock or a network. */
const key = { app: 'oa', kind: 'access_token' };
const T = 1_700_000_000_000;
const HOUR = 3_600_000;
const scheduling: ScheduleSettings = { marginMs: 20 * 60_000, probeEveryMs: undefined };
const item = (extra: Partial<CredentialItem> = {}): CredentialItem => ({
  value: 'v1', expiresAt: T + 2 * HOUR, obtainedAt: T - 60_000, version: 3, failures: 0, ...extra,
});
const read = (extra: Partial<EntryRequest> = {}): EntryRequest => ({ needed: true, cause: 'read', ...extra });
const causes: RefreshCause[] = ['read', 'tick', 'forced', 'self_heal'];

describe('entry: one round, from the item as read', () => {
  it('not needed: done, with the item as read (or none)', () => {
    const it_ = item({ blockedUntil: T + 1 });
    expect(entry(it_, read({ needed: false }), T)).toEqual({ do: 'done', item: it_ });
    expect(entry(undefined, read({ needed: false }), T)).toEqual({ do: 'done', item: undefined });
  });

  it('blocked until blockedUntil, whatever the cause, with its error and whole seconds to wait', () => {
    const lastError = { code: 'quota:45009', message: 'limit', at: T - 5 };
    for (const cause of causes) {
      expect(entry(item({ blockedUntil: T + 1_500, lastError }), read({ cause }), T)).toEqual({ do: 'blocked', retryAfter: 2, lastError });
    }
    expect(entry(item({ blockedUntil: T }), read(), T)).toMatchObject({ do: 'lease' });
  });

  it('in a backoff, reads and forced refreshes are refused; the tick, self-healing and a pushed value are not', () => {
    const lastError = { code: 'retry_later', message: 'busy', at: T - 5 };
    const backingOff = item({ backoffUntil: T + 10_000, lastError });
    expect(entry(backingOff, read(), T)).toEqual({ do: 'backoff', retryAfter: 10, lastError });
    expect(entry(backingOff, read({ cause: 'forced' }), T)).toMatchObject({ do: 'backoff' });
    expect(entry(backingOff, read({ cause: 'tick' }), T)).toEqual({ do: 'lease', seenVersion: 3 });
    expect(entry(backingOff, read({ cause: 'self_heal' }), T)).toEqual({ do: 'lease', seenVersion: 3 });
    // The ticket api_start_push_ticket asked for arrives inside the backoff the asking started.
    expect(entry(backingOff, read({ cause: 'pushed' }), T)).toEqual({ do: 'lease', seenVersion: 3 });
    expect(entry(backingOff, read(), T + 10_000)).toMatchObject({ do: 'lease' });
  });

  it('a pushed value (a ticket, an authorization\'s tokens) asks WeChat nothing: neither a block nor a backoff holds it back', () => {
    const lastError = { code: 'upstream:61023', message: 'invalid refresh token', at: T - 5 };
    expect(entry(item({ backoffUntil: T + 300_000, lastError }), read({ cause: 'pushed' }), T)).toEqual({ do: 'lease', seenVersion: 3 });
    expect(entry(item({ blockedUntil: T + 300_000, lastError }), read({ cause: 'pushed' }), T)).toEqual({ do: 'lease', seenVersion: 3 });
    expect(entry(item({ blockedUntil: T + 300_000, lastError }), read(), T)).toMatchObject({ do: 'blocked' });
  });

  it("a configuration error's backoff asks for the source, and ends when the secret changed", () => {
    const backingOff = item({ backoffUntil: T + 60_000, backoffSource: 'fp1' });
    expect(entry(backingOff, read(), T)).toMatchObject({ do: 'backoff', unlessSourceChanged: 'fp1' });
    expect(entry(backingOff, read({ sourceNow: { fingerprint: 'fp1' } }), T)).toEqual({ do: 'backoff', retryAfter: 60, lastError: undefined });
    expect(entry(backingOff, read({ sourceNow: { fingerprint: undefined } }), T)).toEqual({ do: 'backoff', retryAfter: 60, lastError: undefined });
    expect(entry(backingOff, read({ sourceNow: { fingerprint: 'fp2' } }), T)).toEqual({ do: 'lease', seenVersion: 3 });
    // A backoff without a source never asks.
    expect(entry(item({ backoffUntil: T + 1 }), read(), T)).not.toHaveProperty('unlessSourceChanged');
  });

  it('a forced refresh of a value WeChat confirmed within the TTL is answered with it; otherwise it is leased and probed', () => {
    const probe = { value: 'v1', ttlMs: 10_000 };
    const confirmed = item({ validatedAt: T - 5_000 });
    expect(entry(confirmed, read({ cause: 'forced', probe }), T)).toEqual({ do: 'validated', item: confirmed });
    const old = item({ validatedAt: T - 20_000 });
    expect(entry(old, read({ cause: 'forced', probe }), T)).toEqual({ do: 'lease', seenVersion: 3, probed: old });
    // A report of another value than the stored one probes nothing.
    expect(entry(confirmed, read({ cause: 'forced', probe: { value: 'other', ttlMs: 10_000 } }), T)).toEqual({ do: 'lease', seenVersion: 3 });
    // A confirmed value that has expired is not an answer.
    expect(entry(item({ validatedAt: T, expiresAt: T }), read({ cause: 'forced', probe }), T)).toMatchObject({ do: 'lease', probed: expect.anything() });
  });

  it('a missing item is leased at version 0', () => {
    expect(entry(undefined, read(), T)).toEqual({ do: 'lease', seenVersion: 0 });
  });

  it('property: a blocked item is never leased (nor probed) before blockedUntil', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 48 * HOUR }), fc.integer({ min: 0, max: 48 * HOUR }), fc.constantFrom(...causes), fc.boolean(),
      fc.option(fc.integer({ min: -HOUR, max: HOUR }), { nil: undefined }), fc.option(fc.integer({ min: 0, max: 60_000 }), { nil: undefined }),
      (blockedFor, elapsed, cause, probing, backoff, validatedAgo) => {
        const blocked = item({ blockedUntil: T + blockedFor, backoffUntil: backoff === undefined ? undefined : T + backoff, validatedAt: validatedAgo === undefined ? undefined : T - validatedAgo });
        const now = T + Math.min(elapsed, blockedFor - 1);
        const d = entry(blocked, read({ cause, ...(probing ? { probe: { value: 'v1', ttlMs: 10_000 } } : {}) }), now);
        expect(d.do).toBe('blocked');
      },
    ));
  });
});

describe('forcedUnderLease: after the probe', () => {
  const s = { unverifiedMinAgeMs: 60_000 };

  it('WeChat still accepts the value: the lease is given back with the confirmation and the next probe', () => {
    const probed = item({ leaseOwner: 'me', leaseUntil: T + 15_000 });
    const d = forcedUnderLease(key, 'valid', probed, probed, T + 100, s, scheduling);
    expect(d).toEqual({
      do: 'release',
      validatedAt: T + 100,
      schedule: afterProbe(key, { expiresAt: probed.expiresAt!, obtainedAt: probed.obtainedAt }, T + 100, scheduling),
      item: { ...probed, validatedAt: T + 100, leaseOwner: undefined, leaseUntil: undefined },
    });
  });

  it('WeChat says invalid: fetched, as a verified rotation', () => {
    expect(forcedUnderLease(key, 'invalid', item(), item(), T, s, scheduling)).toEqual({ do: 'fetch', unverified: false });
  });

  it('WeChat could not tell: an unverified rotation of a value old enough, refused for a young one', () => {
    expect(forcedUnderLease(key, 'unknown', undefined, item({ obtainedAt: T - 60_000 }), T, s, scheduling)).toEqual({ do: 'fetch', unverified: true });
    expect(forcedUnderLease(key, 'unknown', undefined, item({ obtainedAt: undefined }), T, s, scheduling)).toEqual({ do: 'fetch', unverified: true });
    expect(forcedUnderLease(key, 'unknown', undefined, undefined, T, s, scheduling)).toEqual({ do: 'fetch', unverified: true });
    const young = forcedUnderLease(key, 'unknown', undefined, item({ obtainedAt: T - 20_500 }), T, s, scheduling);
    expect(young).toEqual({ do: 'refuse', retryAfter: 40, message: expect.stringContaining('fetched less than 60 s ago') });
  });
});

describe('written: the fenced write of a value WeChat issued', () => {
  const fetched: Fetched = { value: 'v2', expiresIn: 7200, sourceFingerprint: 'fp' };

  it('a first value: no previous or replaced value, its renewal as schedule', () => {
    expect(written(key, undefined, fetched, T, { cause: 'read', forced: false }, scheduling)).toEqual({
      value: 'v2', expiresAt: T + 7_200_000, obtainedAt: T,
      previousValue: undefined, previousValidUntil: undefined, replacedValue: undefined, replacedUntil: undefined,
      secretFingerprint: 'fp', refreshedBy: 'read',
      schedule: afterWrite(key, { expiresAt: T + 7_200_000, obtainedAt: T }, scheduling),
    });
  });

  it('a scheduled rotation keeps the old value for the overlap, and remembers it as replaced until its expiry', () => {
    const w = written(key, item(), fetched, T, { cause: 'tick', forced: false }, scheduling);
    expect(w).toMatchObject({ previousValue: 'v1', previousValidUntil: T + OVERLAP_MS, replacedValue: 'v1', replacedUntil: T + 2 * HOUR, refreshedBy: 'tick' });
    // Never past the old value's own expiry.
    expect(written(key, item({ expiresAt: T + 1_000 }), fetched, T, { cause: 'read', forced: false }, scheduling)).toMatchObject({ previousValidUntil: T + 1_000 });
  });

  it('a rotation caused by a rejection (forced, self-healing) keeps no previous value, but remembers the replaced one', () => {
    for (const r of [{ cause: 'forced' as const, forced: true }, { cause: 'self_heal' as const, forced: false }]) {
      const w = written(key, item(), fetched, T, r, scheduling);
      expect(w.previousValue).toBeUndefined();
      expect(w.previousValidUntil).toBeUndefined();
      expect(w).toMatchObject({ replacedValue: 'v1', replacedUntil: T + 2 * HOUR, refreshedBy: r.cause });
    }
  });

  it('replaces nothing when the old value has expired or is the same; carries the kind\'s state', () => {
    expect(written(key, item({ expiresAt: T }), fetched, T, { cause: 'read', forced: false }, scheduling)).toMatchObject({ previousValue: undefined, replacedValue: undefined });
    expect(written(key, item({ value: 'v2' }), fetched, T, { cause: 'read', forced: false }, scheduling)).toMatchObject({ previousValue: undefined, replacedValue: undefined });
    expect(written(key, undefined, { ...fetched, state: { refresh_token: 'rt' } }, T, { cause: 'read', forced: false }, scheduling).state).toEqual({ refresh_token: 'rt' });
    expect(written(key, undefined, fetched, T, { cause: 'read', forced: false }, scheduling)).not.toHaveProperty('state');
  });

  const arbitraryWrite = fc.record({
    oldValue: fc.option(fc.constantFrom('v1', 'v2'), { nil: undefined }),
    oldLeft: fc.integer({ min: -HOUR, max: 3 * HOUR }),
    expiresIn: fc.integer({ min: 1, max: 7200 }),
    cause: fc.constantFrom(...causes),
    forced: fc.boolean(),
  });
  const run = (a: { oldValue: string | undefined; oldLeft: number; expiresIn: number; cause: RefreshCause; forced: boolean }) =>
    written(key, a.oldValue === undefined ? undefined : item({ value: a.oldValue, expiresAt: T + a.oldLeft }), { ...fetched, expiresIn: a.expiresIn }, T, { cause: a.cause, forced: a.forced }, scheduling);

  it('property: a rotation caused by a rejection never keeps a previous value', () => {
    fc.assert(fc.property(arbitraryWrite, (a) => {
      const w = run(a);
      if (a.forced || a.cause === 'self_heal') expect(w.previousValue).toBeUndefined();
    }));
  });

  it("property: the previous value is the old one, valid beyond now but never past the overlap nor the old value's expiry; previous and replaced come in pairs", () => {
    fc.assert(fc.property(arbitraryWrite, (a) => {
      const w = run(a);
      expect(w.previousValue === undefined).toBe(w.previousValidUntil === undefined);
      expect(w.replacedValue === undefined).toBe(w.replacedUntil === undefined);
      if (w.previousValue !== undefined) {
        expect(w.previousValue).toBe(a.oldValue);
        expect(w.previousValue).not.toBe(w.value);
        expect(w.previousValidUntil!).toBeLessThanOrEqual(T + OVERLAP_MS);
        expect(w.previousValidUntil!).toBeLessThanOrEqual(T + a.oldLeft);
        expect(w.previousValidUntil!).toBeGreaterThan(T);
        expect(w.replacedValue).toBe(w.previousValue);
      }
      expect(w.expiresAt).toBe(T + a.expiresIn * 1000);
      expect(w.schedule!.dueAt).toBeLessThanOrEqual(w.expiresAt);
    }));
  });
});

describe('failed: the record of a failure', () => {
  it('the decision as recorded, due again at once for the tick', () => {
    const d = failureDecision(new QuotaExceededError(45009, 'reach max api daily quota limit'), item(), T, { configErrorBackoffMs: 60_000, failureBackoffMs: 5_000 }, undefined);
    expect(failed(key, d)).toEqual({ error: d.lastError, blockedUntil: d.blockedUntil, backoffUntil: d.backoffUntil, backoffSource: undefined, schedule: afterFailure(key, { at: T }) });
    expect(d.blockedUntil).toBeGreaterThan(T);
    const c = failureDecision(new ConfigurationError(40164, 'invalid ip'), item({ failures: 1 }), T, { configErrorBackoffMs: 60_000, failureBackoffMs: 5_000 }, undefined);
    expect(failed(key, c, 'fp')).toMatchObject({ backoffUntil: T + 120_000, backoffSource: 'fp', error: { code: 'configuration:40164' } });
  });
});

describe('healed: a rejected dependency, after its guarded forced refresh', () => {
  it('an error fails; the same value (WeChat still accepts it) fails; a new one is fetched with again', () => {
    const error = new Error('refused');
    expect(healed('dead', { error })).toEqual({ do: 'fail', why: { error } });
    expect(healed('dead', { fresh: 'dead' })).toEqual({ do: 'fail', why: 'still_accepted' });
    expect(healed('dead', { fresh: 'alive' })).toEqual({ do: 'fetch_again', value: 'alive' });
    expect(healingLeaseUntil(T, { leaseMs: 15_000 })).toBe(T + 30_000);
  });
});

describe("awaiting: a waiter's reading of the item it polled", () => {
  const w = (needed = true) => ({ seenVersion: 3, startedAt: T, needed: () => needed });
  const skew = 5_000;

  it('a newer version is the answer', () => {
    const newer = item({ version: 4 });
    expect(awaiting(newer, w(), T + 1, skew)).toEqual({ do: 'done', item: newer });
  });

  it('validated by another since this call started: the answer if that is all it needed, otherwise another round', () => {
    const confirmed = item({ validatedAt: T + 1 });
    expect(awaiting(confirmed, w(false), T + 2, skew)).toEqual({ do: 'done', item: confirmed });
    expect(awaiting(confirmed, w(true), T + 2, skew)).toEqual({ do: 'retry' });
    // Before this call started, or still under a lease: not this call's answer.
    expect(awaiting(item({ validatedAt: T - 1, leaseOwner: 'x', leaseUntil: T + 9_000 }), w(false), T + 2, skew)).toEqual({ do: 'wait' });
    expect(awaiting(item({ validatedAt: T + 1, leaseOwner: 'x', leaseUntil: T + 9_000 }), w(false), T + 2, skew)).toEqual({ do: 'wait' });
  });

  it("another's failure since this call started is reported, with its Retry-After", () => {
    const transient = { code: 'retry_later', message: 'busy', at: T + 1 };
    expect(awaiting(item({ lastError: transient }), w(), T + 2, skew)).toEqual({ do: 'failed', retryAfter: 5, lastError: transient });
    const config = { code: 'configuration:40164', message: 'ip', at: T };
    expect(awaiting(item({ lastError: config }), w(), T + 2, skew)).toEqual({ do: 'failed', retryAfter: 300, lastError: config });
    expect(awaiting(item({ lastError: { ...transient, at: T - 1 }, leaseOwner: 'x', leaseUntil: T + 9_000 }), w(), T + 2, skew)).toEqual({ do: 'wait' });
  });

  it('a pushed value waiting on a holder is written next whatever the holder did (its write or its failure is no answer to it)', () => {
    const pushed = { ...w(), pushed: true };
    expect(awaiting(item({ version: 4 }), pushed, T + 1, skew)).toEqual({ do: 'retry' });
    expect(awaiting(item({ lastError: { code: 'upstream:61023', message: 'refused', at: T + 1 } }), pushed, T + 2, skew)).toEqual({ do: 'retry' });
    expect(awaiting(item({ version: 4, leaseOwner: 'x', leaseUntil: T + 9_000 }), pushed, T + 1, skew)).toEqual({ do: 'wait' });
  });

  it('no lease, or one that lapsed more than the skew ago: taken over; otherwise wait', () => {
    expect(awaiting(undefined, w(), T, skew)).toEqual({ do: 'take_over' });
    expect(awaiting(item(), w(), T, skew)).toEqual({ do: 'take_over' });
    expect(awaiting(item({ leaseOwner: 'x', leaseUntil: T }), w(), T + skew, skew)).toEqual({ do: 'wait' });
    expect(awaiting(item({ leaseOwner: 'x', leaseUntil: T }), w(), T + skew + 1, skew)).toEqual({ do: 'take_over' });
  });

  it('polls long enough to outlast a renewed lease and the skew at the shortest jittered wait', () => {
    expect(waitPolls({ leaseMs: 15_000, leaseSkewMs: 5_000, pollIntervalMs: 250 })).toBe(Math.ceil(50_000 / 125) + 5);
  });

  it('property: a waiter never takes over a lease that lapsed at most the skew ago', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 60_000 }), fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 10_000 }), (until, skewMs, after) => {
      const held = item({ leaseOwner: 'x', leaseUntil: T + until });
      const now = T + until + Math.min(after, skewMs);
      expect(awaiting(held, w(), now, skewMs).do).toBe('wait');
    }));
  });
});

describe('the unverified budget', () => {
  const app = { name: 'oa' } as HubApp;
  const kind = { id: 'jsapi_ticket' } as CredentialKind;

  it('has a ledger row of its own per app and kind; its limit refuses as a forced refresh budget (429), other errors pass', () => {
    const row = unverifiedRow(app, kind, 10);
    expect(row).toEqual({ scope: 'oa', api: 'unverified_jsapi_ticket', period: 'day', limit: 10, limitName: expect.any(String) });
    const refusal = chargeRefusal(new UpstreamLimitError(42, `${row.limitName} is reached; the hub will not exceed it`));
    expect(refusal).toBeInstanceOf(ForcedRefreshBudgetError);
    expect((refusal as ForcedRefreshBudgetError).retryAfterSeconds).toBe(42);
    const other = new UpstreamLimitError(3, 'an upstream limit is reached');
    expect(chargeRefusal(other)).toBe(other);
  });
});
