/**
 * The refresher's timings and budgets, with their defaults (docs/protocol.md). lib/config.ts reads
 * the ones a deployment may change from the environment.
 */
export interface RefresherSettings {
  /** Refresh when at most this much life is left (20 min: a 7200 s token at ~100 min of age). */
  refreshMarginMs: number;
  /** A value with less than this left is not served from the container's cache, nor stale-if-error. */
  minServeMs: number;
  /** How long a refresher may hold the lease; must exceed upstreamDeadlineMs. */
  leaseMs: number;
  /** Clock skew between containers the lease tolerates (docs/protocol.md): at least 5 s. */
  leaseSkewMs: number;
  /** Total time for one upstream fetch with its retries. */
  upstreamDeadlineMs: number;
  /** How often a caller that lost the lease race looks for the winner's write. */
  pollIntervalMs: number;
  /** Per-container read cache age (never past the value's renewal). */
  cacheTtlMs: number;
  /** Forced refreshes per app (and kind) per quota day, well under WeChat's daily quota. */
  forcedDailyBudget: number;
  /** Forced refreshes WeChat could not confirm (no probe, or it could not answer) per app and quota day. */
  unverifiedForcedDailyBudget: number;
  /** A value WeChat cannot be asked about is rotated on a report only once it is this old. */
  unverifiedMinAgeMs: number;
  /** After WeChat confirmed a value valid, forced refreshes of it are refused this long without asking again. */
  probeTtlMs: number;
  /** When the hub itself saw WeChat reject its value, it asks again at most this often (regardless of probeTtlMs). */
  observedProbeSpacingMs: number;
  /** After a configuration error, reads wait this long (doubling while it persists) before asking WeChat again. */
  configErrorBackoffMs: number;
  /** After any other failed refresh, reads wait this long (doubling, up to a minute) before asking again. */
  failureBackoffMs: number;
  /** The tick probes each current token (no quota spent) and refreshes one WeChat no longer accepts. */
  selfHeal: boolean;
  /** …each at most this often, spread by credential (lib/scheduler/schedule.ts). */
  selfHealIntervalMs: number;
}

export const defaultSettings: RefresherSettings = {
  refreshMarginMs: 20 * 60_000,
  minServeMs: 60_000,
  leaseMs: 15_000,
  leaseSkewMs: 5_000,
  upstreamDeadlineMs: 10_000,
  pollIntervalMs: 200,
  cacheTtlMs: 30_000,
  forcedDailyBudget: 200,
  unverifiedForcedDailyBudget: 10,
  unverifiedMinAgeMs: 60_000,
  probeTtlMs: 10_000,
  observedProbeSpacingMs: 1_000,
  configErrorBackoffMs: 60_000,
  failureBackoffMs: 5_000,
  selfHeal: true,
  selfHealIntervalMs: 5 * 60_000,
};

