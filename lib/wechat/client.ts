import type { Clock } from '../clock.js';
import { basesOf, type LastBase, type UpstreamBases } from './bases.js';
import { exchange, ExchangeError, reachOf, type Exchange, type Reach } from './http.js';
import {
  classifyErrcode,
  RetryLaterError,
  UpstreamError,
  WeChatError,
} from './errors.js';
import { LOGIN_PATHS, loginAnswer, loginQuery, type SessionAnswer, type UserTokenAnswer } from './login.js';
import { errorResponse, ipListResponse, isError, quotaResponse, ticketResponse, tokenResponse } from './responses.js';
import type {
  AccessToken,
  AccessTokenRequest,
  ApiQuota,
  CodeExchangeRequest,
  Platform,
  RequestHooks,
  Ticket,
  TicketRequest,
  WeChatClientOptions,
  WeComTokenRequest,
} from './types.js';

// The request and answer types (lib/wechat/types.ts), importable from here as before.
export type * from './types.js';

/** A request that got no answer: how far it got, for failover and the counting hooks. */
class NetworkFailure extends RetryLaterError {
  constructor(
    message: string,
    readonly reach: Reach | undefined,
  ) {
    super(undefined, message);
  }
}

/**
 * WeChat's (or WeCom's) token and ticket APIs over Node's fetch. Retries -1, 45011, 5xx and network
 * failures with jittered backoff inside the deadline, on the base that answered; never retries
 * anything else. With several bases, a base that cannot be reached (refused, reset, no DNS answer,
 * timeout) is followed at once by the next one not yet tried in this call, within the same deadline;
 * an answer (any HTTP status, any errcode) is never tried on another base. Never logs: the classic
 * request URL carries the AppSecret, so it is built here and never leaves this function.
 */
export class WeChatClient {
  readonly platform: Platform;
  readonly #bases: UpstreamBases;
  readonly #clock: Clock;
  readonly #attemptTimeoutMs: number;
  readonly #totalTimeoutMs: number;
  readonly #maxAttempts: number;
  readonly #backoffBaseMs: number;
  readonly #backoffCapMs: number;
  readonly #random: () => number;

  constructor(options: WeChatClientOptions) {
    this.#bases = basesOf(options.baseUrl, options.clock);
    this.platform = options.platform ?? 'wechat';
    this.#clock = options.clock;
    this.#attemptTimeoutMs = options.attemptTimeoutMs ?? 5_000;
    this.#totalTimeoutMs = options.totalTimeoutMs ?? 10_000;
    this.#maxAttempts = options.maxAttempts ?? 4;
    this.#backoffBaseMs = options.backoffBaseMs ?? 200;
    this.#backoffCapMs = options.backoffCapMs ?? 2_000;
    this.#random = options.random ?? Math.random;
  }

  /** The origin of the base that answered last, never a path or a query; undefined before any answer. */
  get lastBase(): string | undefined {
    return this.#bases.last.lastBase;
  }

  /** `lastBase` and since when (epoch ms by the clock) it has been the one answering. */
  get lastBaseInfo(): LastBase {
    return this.#bases.last;
  }

  /** Fetch an access_token from /cgi-bin/token (classic) or /cgi-bin/stable_token (stable). */
  async fetchAccessToken(req: AccessTokenRequest): Promise<AccessToken> {
    const deadline = req.deadline ?? this.#clock.now() + this.#totalTimeoutMs;
    return this.#withRetries(deadline, req, async (base, timeoutMs) => {
      const body =
        req.api === 'classic'
          ? await this.#call('GET', this.#url(base, '/cgi-bin/token', {
              grant_type: 'client_credential',
              appid: req.appid,
              secret: req.secret,
            }), undefined, timeoutMs)
          : await this.#call('POST', this.#url(base, '/cgi-bin/stable_token', {}), JSON.stringify({
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
    return this.#withRetries(deadline, req, async (base, timeoutMs) => {
      const body = await this.#call('GET', this.#url(base, '/cgi-bin/gettoken', { corpid: req.corpid, corpsecret: req.secret }), undefined, timeoutMs);
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
    return this.#withRetries(deadline, req, async (base, timeoutMs) => {
      const body = await this.#call('GET', this.#url(base, req.path, query), undefined, timeoutMs);
      const ok = ticketResponse.safeParse(body);
      if (ok.success && !isError(body)) return { ticket: ok.data.ticket, expiresIn: ok.data.expires_in };
      throw this.#errorFrom(body, false);
    });
  }

  /**
   * A user's login code exchanged with the AppSecret (docs/wechat.md §13): code2Session's session
   * or web authorization's user token, WeChat's answer as it came (every field). Only -1 (and what
   * never got an answer) is tried again inside the deadline; any other errcode is LoginRefusedError.
   */
  async exchangeCode(req: CodeExchangeRequest & { flow: 'code2session' }): Promise<SessionAnswer>;
  async exchangeCode(req: CodeExchangeRequest & { flow: 'oauth' }): Promise<UserTokenAnswer>;
  async exchangeCode(req: CodeExchangeRequest): Promise<SessionAnswer | UserTokenAnswer>;
  async exchangeCode(req: CodeExchangeRequest): Promise<SessionAnswer | UserTokenAnswer> {
    const deadline = req.deadline ?? this.#clock.now() + this.#totalTimeoutMs;
    const query = loginQuery(req.flow, req.appid, req.secret, req.code);
    return this.#withRetries(deadline, {}, async (base, timeoutMs) => loginAnswer(req.flow, await this.#call('GET', this.#url(base, LOGIN_PATHS[req.flow], query), undefined, timeoutMs)));
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
      return await this.#withRetries(until, {}, async (base, timeoutMs) => {
        const body = await this.#call('GET', this.#url(base, path, { access_token: accessToken }), undefined, timeoutMs);
        if (ipListResponse.safeParse(body).success && !isError(body)) return true;
        throw this.#errorFrom(body, false);
      });
    } catch (error) {
      if (error instanceof WeChatError && error.kind === 'refresh') return false;
      throw error;
    }
  }

  /** WeChat's own count for an API (POST /cgi-bin/openapi/quota/get): daily limit, used, remaining. Official Accounts and Mini Programs. */
  async getApiQuota(accessToken: string, cgiPath: string, deadline?: number): Promise<ApiQuota> {
    const until = deadline ?? this.#clock.now() + this.#totalTimeoutMs;
    return this.#withRetries(until, {}, async (base, timeoutMs) => {
      const body = await this.#call('POST', this.#url(base, '/cgi-bin/openapi/quota/get', { access_token: accessToken }), JSON.stringify({ cgi_path: cgiPath }), timeoutMs);
      const ok = quotaResponse.safeParse(body);
      if (ok.success && !isError(body)) return { dailyLimit: ok.data.quota.daily_limit, used: ok.data.quota.used, remain: ok.data.quota.remain };
      throw this.#errorFrom(body, false);
    });
  }

  /** A JSON POST with this client's bases, retries and deadline (lib/wechat/component.ts); `parse` reads an answer without an errcode. */
  async postJson<T>(path: string, query: Record<string, string>, body: unknown, req: RequestHooks & { deadline?: number }, parse: (answer: unknown) => T | undefined, onTokenApi = false): Promise<T> {
    const deadline = req.deadline ?? this.#clock.now() + this.#totalTimeoutMs;
    return this.#withRetries(deadline, req, async (base, timeoutMs) => {
      const answer = await this.#call('POST', this.#url(base, path, query), JSON.stringify(body), timeoutMs);
      const ok = isError(answer) ? undefined : parse(answer);
      if (ok !== undefined) return ok;
      throw this.#errorFrom(answer, onTokenApi);
    });
  }

  #url(base: URL, path: string, query: Record<string, string>): URL {
    const url = new URL(path.replace(/^\//, ''), base.href.endsWith('/') ? base : `${base.href}/`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return url;
  }

  /**
   * Run `attempt` until it succeeds, against the bases in the order UpstreamBases gives. A base that
   * cannot be reached is followed at once (no backoff, not counted in `maxAttempts`) by the next base
   * not yet tried in this call; every other retry (an answer that says "later", or every base tried)
   * counts, backs off, and stays on the base that answered. No attempt starts after the deadline,
   * and none runs past it.
   */
  async #withRetries<T>(deadline: number, hooks: RequestHooks, attempt: (base: URL, timeoutMs: number) => Promise<T>): Promise<T> {
    const order = this.#bases.order();
    const tried = new Set<number>();
    let at = 0; // position in `order` of the base to use
    let unreachableBefore = false; // a base of this call could not be reached
    let counted = 0; // attempts counted against maxAttempts
    for (let n = 1; ; n++) {
      if (n > 1) await hooks.onRetry?.();
      const i = order[at]!;
      tried.add(i);
      const remaining = deadline - this.#clock.now();
      try {
        const result = await attempt(this.#bases.urls[i]!, Math.max(1, Math.min(this.#attemptTimeoutMs, remaining)));
        this.#bases.answered(i, unreachableBefore);
        return result;
      } catch (error) {
        if (error instanceof NetworkFailure) {
          if (error.reach === 'unsent') await Promise.resolve().then(() => hooks.onUnsent?.()).catch(() => undefined);
          if (error.reach !== undefined) {
            unreachableBefore = true;
            const next = order.findIndex((j) => !tried.has(j));
            if (next >= 0 && this.#clock.now() < deadline) {
              at = next;
              continue;
            }
            at = (at + 1) % order.length; // every base tried: the retry goes round the list
          }
        } else if (error instanceof WeChatError) {
          this.#bases.answered(i, unreachableBefore);
        }
        if (!(error instanceof RetryLaterError)) throw error;
        counted++;
        const backoff = this.#random() * Math.min(this.#backoffCapMs, this.#backoffBaseMs * 2 ** (counted - 1));
        if (counted >= this.#maxAttempts || this.#clock.now() + backoff >= deadline) throw error;
        await this.#clock.sleep(backoff);
      }
    }
  }

  async #call(method: 'GET' | 'POST', url: URL, body: string | undefined, timeoutMs: number): Promise<unknown> {
    let res: Exchange;
    try {
      res = await exchange(url, { method, body, headers: body === undefined ? {} : { 'content-type': 'application/json' }, timeoutMs });
    } catch (error) {
      throw error instanceof ExchangeError ? new NetworkFailure(error.message, reachOf(error.code)) : new NetworkFailure('network error', undefined);
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
