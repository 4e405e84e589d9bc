import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renewAt } from '../../lib/policy.js';
import { afterFailure, afterProbe, afterWrite, dueNow, spread } from '../../lib/scheduler/schedule.js';
import { DUE_SHARDS, shardOf } from '../../lib/scheduler/shards.js';

/** The due index's pure placement functions (lib/scheduler/schedule.ts, lib/scheduler/shards.ts). */
const MINUTE = 60_000;
const T0 = Date.UTC(2026, 10, 23, 2, 0, 0);
const oa = { app: 'oa', kind: 'access_token' };
/** A WeChat token: 7200 s of life, the hub's 20-minute margin, self-heal every 5 minutes. */
const value = { obtainedAt: T0, expiresAt: T0 + 7200_000 };
const settings = { marginMs: 20 * MINUTE, probeEveryMs: 5 * MINUTE };

const keyArb = fc.record({ app: fc.string({ minLength: 1, maxLength: 40 }), kind: fc.constantFrom('access_token', 'jsapi_ticket', 'wx_card_ticket', 'agent_config_ticket') });

describe('afterWrite', () => {
  it('is due at the spread probe when it comes before the renewal', () => {
    const s = afterWrite(oa, value, settings);
    expect(s.dueAt).toBe(T0 + spread(oa, 5 * MINUTE));
    expect(s.dueAt).toBeGreaterThanOrEqual(T0 + 3.75 * MINUTE);
    expect(s.dueAt).toBeLessThanOrEqual(T0 + 5 * MINUTE);
    expect(s.shard).toBe(shardOf(oa));
  });

  it('is due at the renewal when it comes before the probe', () => {
    // A probe every 3 hours: the renewal (100 minutes) comes first.
    const s = afterWrite(oa, value, { marginMs: 20 * MINUTE, probeEveryMs: 180 * MINUTE });
    expect(s.dueAt).toBe(T0 + 100 * MINUTE);
  });

  it('without a probe interval is due at the renewal only', () => {
    expect(afterWrite(oa, value, { marginMs: 20 * MINUTE, probeEveryMs: undefined }).dueAt).toBe(T0 + 100 * MINUTE);
    // A short-lived value: never before half its life (renewAt), whatever the margin.
    const short = { obtainedAt: T0, expiresAt: T0 + 10 * MINUTE };
    expect(afterWrite(oa, short, { marginMs: 20 * MINUTE, probeEveryMs: undefined }).dueAt).toBe(T0 + 5 * MINUTE);
  });

  it('property: never after the renewal nor after obtainedAt + the interval, never before 3/4 of the interval or the renewal', () => {
    fc.assert(
      fc.property(
        keyArb,
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 1_000, max: 8 * 3600_000 }),
        fc.integer({ min: 0, max: 3600_000 }),
        fc.option(fc.integer({ min: 1_000, max: 24 * 3600_000 }), { nil: undefined }),
        (key, obtainedAt, life, marginMs, probeEveryMs) => {
          const v = { obtainedAt, expiresAt: obtainedAt + life };
          const { dueAt, shard } = afterWrite(key, v, { marginMs, probeEveryMs });
          const renew = renewAt(v, marginMs);
          expect(dueAt).toBeLessThanOrEqual(renew);
          expect(shard).toBe(shardOf(key));
          if (probeEveryMs === undefined) {
            expect(dueAt).toBe(renew);
          } else {
            expect(dueAt).toBeLessThanOrEqual(obtainedAt + probeEveryMs);
            expect(dueAt).toBeGreaterThanOrEqual(Math.min(renew, obtainedAt + Math.floor(probeEveryMs * 0.75)));
          }
        },
      ),
    );
  });
});

describe('spread', () => {
  it('is within [3/4, 1] of the interval and the same for the same key', () => {
    fc.assert(
      fc.property(keyArb, fc.integer({ min: 1, max: 2 ** 31 }), (key, every) => {
        const s = spread(key, every);
        expect(Number.isInteger(s)).toBe(true);
        expect(s).toBeGreaterThanOrEqual(Math.floor(every * 0.75));
        expect(s).toBeLessThanOrEqual(every);
        expect(spread({ ...key }, every)).toBe(s);
      }),
    );
  });

  it('spreads credentials written together over the window (not all probed in the same tick)', () => {
    const offsets = new Set(Array.from({ length: 50 }, (_, i) => spread({ app: `app${i}`, kind: 'access_token' }, 5 * MINUTE)));
    expect(offsets.size).toBeGreaterThan(40);
    const all = [...offsets];
    // Both halves of the window are used.
    expect(all.some((o) => o < 4.375 * MINUTE)).toBe(true);
    expect(all.some((o) => o >= 4.375 * MINUTE)).toBe(true);
    // Of one app, the token and its ticket are probed at different times.
    expect(spread({ app: 'oa', kind: 'access_token' }, 5 * MINUTE)).not.toBe(spread({ app: 'oa', kind: 'jsapi_ticket' }, 5 * MINUTE));
  });
});

describe('afterProbe', () => {
  it('is due at the next probe from the probe time, while the renewal is later', () => {
    const probedAt = T0 + 30 * MINUTE;
    expect(afterProbe(oa, value, probedAt, settings).dueAt).toBe(probedAt + spread(oa, 5 * MINUTE));
  });

  it('a value probed past its renewal is due at the probe time, never before', () => {
    const probedAt = T0 + 110 * MINUTE; // renewal at 100 minutes
    const s = afterProbe(oa, value, probedAt, settings);
    expect(s.dueAt).toBe(probedAt);
    expect(s.shard).toBe(shardOf(oa));
  });

  it('without a probe interval, is due at the renewal', () => {
    expect(afterProbe(oa, value, T0 + 30 * MINUTE, { marginMs: 20 * MINUTE, probeEveryMs: undefined }).dueAt).toBe(T0 + 100 * MINUTE);
  });

  it('property: never before the probe time, never after the renewal when that is later, never after the next probe', () => {
    fc.assert(
      fc.property(
        keyArb,
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 1_000, max: 8 * 3600_000 }),
        fc.integer({ min: -3600_000, max: 10 * 3600_000 }),
        fc.integer({ min: 0, max: 3600_000 }),
        fc.option(fc.integer({ min: 1_000, max: 24 * 3600_000 }), { nil: undefined }),
        fc.boolean(),
        (key, obtainedAt, life, probeOffset, marginMs, probeEveryMs, withObtained) => {
          const v = withObtained ? { obtainedAt, expiresAt: obtainedAt + life } : { expiresAt: obtainedAt + life };
          const probedAt = obtainedAt + probeOffset;
          const { dueAt } = afterProbe(key, v, probedAt, { marginMs, probeEveryMs });
          expect(dueAt).toBeGreaterThanOrEqual(probedAt);
          const renew = renewAt(v, marginMs);
          expect(dueAt).toBeLessThanOrEqual(Math.max(probedAt, renew));
          if (probeEveryMs !== undefined) expect(dueAt).toBeLessThanOrEqual(Math.max(probedAt, probedAt + probeEveryMs));
        },
      ),
    );
  });
});

describe('afterFailure and dueNow', () => {
  it('a failure is due again at once (the next tick retries)', () => {
    const at = T0 + 42_000;
    expect(afterFailure(oa, { at })).toEqual({ dueAt: at, shard: shardOf(oa) });
    expect(dueNow({ app: 'mp', kind: 'access_token' }, at)).toEqual({ dueAt: at, shard: shardOf({ app: 'mp', kind: 'access_token' }) });
  });
});

describe('shardOf', () => {
  it('is a whole number within 0..15, stable, and the same for every kind of one principal', () => {
    expect(DUE_SHARDS).toBe(16);
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), (app) => {
        const shards = ['access_token', 'jsapi_ticket', 'wx_card_ticket', 'agent_config_ticket'].map((kind) => shardOf({ app, kind }));
        expect(new Set(shards).size).toBe(1);
        expect(Number.isInteger(shards[0])).toBe(true);
        expect(shards[0]).toBeGreaterThanOrEqual(0);
        expect(shards[0]).toBeLessThan(16);
        expect(shardOf({ app, kind: 'access_token' })).toBe(shards[0]);
      }),
    );
  });

  it('spreads principals over every shard', () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 1600; i++) counts[shardOf({ app: `app-${i}`, kind: 'access_token' })]!++;
    expect(counts.every((c) => c > 50)).toBe(true); // about 100 each
  });

  it('is pinned: a stored shard must not move when the code changes', () => {
    // The shard is stored with each credential: a changed hash would strand every item in the wrong partition.
    expect(['oa', 'mp', 'other', 'crm'].map((app) => shardOf({ app, kind: 'access_token' }))).toEqual([5, 13, 0, 15]);
  });
});
