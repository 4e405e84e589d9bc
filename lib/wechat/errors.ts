/**
 * What WeChat's answer means for the hub, by class (docs/wechat.md §3).
 * Messages never contain a secret, a token or a request URL: only the errcode and WeChat's errmsg.
 */
export type WeChatErrorKind = 'refresh' | 'retry_later' | 'configuration' | 'quota' | 'ip_blocked' | 'upstream';

export abstract class WeChatError extends Error {
  abstract readonly kind: WeChatErrorKind;
  /** WeChat's errcode, or undefined for network and HTTP failures. */
  readonly errcode: number | undefined;
  readonly errmsg: string;

  constructor(errcode: number | undefined, errmsg: string) {
    const shown = errmsg.length > 200 ? `${errmsg.slice(0, 200)}…` : errmsg;
    super(errcode === undefined ? shown : `WeChat errcode ${errcode}: ${shown}`);
    this.errcode = errcode;
    this.errmsg = shown;
  }
}

/** The token is invalid or expired (40001/40014/42001 on a business API): fetch a new one. */
export class TokenInvalidError extends WeChatError {
  override readonly name = 'TokenInvalidError';
  readonly kind = 'refresh';
}

/** Busy, rate limited per minute, or the network failed: try again later. */
export class RetryLaterError extends WeChatError {
  override readonly name = 'RetryLaterError';
  readonly kind = 'retry_later';
}

/** Wrong appid, secret, grant type, IP whitelist, frozen secret: a human must fix it; never retried. */
export class ConfigurationError extends WeChatError {
  override readonly name = 'ConfigurationError';
  readonly kind = 'configuration';
}

/** The daily quota is spent (45009): stop until the next quota day (WeChat), or for an hour (WeCom's hourly limits). */
export class QuotaExceededError extends WeChatError {
  override readonly name = 'QuotaExceededError';
  readonly kind = 'quota';
  constructor(
    errcode: number,
    errmsg: string,
    /** How long the limit holds; undefined: until the next quota day (China midnight). */
    readonly blockedForMs?: number,
  ) {
    super(errcode, errmsg);
  }
}

/** The caller IP is blocked or awaits an administrator's confirmation (895xx). */
export class IpBlockedError extends WeChatError {
  override readonly name = 'IpBlockedError';
  readonly kind = 'ip_blocked';
  /** How long WeChat says the block lasts; 0 while an administrator has to confirm. */
  readonly blockedForMs: number;
  constructor(errcode: number, errmsg: string, blockedForMs: number) {
    super(errcode, errmsg);
    this.blockedForMs = blockedForMs;
  }
}

/** Any other answer: not retried, surfaced with its errcode. */
export class UpstreamError extends WeChatError {
  override readonly name = 'UpstreamError';
  readonly kind = 'upstream';
}

const HOUR = 3_600_000;
const CONFIGURATION_CODES = new Set([40002, 40013, 40125, 40164, 40243, 41002, 41004, 43002, 48001, 50002, 61004, 61024]);
const TOKEN_INVALID_CODES = new Set([40001, 40014, 42001]);
/** WeCom: 40091 secret of another corp, 60020 IP not whitelisted (docs/wechat.md §6). */
const WECOM_CONFIGURATION_CODES = new Set([40013, 40091, 41002, 41004, 48001, 60020]);

/**
 * Classify an errcode. `onTokenApi` matters for 40001: from /cgi-bin/token it means a wrong AppSecret,
 * from a business API it means the access_token is invalid or not the latest.
 */
export function classifyErrcode(errcode: number, errmsg: string, onTokenApi: boolean, platform: 'wechat' | 'wecom' = 'wechat'): WeChatError {
  if (platform === 'wecom') {
    if (errcode === -1 || errcode === 45033) return new RetryLaterError(errcode, errmsg);
    // WeCom's limits are per minute and per hour; a per-hour block lasts 60 minutes (docs/wechat.md §6).
    if (errcode === 45009) return new QuotaExceededError(errcode, errmsg, HOUR);
    if (errcode === 40001 && onTokenApi) return new ConfigurationError(errcode, errmsg);
    if (TOKEN_INVALID_CODES.has(errcode)) return new TokenInvalidError(errcode, errmsg);
    if (WECOM_CONFIGURATION_CODES.has(errcode)) return new ConfigurationError(errcode, errmsg);
    return new UpstreamError(errcode, errmsg);
  }
  if (errcode === -1 || errcode === 45011) return new RetryLaterError(errcode, errmsg);
  if (errcode === 45009) return new QuotaExceededError(errcode, errmsg);
  if (errcode === 89506) return new IpBlockedError(errcode, errmsg, 24 * HOUR);
  if (errcode === 89507) return new IpBlockedError(errcode, errmsg, HOUR);
  if (errcode === 89501 || errcode === 89503) return new IpBlockedError(errcode, errmsg, 0);
  if (errcode === 40001 && onTokenApi) return new ConfigurationError(errcode, errmsg);
  if (TOKEN_INVALID_CODES.has(errcode)) return new TokenInvalidError(errcode, errmsg);
  if (CONFIGURATION_CODES.has(errcode)) return new ConfigurationError(errcode, errmsg);
  return new UpstreamError(errcode, errmsg);
}
