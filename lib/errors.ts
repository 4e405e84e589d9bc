import type { LastError } from './store/store.js';
import { WeChatError } from './wechat/errors.js';

/**
 * The hub's errors: each says how a caller sees it, so the HTTP edge has one translation
 * (lib/http/answers.ts errorResult: `status`, `{"error": {code, message, ...extra}}`, `headers`) and
 * the WeChat-compatible paths another (lib/http/compat-answers.ts asWeChat: `wechat`, else -1).
 * Anything that is not a HubError is a 500 `internal` with no detail.
 */
export interface HubErrorShape {
  /** The HTTP status. */
  status: number;
  /** The stable code of the JSON error (`forced_refresh_budget_spent`). */
  code: string;
  /** Whether the message may be shown to the caller (default true); when not, `publicMessage` is. */
  expose?: boolean;
  publicMessage?: string;
  /** Headers of the answer (Retry-After, WWW-Authenticate, Allow). */
  headers?: Record<string, string>;
  /** More fields of the JSON error (WeChat's `errcode`). */
  extra?: Record<string, unknown>;
  /** What an SDK on the WeChat-compatible paths is told; absent: WeChat's -1 "system error". */
  wechat?: { errcode: number; errmsg: string };
}

export abstract class HubError extends Error {
  readonly status: number;
  readonly code: string;
  readonly expose: boolean;
  readonly headers: Record<string, string>;
  readonly extra: Record<string, unknown>;
  readonly wechat: { errcode: number; errmsg: string } | undefined;
  readonly #publicMessage: string | undefined;

  constructor(message: string, shape: HubErrorShape, options?: ErrorOptions) {
    super(message, options);
    this.status = shape.status;
    this.code = shape.code;
    this.expose = shape.expose ?? true;
    this.#publicMessage = shape.publicMessage;
    this.headers = shape.headers ?? {};
    this.extra = shape.extra ?? {};
    this.wechat = shape.wechat;
  }

  /** What the caller reads: the message itself when it may be shown. */
  get publicMessage(): string {
    return this.expose ? this.message : (this.#publicMessage ?? 'internal error');
  }
}

const retryAfter = (seconds: number) => ({ 'retry-after': String(seconds) });

/** An error the HTTP edge shows to the caller as it is: status, a stable code, a plain message. */
export class HttpError extends HubError {
  override readonly name = 'HttpError';
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}) {
    super(message, { status, code, headers, extra });
  }
}

/** A page cursor the hub did not give (GET /v1/principals, /v1/status): 400, never a store failure. */
export class InvalidCursorError extends HubError {
  override readonly name = 'InvalidCursorError';
  constructor() {
    super('cursor must be the `next` of the previous page', { status: 400, code: 'invalid_cursor' });
  }
}

export class UnknownAppError extends HubError {
  override readonly name = 'UnknownAppError';
  constructor(readonly app: string) {
    super('no such app is configured', { status: 404, code: 'unknown_app' });
  }
}

/** An authorizer that revoked its platform's authorization: its record is kept, nothing of it is served or refreshed. */
export class AuthorizerRevokedError extends HubError {
  override readonly name = 'AuthorizerRevokedError';
  constructor(readonly app: string) {
    super('this account revoked its authorization of the platform; it is served again once it authorizes again', { status: 410, code: 'authorizer_revoked' });
  }
}

/**
 * No valid token is stored and none can be had now. With WeChat's errcode (WeChat refused, not
 * "busy"): 502 `wechat_error` carrying the errcode; otherwise 503 `token_unavailable`, saying why in
 * words when the hub recorded a reason without an errcode (a ticket's token rejected and not
 * replaceable now, the store, the network).
 */
export class NoTokenAvailableError extends HubError {
  override readonly name: string = 'NoTokenAvailableError';
  constructor(
    message: string,
    /** Seconds until trying again makes sense. */
    readonly retryAfterSeconds: number,
    /** WeChat's answer when WeChat refused, so the caller sees the errcode. */
    readonly upstream?: WeChatError | LastError,
  ) {
    super(message, NoTokenAvailableError.#shape(retryAfterSeconds, upstream));
  }

  static #shape(retry: number, up: WeChatError | LastError | undefined): HubErrorShape {
    const errcode = up instanceof WeChatError ? up.errcode : up ? Number(up.code.split(':')[1]) || undefined : undefined;
    const kind = up instanceof WeChatError ? up.kind : up?.code.split(':')[0];
    if (errcode !== undefined && kind !== 'retry_later') {
      return {
        status: 502, code: 'wechat_error', expose: false, publicMessage: `WeChat refused to issue a token (errcode ${errcode})`,
        headers: retryAfter(retry), extra: { errcode },
        wechat: { errcode, errmsg: `WeChat refused to issue a token to the hub (errcode ${errcode})` },
      };
    }
    const reason = up !== undefined && !(up instanceof WeChatError) && errcode === undefined ? up.message : undefined;
    return {
      status: 503, code: 'token_unavailable', expose: false, publicMessage: `${reason ?? 'no valid token can be had right now'}; try again later`,
      headers: retryAfter(retry),
      wechat: { errcode: -1, errmsg: 'system error: the hub has no valid token right now; try again later' },
    };
  }
}

/** Another refresher holds the lease and did not finish in time. */
export class RefreshInProgressError extends HubError {
  override readonly name = 'RefreshInProgressError';
  constructor() {
    super('a refresh of this token is in progress; try again shortly', { status: 503, code: 'refresh_in_progress', headers: retryAfter(1) });
  }
}

/**
 * A forced refresh is refused before anything is spent: the day's budget is spent (`budget`), WeChat
 * wants spacing between forced fetches (`spacing`: ForcedRefreshSpacingError), or the value cannot
 * be checked with WeChat and is too young to be rotated on a report (`young`).
 */
export class ForcedRefreshBudgetError extends HubError {
  override readonly name: string = 'ForcedRefreshBudgetError';
  constructor(
    readonly retryAfterSeconds: number,
    message = "today's budget of forced refreshes for this app is spent",
    readonly reason: 'budget' | 'spacing' | 'young' = 'budget',
  ) {
    super(message, {
      status: 429, code: 'forced_refresh_budget_spent', headers: retryAfter(retryAfterSeconds),
      wechat: { errcode: 45009, errmsg: `reach max api daily quota limit: ${message}` },
    });
  }
}

/** stable_token's force_refresh within 30 s of the last one: WeChat would not refresh (reason `spacing`). */
export class ForcedRefreshSpacingError extends ForcedRefreshBudgetError {
  override readonly name = 'ForcedRefreshSpacingError';
  constructor(retryAfterSeconds: number, message = 'stable_token force refreshes must be 30 s apart') {
    super(retryAfterSeconds, message, 'spacing');
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
    super(message, {
      status: 429, code: 'upstream_limit_reached', headers: retryAfter(retryAfterSeconds),
      wechat: { errcode: 45009, errmsg: `api freq out of limit: ${message}` },
    });
  }
}

/** The app has no credential of this kind (e.g. `agent_config` on an Official Account). */
export class UnknownKindError extends HubError {
  override readonly name = 'UnknownKindError';
  constructor(
    readonly app: string,
    readonly kind: string,
  ) {
    super(`app ${app} has no ${kind}`, { status: 404, code: 'unknown_credential' });
  }
}

/** The key list could not be read or is invalid: no caller can be checked, so none is let in. */
export class KeysUnavailableError extends HubError {
  override readonly name = 'KeysUnavailableError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, {
      status: 503, code: 'auth_unavailable', expose: false, publicMessage: 'API keys cannot be checked right now; try again shortly', headers: retryAfter(5),
    }, options);
  }
}
