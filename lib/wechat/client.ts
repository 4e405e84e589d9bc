import * as z from 'zod/mini';
import type { Clock } from '../clock.js';
import { exchange, ExchangeError, type Exchange } from './http.js';
import {
  classifyErrcode,
  RetryLaterError,
  UpstreamError,
  WeChatError,
} from './errors.js';

export type TokenApi = 'classic' | 'stable';
/** Whose API this client talks to: WeChat (api.weixin.qq.com) or WeCom (qyapi.weixin.qq.com). Their errcodes differ. */
export type Platform = 'wechat' | 'wecom';

export interface AccessTokenRequest {
  appid: string;
  secret: string;
  api: TokenApi;
  /** stable_token only: invalidate the current token and issue a new one (20 a day, 30 s apart). */
  forceRefresh?: boolean;
  /** Epoch ms (by the client's clock) after which no further attempt starts. */
  deadline?: number;
  /** Called before each retry (every attempt is a call WeChat counts). */
  onRetry?: () => Promise<void>;
  /** Called for each request that never reached WeChat (connection refused, DNS failure). */
  onUnsent?: () => Promise<void>;
}

export interface WeComTokenRequest {
  corpid: string;
  /** The WeCom app's own secret. */
  secret: string;
  deadline?: number;
  onRetry?: () => Promise<void>;
  /** Called for each request that never reached WeChat (connection refused, DNS failure). */
  onUnsent?: () => Promise<void>;
}

export interface TicketRequest {
  /** `/cgi-bin/ticket/getticket` (WeChat), `/cgi-bin/get_jsapi_ticket` or `/cgi-bin/ticket/get` (WeCom). */
  path: string;
  accessToken: string;
  /** `type` query parameter, when the API takes one. */
  type?: string;
  deadline?: number;
  onRetry?: () => Promise<void>;
  /** Called for each request that never reached WeChat (connection refused, DNS failure). */
  onUnsent?: () => Promise<void>;
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
  /** https://api.weixin.qq.com (or https://qyapi.weixin.qq.com for WeCom), or a simulator. */
  baseUrl: string;
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

const tokenResponse = z.object({
  access_token: z.string().check(z.minLength(1), z.maxLength(2048)),
  expires_in: z.number().check(z.int(), z.positive()),
});
const ticketResponse = z.object({
  ticket: z.string().check(z.minLength(1), z.maxLength(2048)),
  expires_in: z.number().check(z.int(), z.positive()),
});
const quotaResponse = z.object({
  quota: z.object({ daily_limit: z.number().check(z.int()), used: z.number().check(z.int()), remain: z.number().check(z.int()) }),
});
const errorResponse = z.object({ errcode: z.number().check(z.int()), errmsg: z.optional(z.string()) });
const ipListResponse = z.object({ ip_list: z.array(z.string()) });

/**
 * WeChat's (or WeCom's) token and ticket APIs over Node's fetch. Retries -1, 45011, 5xx and network failures with jittered
 * backoff inside the deadline; never retries anything else. Never logs: the classic request URL
 * carries the AppSecret, so it is built here and never leaves this function.
 */
export class WeChatClient {
  readonly platform: Platform;
  readonly #base: URL;
  readonly #clock: Clock;
  readonly #attemptTimeoutMs: number;
  readonly #totalTimeoutMs: number;
  readonly #maxAttempts: number;
  readonly #backoffBaseMs: number;
  readonly #backoffCapMs: number;
  readonly #random: () => number;

  constructor(options: WeChatClientOptions) {
    this.#base = new URL(options.baseUrl);
    this.platform = options.platform ?? 'wechat';
    this.#clock = options.clock;
    this.#attemptTimeoutMs = options.attemptTimeoutMs ?? 5_000;
    this.#totalTimeoutMs = options.totalTimeoutMs ?? 10_000;
    this.#maxAttempts = options.maxAttempts ?? 4;
    this.#backoffBaseMs = options.backoffBaseMs ?? 200;
    this.#backoffCapMs = options.backoffCapMs ?? 2_000;
    this.#random = options.random ?? Math.random;
  }

  /** Fetch an access_token from /cgi-bin/token (classic) or /cgi-bin/stable_token (stable). */
  async fetchAccessToken(req: AccessTokenRequest): Promise<AccessToken> {
    const deadline = req.deadline ?? this.#clock.now() + this.#totalTimeoutMs;
    return this.#withRetries(deadline, req.onRetry, async (timeoutMs) => {
      const body =
        req.api === 'classic'
          ? await this.#call('GET', this.#url('/cgi-bin/token', {
              grant_type: 'client_credential',
              appid: req.appid,
              secret: req.secret,
            }), undefined, timeoutMs)
          : await this.#call('POST', this.#url('/cgi-bin/stable_token', {}), JSON.stringify({
              grant_type: 'client_credential',
              appid: req.appid,
              secret: req.secret,
              force_refresh: req.forceRefresh ?? false,
            }), timeoutMs);
      const ok = tokenResponse.safeParse(body);
      if (ok.success && !isError(body)) return { accessToken: ok.data.access_token, expiresIn: ok.data.expires_in };
      throw this.#errorFrom(body, true);
    });
  }

  /** A WeCom app's access_token from /cgi-bin/gettoken (corpid + that app's secret). */
  async fetchWeComToken(req: WeComTokenRequest): Promise<AccessToken> {
    const deadline = req.deadline ?? this.#clock.now() + this.#totalTimeoutMs;
    return this.#withRetries(deadline, req.onRetry, async (timeoutMs) => {
      const body = await this.#call('GET', this.#url('/cgi-bin/gettoken', { corpid: req.corpid, corpsecret: req.secret }), undefined, timeoutMs);
      const ok = tokenResponse.safeParse(body);
      if (ok.success && !isError(body)) return { accessToken: ok.data.access_token, expiresIn: ok.data.expires_in };
      throw this.#errorFrom(body, true);
    });
  }

  /** A JS-SDK ticket (jsapi, wx_card, WeCom's corp or agent_config ticket), fetched with an access token. */
  async fetchTicket(req: TicketRequest): Promise<Ticket> {
    const deadline = req.deadline ?? this.#clock.now() + this.#totalTimeoutMs;
    const query: Record<string, string> = { access_token: req.accessToken };
    if (req.type !== undefined) query.type = req.type;
    return this.#withRetries(deadline, req.onRetry, async (timeoutMs) => {
      const body = await this.#call('GET', this.#url(req.path, query), undefined, timeoutMs);
      const ok = ticketResponse.safeParse(body);
      if (ok.success && !isError(body)) return { ticket: ok.data.ticket, expiresIn: ok.data.expires_in };
      throw this.#errorFrom(body, false);
    });
  }

  /**
   * Ask WeChat whether a token is still accepted, with a call that spends no token quota
   * (GET /cgi-bin/getcallbackip, or /cgi-bin/get_api_domain_ip, which Mini Programs may call too).
   * Resolves true/false; throws for anything that is not an answer
   * about the token (network, busy, configuration).
   */
  async isTokenValid(accessToken: string, deadline?: number, path = '/cgi-bin/getcallbackip'): Promise<boolean> {
    const until = deadline ?? this.#clock.now() + this.#totalTimeoutMs;
    try {
      return await this.#withRetries(until, undefined, async (timeoutMs) => {
        const body = await this.#call('GET', this.#url(path, { access_token: accessToken }), undefined, timeoutMs);
        if (ipListResponse.safeParse(body).success && !isError(body)) return true;
        throw this.#errorFrom(body, false);
      });
    } catch (error) {
      if (error instanceof WeChatError && error.kind === 'refresh') return false;
      throw error;
    }
  }

  /**
   * WeChat's own count for an API (POST /cgi-bin/openapi/quota/get, WECHAT-API.md §4): the daily
   * limit, what was used and what remains. Official Accounts and Mini Programs only.
   */
  async getApiQuota(accessToken: string, cgiPath: string, deadline?: number): Promise<ApiQuota> {
    const until = deadline ?? this.#clock.now() + this.#totalTimeoutMs;
    return this.#withRetries(until, undefined, async (timeoutMs) => {
      const body = await this.#call('POST', this.#url('/cgi-bin/openapi/quota/get', { access_token: accessToken }), JSON.stringify({ cgi_path: cgiPath }), timeoutMs);
      const ok = quotaResponse.safeParse(body);
      if (ok.success && !isError(body)) return { dailyLimit: ok.data.quota.daily_limit, used: ok.data.quota.used, remain: ok.data.quota.remain };
      throw this.#errorFrom(body, false);
    });
  }

  #url(path: string, query: Record<string, string>): URL {
    const url = new URL(path.replace(/^\//, ''), this.#base.href.endsWith('/') ? this.#base : `${this.#base.href}/`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return url;
  }

  async #withRetries<T>(deadline: number, onRetry: (() => Promise<void>) | undefined, attempt: (timeoutMs: number) => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      if (n > 1) await onRetry?.();
      const remaining = deadline - this.#clock.now();
      try {
        return await attempt(Math.max(1, Math.min(this.#attemptTimeoutMs, remaining)));
      } catch (error) {
        if (!(error instanceof RetryLaterError)) throw error;
        const backoff = this.#random() * Math.min(this.#backoffCapMs, this.#backoffBaseMs * 2 ** (n - 1));
        if (n >= this.#maxAttempts || this.#clock.now() + backoff >= deadline) throw error;
        await this.#clock.sleep(backoff);
      }
    }
  }

  async #call(method: 'GET' | 'POST', url: URL, body: string | undefined, timeoutMs: number): Promise<unknown> {
    let res: Exchange;
    try {
      res = await exchange(url, { method, body, headers: body === undefined ? {} : { 'content-type': 'application/json' }, timeoutMs });
    } catch (error) {
      throw new RetryLaterError(undefined, error instanceof ExchangeError ? error.message : 'network error');
    }
    if (res.status >= 500) throw new RetryLaterError(undefined, `HTTP ${res.status} from WeChat`);
    if (res.status !== 200) throw new UpstreamError(undefined, `HTTP ${res.status} from WeChat`);
    try {
      return JSON.parse(res.body.toString('utf8')) as unknown;
    } catch {
      throw new UpstreamError(undefined, 'WeChat answered with something that is not JSON');
    }
  }

  #errorFrom(body: unknown, onTokenApi: boolean): WeChatError {
    const err = errorResponse.safeParse(body);
    if (!err.success) return new UpstreamError(undefined, 'WeChat answered without a token or an errcode');
    return classifyErrcode(err.data.errcode, err.data.errmsg ?? '', onTokenApi, this.platform);
  }
}

function isError(body: unknown): boolean {
  const err = errorResponse.safeParse(body);
  return err.success && err.data.errcode !== 0;
}
