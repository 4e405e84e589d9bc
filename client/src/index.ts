/**
 * wechat-token-hub client: what a service needs to use the hub instead of fetching its own tokens.
 * No dependencies (it uses the runtime's fetch: Node 18+, Deno, Bun, browsers' workers), no AWS.
 *
 *   import { createTokenHubClient } from 'wechat-token-hub/client';
 *   const hub = createTokenHubClient({ baseUrl: process.env.HUB_URL, apiKey: process.env.HUB_KEY });
 *   const result = await hub.withAccessToken('shop', (token) => callWeChat(token));
 */

export type TicketType = 'jsapi' | 'wx_card' | 'agent_config';

export interface TokenHubClientOptions {
  /** The hub's URL, e.g. https://abc123.execute-api.ap-east-1.amazonaws.com */
  baseUrl: string;
  /** A hub API key (`npm run key`), with the `read` scope (and `refresh` for withAccessToken's healing). */
  apiKey: string;
  /** One request to the hub, in ms. Default 5000. */
  timeoutMs?: number;
  /**
   * A value is reused for the `expires_in` the hub answered (the seconds until the hub replaces it;
   * WeChat keeps the old one valid 5 minutes past that), and, when this is set, also no later than
   * this many seconds before it expires. Default: unset.
   */
  reuseUntilSecondsBeforeExpiry?: number;
  /**
   * A value the hub answers with no time left before its renewal (only when `reuseUntilSecondsBeforeExpiry`
   * leaves none) is reused at most this many seconds. Default 30. (A value past its renewal whose
   * refresh failed comes with `expires_in` of at most 300: the 5 minutes WeChat still accepts it.)
   */
  shortReuseSeconds?: number;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Epoch ms; tests set it. */
  now?: () => number;
}

/** What wx.config takes (and, for a WeCom app, wx.agentConfig under `agentConfig`). */
export interface JsapiSignature {
  appId: string;
  timestamp: number;
  nonceStr: string;
  signature: string;
  agentConfig?: { corpid: string; agentid: number; timestamp: number; nonceStr: string; signature: string };
}

export interface TokenHubClient {
  /** The app's access_token: from this process's cache, or from the hub (one request per app at a time). */
  getAccessToken(app: string): Promise<string>;
  /** A JS-SDK ticket of the app, cached the same way. */
  getTicket(app: string, type: TicketType): Promise<string>;
  /** The signature of a page URL (absolute http(s); the fragment is dropped by the hub). */
  getJsapiSignature(app: string, url: string): Promise<JsapiSignature>;
  /** WeChat said `staleToken` is invalid: the hub's guarded forced refresh. Resolves to the token to use now. */
  refreshAccessToken(app: string, staleToken: string): Promise<string>;
  /**
   * Calls `fn(token)`. When its result, or the error it throws, carries errcode 40001, 40014 or
   * 42001, the token is refreshed through the hub (with that token as the stale one) and `fn` is
   * called once more with the new one.
   */
  withAccessToken<T>(app: string, fn: (accessToken: string) => Promise<T>): Promise<T>;
}

/** The hub answered with an error (`code` is the hub's error code; `errcode` WeChat's, when WeChat refused). */
export class TokenHubError extends Error {
  override readonly name: string = 'TokenHubError';
  constructor(
    message: string,
    /** HTTP status; 0 when the hub could not be reached. */
    readonly status: number,
    readonly code: string,
    readonly errcode?: number,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** The hub did not answer within `timeoutMs`. */
export class TokenHubTimeoutError extends TokenHubError {
  override readonly name = 'TokenHubTimeoutError';
}

/** WeChat's "this token is invalid or expired" (WxJava and wechatpy react to exactly these). */
const TOKEN_ERRCODES = new Set([40001, 40014, 42001]);

interface Cached {
  value: string;
  expiresAt: number;
  reuseUntil: number;
}

export function createTokenHubClient(options: TokenHubClientOptions): TokenHubClient {
  if (!/^https?:\/\//.test(options.baseUrl ?? '')) throw new TypeError('baseUrl must be the hub\'s http(s) URL');
  if (!options.apiKey) throw new TypeError('apiKey is required');
  const base = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 5_000;
  const reuseBeforeMs = options.reuseUntilSecondsBeforeExpiry === undefined ? undefined : options.reuseUntilSecondsBeforeExpiry * 1000;
  const shortReuseMs = (options.shortReuseSeconds ?? 30) * 1000;
  const doFetch = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const cache = new Map<string, Cached>();
  const inFlight = new Map<string, Promise<string>>();

  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<any> {
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${options.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const name = (error as { name?: string } | null)?.name;
      if (name === 'TimeoutError' || name === 'AbortError') throw new TokenHubTimeoutError(`the hub did not answer within ${timeoutMs} ms`, 0, 'timeout');
      throw new TokenHubError('the hub could not be reached', 0, 'unreachable');
    }
    let parsed: any;
    try {
      parsed = await res.json();
    } catch {
      throw new TokenHubError(`the hub answered ${res.status} without JSON`, res.status, 'invalid_response');
    }
    if (!res.ok) {
      const e = parsed?.error ?? {};
      const retry = Number(res.headers.get('retry-after'));
      throw new TokenHubError(String(e.message ?? `HTTP ${res.status}`), res.status, String(e.code ?? 'error'), typeof e.errcode === 'number' ? e.errcode : undefined, Number.isFinite(retry) && retry > 0 ? retry : undefined);
    }
    return parsed;
  }

  function remember(key: string, value: string, a: { expires_in: number; expires_at: string }): string {
    const t = now();
    const expiresAt = Date.parse(a.expires_at);
    let until = t + a.expires_in * 1000;
    if (reuseBeforeMs !== undefined) until = Math.min(until, expiresAt - reuseBeforeMs);
    const reuseUntil = until > t ? until : Math.min(t + shortReuseMs, expiresAt);
    cache.set(key, { value, expiresAt, reuseUntil });
    return value;
  }

  /** The cached value, or one request to the hub shared by every caller of this process. */
  function cached(key: string, load: () => Promise<{ value: string; life: { expires_in: number; expires_at: string } }>): Promise<string> {
    const hit = cache.get(key);
    if (hit && now() < hit.reuseUntil) return Promise.resolve(hit.value);
    let pending = inFlight.get(key);
    if (!pending) {
      pending = load()
        .then((v) => remember(key, v.value, v.life))
        .finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  }

  const seg = (s: string) => encodeURIComponent(s);

  const client: TokenHubClient = {
    getAccessToken(app) {
      return cached(`${app}#access_token`, async () => {
        const a = await call('GET', `/v1/apps/${seg(app)}/access-token`);
        return { value: a.access_token, life: a };
      });
    },

    getTicket(app, type) {
      return cached(`${app}#${type}`, async () => {
        const a = await call('GET', `/v1/apps/${seg(app)}/tickets/${seg(type)}`);
        return { value: a.ticket, life: a };
      });
    },

    async getJsapiSignature(app, url) {
      return (await call('POST', `/v1/apps/${seg(app)}/jsapi-signature`, { url })) as JsapiSignature;
    },

    async refreshAccessToken(app, staleToken) {
      const key = `${app}#access_token#refresh`;
      let pending = inFlight.get(key);
      if (!pending) {
        pending = call('POST', `/v1/apps/${seg(app)}/access-token/refresh`, { stale_token: staleToken })
          .then((a) => remember(`${app}#access_token`, a.access_token, a))
          .finally(() => inFlight.delete(key));
        inFlight.set(key, pending);
      }
      return pending;
    },

    async withAccessToken(app, fn) {
      const token = await client.getAccessToken(app);
      let result: Awaited<ReturnType<typeof fn>>;
      try {
        result = await fn(token);
      } catch (error) {
        if (!TOKEN_ERRCODES.has(errcodeOf(error) ?? 0)) throw error;
        const fresh = await client.refreshAccessToken(app, token);
        if (fresh === token) throw error; // WeChat still accepts it: the error was about something else
        return fn(fresh);
      }
      if (!TOKEN_ERRCODES.has(errcodeOf(result) ?? 0)) return result;
      const fresh = await client.refreshAccessToken(app, token);
      return fresh === token ? result : fn(fresh);
    },
  };
  return client;
}

/** WeChat's errcode in an answer body or an SDK's error (`errcode`, or a numeric `code`). */
function errcodeOf(v: unknown): number | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as { errcode?: unknown; code?: unknown };
  if (typeof o.errcode === 'number') return o.errcode;
  if (typeof o.code === 'number') return o.code;
  return undefined;
}
