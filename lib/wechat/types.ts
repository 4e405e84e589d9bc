import type { Clock } from '../clock.js';
import type { BaseOption } from './bases.js';
import type { LoginFlow } from './login.js';

/**
 * What WeChatClient (lib/wechat/client.ts) is asked and answers: the token and ticket requests,
 * their request counting hooks, the values it returns (a token, a ticket, WeChat's API quota), and
 * the client's options.
 */

export type TokenApi = 'classic' | 'stable';
/** Whose API this client talks to: WeChat (api.weixin.qq.com) or WeCom (qyapi.weixin.qq.com). Their errcodes differ. */
export type Platform = 'wechat' | 'wecom';

export interface AccessTokenRequest extends RequestHooks {
  appid: string;
  secret: string;
  api: TokenApi;
  /** stable_token only: invalidate the current token and issue a new one (20 a day, 30 s apart). */
  forceRefresh?: boolean;
  /** Epoch ms (by the client's clock) after which no further attempt starts. */
  deadline?: number;
}

/**
 * The request counting hooks, for a caller that counts every request WeChat receives (the quota
 * ledger). The caller counts the first request itself, before the call. Then:
 * requests WeChat may have received = 1 + (onRetry calls) - (onUnsent calls).
 */
export interface RequestHooks {
  /**
   * Called before every request after the first: a retry on the same base (after -1, 45011, a 5xx or
   * a network failure) and a failover to the next base alike (each is one more request). An error it
   * throws ends the call with that error, before the request is sent.
   */
  onRetry?: () => Promise<void>;
  /**
   * Called once for each request, the first included, that provably never reached a server (the
   * connection was refused or could not be made, the host name did not resolve), so that the caller
   * can take its count back. Not called for a timeout or a reset connection: WeChat may have
   * received those. An error it throws is ignored (the count then stays: one too many, never too few).
   */
  onUnsent?: () => Promise<void>;
}

export interface WeComTokenRequest extends RequestHooks {
  corpid: string;
  /** The WeCom app's own secret. */
  secret: string;
  deadline?: number;
}

export interface TicketRequest extends RequestHooks {
  /** `/cgi-bin/ticket/getticket` (WeChat), `/cgi-bin/get_jsapi_ticket` or `/cgi-bin/ticket/get` (WeCom). */
  path: string;
  accessToken: string;
  /** `type` query parameter, when the API takes one. */
  type?: string;
  deadline?: number;
}

/** A user's login code exchanged with the AppSecret (lib/wechat/login.ts): never cached, never retried but for -1. */
export interface CodeExchangeRequest {
  /** `code2session` (a Mini Program's wx.login code) or `oauth` (web authorization, website and app login). */
  flow: LoginFlow;
  appid: string;
  secret: string;
  code: string;
  deadline?: number;
}

export interface Ticket {
  ticket: string;
  /** Seconds, as WeChat returned them. */
  expiresIn: number;
}

export interface ApiQuota {
  dailyLimit: number;
  used: number;
  remain: number;
}

export interface AccessToken {
  accessToken: string;
  /** Seconds, as WeChat returned them. */
  expiresIn: number;
}

export interface WeChatClientOptions {
  /**
   * https://api.weixin.qq.com (or https://qyapi.weixin.qq.com for WeCom), or a simulator; or a list
   * in the order of preference (`['https://api.weixin.qq.com', 'https://api2.weixin.qq.com']`), the
   * next tried when one is unreachable; or an UpstreamBases shared with a WeChatPassthrough.
   */
  baseUrl: BaseOption;
  /** Default `wechat`. */
  platform?: Platform;
  clock: Clock;
  /** One attempt, headers and body. */
  attemptTimeoutMs?: number;
  /** Upper bound of one call with its retries, when the caller gives no deadline. */
  totalTimeoutMs?: number;
  maxAttempts?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  random?: () => number;
}
