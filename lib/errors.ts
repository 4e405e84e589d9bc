import type { LastError } from './store/store.js';
import type { WeChatError } from './wechat/errors.js';

/** The hub's own failures, each with what a caller needs to react (the HTTP edge maps them). */
export abstract class HubError extends Error {}

export class UnknownAppError extends HubError {
  override readonly name = 'UnknownAppError';
  constructor(readonly app: string) {
    super('no such app is configured');
  }
}

/** No valid token is stored and none can be had now. */
export class NoTokenAvailableError extends HubError {
  override readonly name: string = 'NoTokenAvailableError';
  constructor(
    message: string,
    /** Seconds until trying again makes sense. */
    readonly retryAfterSeconds: number,
    /** WeChat's answer when WeChat refused, so the caller sees the errcode. */
    readonly upstream?: WeChatError | LastError,
  ) {
    super(message);
  }
}

/** Another refresher holds the lease and did not finish in time. */
export class RefreshInProgressError extends HubError {
  override readonly name = 'RefreshInProgressError';
  constructor() {
    super('a refresh of this token is in progress; try again shortly');
  }
}

/**
 * A forced refresh is refused before anything is spent: the day's budget is spent (`budget`), WeChat
 * wants spacing between forced fetches (`spacing`: stable_token's 30 s), or the value cannot be
 * checked with WeChat and is too young to be rotated on a report (`young`).
 */
export class ForcedRefreshBudgetError extends HubError {
  override readonly name = 'ForcedRefreshBudgetError';
  constructor(
    readonly retryAfterSeconds: number,
    message = "today's budget of forced refreshes for this app is spent",
    readonly reason: 'budget' | 'spacing' | 'young' = 'budget',
  ) {
    super(message);
  }
}

/** WeChat blocked this app (daily quota spent, IP rejected) and the block has not ended. */
export class AppBlockedError extends NoTokenAvailableError {
  override readonly name = 'AppBlockedError';
}

/**
 * The hub will not call WeChat now because the call would pass a limit WeChat enforces by blocking
 * (WeCom: 100 ticket fetches an hour per app, 400 per corp).
 */
export class UpstreamLimitError extends HubError {
  override readonly name = 'UpstreamLimitError';
  constructor(
    readonly retryAfterSeconds: number,
    message: string,
  ) {
    super(message);
  }
}

/** The app has no credential of this kind (e.g. `agent_config` on an Official Account). */
export class UnknownKindError extends HubError {
  override readonly name = 'UnknownKindError';
  constructor(
    readonly app: string,
    readonly kind: string,
  ) {
    super(`app ${app} has no ${kind}`);
  }
}
