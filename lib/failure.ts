import { ForcedRefreshBudgetError, NoTokenAvailableError, RefreshInProgressError, UpstreamLimitError } from './errors.js';
import { describe, errorCode, retryAfterFor } from './policy.js';
import { nextQuotaDayStart } from './quota/periods.js';
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
export function failureDecision(error: unknown, old: CredentialItem | undefined, at: number, settings: FailureSettings, secret: string | undefined): FailureDecision {
  const lastError: LastError = { code: errorCode(error), message: redact(describe(error), secret), at };
  const blockedUntil =
    error instanceof QuotaExceededError ? (error.blockedForMs ? at + error.blockedForMs : nextQuotaDayStart(at))
    : error instanceof IpBlockedError && error.blockedForMs > 0 ? at + error.blockedForMs
    : undefined;
  const configuration = error instanceof ConfigurationError || (error instanceof IpBlockedError && error.blockedForMs === 0);
  const doublings = 2 ** Math.min(20, old?.failures ?? 0);
  const backoffMs = configuration
    ? Math.min(Math.max(MAX_CONFIGURATION_BACKOFF_MS, settings.configErrorBackoffMs), settings.configErrorBackoffMs * doublings)
    : Math.min(Math.max(MAX_TRANSIENT_BACKOFF_MS, settings.failureBackoffMs), settings.failureBackoffMs * doublings);
  return { lastError, blockedUntil, backoffUntil: at + backoffMs, configuration };
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
  if (item) return unavailable(item);
  return error instanceof Error ? error : new Error('refresh failed');
}
