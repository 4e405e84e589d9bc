import { createHash } from 'node:crypto';
import { renewAt } from '../policy.js';
import type { CredentialKey, Schedule } from '../store/store.js';
import { shardOf } from './shards.js';

/**
 * Where a credential goes in the due index after each thing that can happen to it
 * (docs/architecture.md, "Scheduler"): pure functions of the item's times, the kind's margin and
 * the self-heal interval. The tick reads only what is due, so every write says when it is due next.
 */
export interface ScheduleSettings {
  /** The margin before expiry at which the value is replaced (the kind's, never more than REFRESH_MARGIN). */
  marginMs: number;
  /** Probe the value this often (a kind with a probe, self-healing on); undefined: never. */
  probeEveryMs: number | undefined;
}

/** A fresh value: due at its renewal, or at its next probe when that comes first. */
export function afterWrite(key: CredentialKey, value: { expiresAt: number; obtainedAt: number }, s: ScheduleSettings): Schedule {
  const renew = renewAt(value, s.marginMs);
  const probe = s.probeEveryMs === undefined ? Infinity : value.obtainedAt + spread(key, s.probeEveryMs);
  return { dueAt: Math.min(renew, probe), shard: shardOf(key) };
}

/** A value WeChat just confirmed (the tick's probe, a forced refresh's probe): its next probe, or its renewal. */
export function afterProbe(key: CredentialKey, value: { expiresAt: number; obtainedAt?: number }, probedAt: number, s: ScheduleSettings): Schedule {
  const renew = renewAt({ expiresAt: value.expiresAt, obtainedAt: value.obtainedAt }, s.marginMs);
  const probe = s.probeEveryMs === undefined ? Infinity : probedAt + spread(key, s.probeEveryMs);
  return { dueAt: Math.max(probedAt, Math.min(renew, probe)), shard: shardOf(key) };
}

/**
 * A failed refresh: due again at once, so that the next tick tries again (reads wait for the
 * backoff, the tick does not: docs/protocol.md), also while WeChat blocks the app: that costs
 * nothing (the protocol refuses a blocked item before any request, from the index's copy) and the
 * tick reports the block each time. A tick never looks at one credential twice.
 */
export function afterFailure(key: CredentialKey, failure: { at: number }): Schedule {
  return { dueAt: failure.at, shard: shardOf(key) };
}

/** A credential that has to be fetched (registered, or its principal's secret changed): due now. */
export function dueNow(key: CredentialKey, now: number): Schedule {
  return { dueAt: now, shard: shardOf(key) };
}

/**
 * The probe interval of one credential, spread: between 3/4 of the interval and the interval, by a
 * stable hash of its key, so that credentials written together are not all probed in the same tick.
 */
export function spread(key: CredentialKey, everyMs: number): number {
  const h = createHash('sha256').update(`probe#${key.app}#${key.kind}`).digest().readUInt32BE(0) / 0x1_0000_0000;
  return Math.floor(everyMs * (0.75 + 0.25 * h));
}
