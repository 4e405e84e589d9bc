import type { HubApp } from '../apps.js';
import type { FailureSettings } from '../failure.js';
import type { CredentialKind } from '../kinds/kind.js';
import type { CredentialItem, RefreshCause } from '../store/store.js';

/**
 * The protocol's records (lib/protocol.ts re-exports them): what a refresh is asked, what it
 * answers, and its settings. In a module of their own so that the protocol, the holder and the
 * transitions (lib/protocol/transition.ts) share them without importing one another in a cycle.
 */
export interface ProtocolSettings extends FailureSettings {
  leaseMs: number;
  /** The clock skew between containers the lease tolerates: a lease is taken over only this long after it lapsed. */
  leaseSkewMs: number;
  upstreamDeadlineMs: number;
  pollIntervalMs: number;
  forcedDailyBudget: number;
  /** A rotation WeChat could not confirm (no probe, or the probe could not answer) spends this smaller daily budget… */
  unverifiedForcedDailyBudget: number;
  /** …and only of a value at least this old. */
  unverifiedMinAgeMs: number;
}

/** What the hub counts, per app and kind. Never a token, a secret or a key. */
export type HubMetric = 'TokenRefreshed' | 'TokenRefreshFailed' | 'LeaseLost' | 'ForcedRefreshNotRotated' | 'ForcedRefreshRefused' | 'SelfHealed';

export interface RefreshRequest {
  app: HubApp;
  kind: CredentialKind;
  /** Whether the item (as read now) still needs the refresh; false means someone else did it. */
  needed: (item: CredentialItem | undefined) => boolean;
  forced: boolean;
  /** What asked for the refresh (recorded with the value). */
  cause: RefreshCause;
  /** The consistent read the caller has just made, used for the first round instead of reading again. */
  justRead?: { item: CredentialItem | undefined };
  /**
   * A forced refresh of a kind with a probe: ask WeChat first whether this (stored) value is really
   * invalid, unless WeChat confirmed it within `ttlMs`.
   */
  probe?: { value: string; ttlMs: number };
  /** The value of the kind this one depends on, and the guarded forced refresh of that value. */
  dependencies: {
    value(): Promise<string>;
    rejected(stale: string): Promise<string>;
  };
  /** Called once this call holds the lease and is about to fetch. */
  beforeFetch?: () => void;
}

export interface RefreshResult {
  item: CredentialItem;
  /** This call's upstream fetch wrote the item. */
  wrote: boolean;
}
