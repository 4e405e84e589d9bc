import { ForcedRefreshBudgetError, HubError, NoTokenAvailableError, RefreshInProgressError, UpstreamLimitError } from './errors.js';
import { dependencyKindId, type CredentialKind, type DependencyRejectedError } from './kinds/kind.js';
import { errorCode, retryAfterFor } from './policy.js';
import { nextQuotaDayStart } from './quota/periods.js';
import { StoreUnavailableError } from './store/errors.js';
import type { CredentialItem, LastError } from './store/store.js';
import { ConfigurationError, IpBlockedError, QuotaExceededError, WeChatError } from './wechat/errors.js';

/**
 * The longest wait after repeated failures: the tick's interval. The backoff is shared through the
 * store, so even at this cap the hub asks WeChat about once a minute or less per credential (WeCom
 * blocks an IP after about 2000 failed gettoken calls an hour), and a fixed whitelist is noticed by
 * reads within 5 minutes even if no tick came in between.
 */
const MAX_CONFIGURATION_BACKOFF_MS = 5 * 60_000;
/** A passing failure (WeChat busy, unreachable) is asked about again sooner. */
const MAX_TRANSIENT_BACKOFF_MS = 60_000;

export interface FailureSettings {
  /** First wait after a configuration error; doubles while it persists, up to 5 minutes. */
  configErrorBackoffMs: number;
  /** First wait after any other failure; doubles while it persists, up to a minute. */
  failureBackoffMs: number;
}

/**
 * A kind's own reading of a failure (CredentialKind.failurePolicy): whether it is a configuration
 * error (the long backoff), and how long WeChat blocks after it (0: no block). What it leaves out,
 * the platform's classification (lib/wechat/errors.ts) decides.
 */
export interface FailurePolicy {
  configuration?: boolean;
  blockedForMs?: number;
}

export interface FailureDecision {
  lastError: LastError;
  /** WeChat blocked the app (daily quota, rejected IP): nobody asks before this. */
  blockedUntil?: number;
  /** Reads and forced refreshes do not ask WeChat again before this (the tick still does). */
  backoffUntil: number;
  configuration: boolean;
}

/**
 * What a failed refresh leaves in the store (docs/protocol.md, "Failures"): the error, a block when
 * WeChat said how long, and a backoff for every failure, so that one attempt sequence is made per
 * backoff window however many reads come in (20 reads of a ticket WeChat answers -1 are one
 * sequence, not 20). A configuration error waits longer than a passing one. `old.failures` counts
 * every failure since the last success.
 */
export function failureDecision(error: unknown, old: CredentialItem | undefined, at: number, settings: FailureSettings, secret: string | undefined, policy?: FailurePolicy): FailureDecision {
  const lastError: LastError = { code: recordedCode(error), message: redact(reasonOf(error), secret), at };
  const blockedUntil =
    policy?.blockedForMs !== undefined ? (policy.blockedForMs > 0 ? at + policy.blockedForMs : undefined)
    : error instanceof QuotaExceededError ? (error.blockedForMs ? at + error.blockedForMs : nextQuotaDayStart(at))
    : error instanceof IpBlockedError && error.blockedForMs > 0 ? at + error.blockedForMs
    : undefined;
  const configuration = policy?.configuration ?? (error instanceof ConfigurationError || (error instanceof IpBlockedError && error.blockedForMs === 0));
  const backoffMs = configuration ? configurationBackoffMs(old, settings) : transientBackoffMs(old, settings);
  return { lastError, blockedUntil, backoffUntil: at + backoffMs, configuration };
}

/**
 * A value fetched with another (a ticket with the app's token) that WeChat refused because that one
 * is dead (40001/40014/42001), when the hub could not replace that one now: its forced refresh was
 * refused (the day's budget, stable_token's spacing), failed, or WeChat's probe still accepts it.
 * Recorded like any failure, so that reads serve what they have, or answer 503 with this reason,
 * without asking WeChat again before the backoff ends: at least as long as the refusal said
 * (stable_token's 30 s), and at most the tick's 5 minutes (the tick still tries, and its
 * self-healing replaces a dead token without the forced budget).
 */
export function dependencyFailureDecision(
  kind: CredentialKind,
  rejected: DependencyRejectedError,
  why: { error: unknown } | 'still_accepted' | 'rejected_again',
  old: CredentialItem | undefined,
  at: number,
  settings: FailureSettings,
): FailureDecision {
  const dependency = dependencyKindId(kind) ?? 'credential';
  const errcode = rejected.cause instanceof WeChatError ? rejected.cause.errcode : undefined;
  const reason =
    why === 'still_accepted' ? 'WeChat still accepts it when asked, so it was not replaced'
    : why === 'rejected_again' ? 'WeChat rejected the one that replaced it too'
    : `it cannot be replaced now: ${reasonOf(why.error)}`;
  const message = `WeChat rejected the ${dependency} this ${kind.id} is fetched with${errcode === undefined ? '' : ` (errcode ${errcode})`}, and ${reason}`;
  const refusedForMs = typeof why === 'object' && hasRetryAfter(why.error) ? why.error.retryAfterSeconds * 1000 : 0;
  const backoffMs = Math.min(MAX_CONFIGURATION_BACKOFF_MS, Math.max(refusedForMs, transientBackoffMs(old, settings)));
  return { lastError: { code: `${dependency}_rejected`, message, at }, backoffUntil: at + backoffMs, configuration: false };
}

function configurationBackoffMs(old: CredentialItem | undefined, settings: FailureSettings): number {
  const doublings = 2 ** Math.min(20, old?.failures ?? 0);
  return Math.min(Math.max(MAX_CONFIGURATION_BACKOFF_MS, settings.configErrorBackoffMs), settings.configErrorBackoffMs * doublings);
}

function transientBackoffMs(old: CredentialItem | undefined, settings: FailureSettings): number {
  const doublings = 2 ** Math.min(20, old?.failures ?? 0);
  return Math.min(Math.max(MAX_TRANSIENT_BACKOFF_MS, settings.failureBackoffMs), settings.failureBackoffMs * doublings);
}

function hasRetryAfter(error: unknown): error is { retryAfterSeconds: number } {
  return typeof (error as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds === 'number';
}

/**
 * The code a failure is recorded with (the status view's "last error"): WeChat's class and errcode
 * (`configuration:40164`), or the hub's own error code, as its HTTP answers spell it. Never a class name.
 */
function recordedCode(error: unknown): string {
  if (error instanceof WeChatError) return errorCode(error);
  if (error instanceof StoreUnavailableError) return 'store_unavailable';
  if (error instanceof ForcedRefreshBudgetError) return 'forced_refresh_budget_spent';
  if (error instanceof UpstreamLimitError) return 'upstream_limit_reached';
  if (error instanceof RefreshInProgressError) return 'refresh_in_progress';
  if (error instanceof NoTokenAvailableError) return 'token_unavailable';
  return 'internal';
}

/**
 * Why, in words an operator reads: WeChat's errcode and errmsg, or the hub's own message (its
 * errors, and the plain errors it throws, such as a secret that is not set); never a class name.
 */
function reasonOf(error: unknown): string {
  if (error instanceof StoreUnavailableError) {
    const aws = error.cause as { name?: unknown; $metadata?: unknown } | undefined;
    return `the credential store (DynamoDB) failed${aws?.$metadata !== undefined && typeof aws.name === 'string' ? `: ${aws.name}` : ''}`;
  }
  if (error instanceof WeChatError || error instanceof HubError || (error instanceof Error && error.constructor === Error && error.message)) return error.message;
  return 'an unexpected error in the hub (its log names it)';
}

function redact(text: string, secret: string | undefined): string {
  return secret ? text.split(secret).join('[redacted]') : text;
}

/** What a caller is told when no value can be served after a refresh. */
export function unavailable(item: CredentialItem): NoTokenAvailableError {
  const upstream = item.lastError;
  return new NoTokenAvailableError('no valid token is available now', upstream ? retryAfterFor(upstream) : 5, upstream);
}

export function asUnavailable(error: unknown, item: CredentialItem | undefined): Error {
  if (
    error instanceof NoTokenAvailableError ||
    error instanceof ForcedRefreshBudgetError ||
    error instanceof RefreshInProgressError ||
    error instanceof UpstreamLimitError
  ) {
    return error;
  }
  if (error instanceof WeChatError) return new NoTokenAvailableError('WeChat did not issue a token', retryAfterFor(error), error);
  // An item that holds neither a value nor a failure (only its place in the due index) says nothing.
  if (item && (item.value !== undefined || item.lastError)) return unavailable(item);
  return error instanceof Error ? error : new Error('refresh failed');
}
