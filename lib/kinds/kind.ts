import type { HubApp } from '../apps.js';
import type { FailurePolicy } from '../failure.js';
import type { QuotaCharge } from '../quota/ledger.js';
import type { CredentialItem } from '../store/store.js';

/**
 * A credential kind: what is fetched, from where, with what, at what cost, and how to ask WeChat
 * whether a value is still good. Nothing else: the lease, the fenced write, the compare-and-swap,
 * the policy and the read cache are written once (lib/protocol.ts, lib/policy.ts, lib/serving.ts)
 * and serve every kind, like golang.org/x/oauth2's TokenSource under ReuseTokenSource.
 */
export interface CredentialKind {
  /** Store key part and metric dimension: `access_token`, `jsapi_ticket`, … */
  readonly id: string;
  /**
   * The credential this one is fetched with, resolved before the lease is taken: a kind id of the
   * same principal (a ticket needs the app's access token), or a reference to another principal's
   * (a platform's authorizer needs the platform's component token).
   */
  readonly dependsOn?: string | DependencyRef;
  /** The tick keeps it fresh from the registration of its principal, though it depends on another (a platform's component token). */
  readonly prewarm?: boolean;

  /**
   * A value WeChat pushes (the component_verify_ticket): what to store of it. Written through the
   * same lease and fence as a fetch (CredentialService.ingest), charged nothing.
   */
  ingest?(app: HubApp, pushed: unknown, now: number): Fetched;

  /** The ledger rows a fetch is counted in, as it is made. */
  charges(app: HubApp, fetch: PlannedFetch): QuotaCharge[];

  /** The upstream call. Throws WeChat's error (lib/wechat/errors) when WeChat refuses. */
  fetch(app: HubApp, ctx: FetchContext): Promise<Fetched>;

  /**
   * Refuse a forced refresh before anything is spent (e.g. stable_token's 30 s spacing), by throwing
   * ForcedRefreshBudgetError.
   */
  checkForced?(app: HubApp, item: CredentialItem | undefined, now: number): void;

  /**
   * Fingerprint of what a value must have been fetched with to be served (the current secret), so a
   * token of a replaced secret is not served; undefined when it cannot be told.
   */
  sourceFingerprint?(app: HubApp): Promise<string | undefined>;

  /**
   * How much life left makes the value due for the tick, when the kind knows better than
   * REFRESH_MARGIN (stable_token renews only in its last 5 minutes: asking earlier returns the same).
   */
  refreshMarginMs?(app: HubApp): number | undefined;

  /**
   * The kind's own failure policy (its errcodes: which are configuration errors, which block and for
   * how long; e.g. a platform's 61004 is its IP whitelist); undefined, or a field left out: the
   * platform's classification (lib/wechat/errors.ts) stands.
   */
  failurePolicy?(error: unknown): FailurePolicy | undefined;

  /** Whether WeChat still accepts `value`, by a call that spends no quota. Throws when WeChat cannot tell. */
  probe?(app: HubApp, value: string, deadline: number): Promise<boolean>;
}

/** A typed reference to the credential a kind is fetched with. */
export interface DependencyRef {
  kind: string;
  /** The principal whose credential it is; default: the same one. */
  principal?(app: HubApp): string;
}

/** The credential `kind` of `app` is fetched with, as a key; undefined when it needs none. */
export function dependencyOf(kind: CredentialKind, app: HubApp): { app: string; kind: string } | undefined {
  const d = kind.dependsOn;
  if (d === undefined) return undefined;
  return typeof d === 'string' ? { app: app.name, kind: d } : { app: d.principal?.(app) ?? app.name, kind: d.kind };
}

/** The kind id of what `kind` is fetched with (for messages), or undefined. */
export const dependencyKindId = (kind: CredentialKind): string | undefined => (typeof kind.dependsOn === 'string' ? kind.dependsOn : kind.dependsOn?.kind);

export interface PlannedFetch {
  forced: boolean;
  /** The item as it stood before the fetch. */
  old: CredentialItem | undefined;
  /** The hub's forced refreshes per app and quota day. */
  forcedDailyBudget: number;
}

export interface FetchContext extends PlannedFetch {
  /** Epoch ms after which no further upstream attempt starts (inside the lease). */
  deadline: number;
  now(): number;
  /** Count one more upstream call of this fetch in the ledger (a retry: WeChat counts every call). */
  onRetry(): Promise<void>;
  /** Take back the count of a call that never reached WeChat (connection refused, DNS failure). */
  onUnsent(): Promise<void>;
  /**
   * The value of the kind this one depends on (`dependsOn`), resolved before the lease was taken,
   * so that everything done under the lease is this kind's own call.
   */
  dependencyValue?: string;
}

/**
 * WeChat rejected the dependency's value (a ticket fetch answered 40001/40014/42001): the protocol
 * gives the lease back, sends that value through the guarded forced refresh, and tries again with
 * what it gives, under a new lease.
 */
export class DependencyRejectedError extends Error {
  override readonly name = 'DependencyRejectedError';
  constructor(
    readonly stale: string,
    options: { cause: unknown },
  ) {
    super('WeChat rejected the value this credential is fetched with', options);
  }
}

export interface Fetched {
  value: string;
  /** Seconds, as WeChat returned them. */
  expiresIn: number;
  /** Fingerprint of the secret the value was fetched with. */
  sourceFingerprint?: string;
  /**
   * The kind's own state, stored with the value by the same fenced write (an authorizer's rotated
   * refresh token; stable_token's last force time); absent: the stored state is kept.
   */
  state?: Record<string, string>;
}
