import { systemClock, type Clock } from '../clock.js';
import { basesOf, type BaseOption, type LastBase, type UpstreamBases } from './bases.js';
import { exchange, ExchangeError, reachOf, type Exchange } from './http.js';

export interface PassRequest {
  method: string;
  /** An already checked path on the API host (`/cgi-bin/message/custom/send`). */
  path: string;
  /** The query to send as it is (the access_token already set). */
  query: URLSearchParams;
  body?: Buffer;
  contentType?: string;
}

export interface PassResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** The host could not be reached or did not answer in time. */
export class PassthroughError extends Error {
  override readonly name = 'PassthroughError';
}

/** Headers of WeChat's answer that a caller needs (a media download's name and type); the rest stay here. */
const PASSED_HEADERS = ['content-type', 'content-disposition'];

export interface PassthroughOptions {
  /** The API host (a list: in the order of preference; or an UpstreamBases shared with the WeChatClient). */
  baseUrl: BaseOption;
  /** For the whole call, a failover included. */
  timeoutMs?: number;
  /** Times the call and the stickiness of a fallback; default the system clock. */
  clock?: Clock;
}

/**
 * Forwards one call to WeChat's (or WeCom's) API host, unchanged but for the token the caller
 * never holds. The hosts are fixed at construction: a caller chooses a path, never a host. A call
 * (sending a message, say) may not be safe to repeat, so it goes to the next base only when it
 * provably was not sent (connection refused, the name did not resolve), never after a timeout or a
 * reset. Never logs, and its errors never quote the URL (its query carries the access_token).
 */
export class WeChatPassthrough {
  readonly #bases: UpstreamBases;
  readonly #timeoutMs: number;
  readonly #clock: Clock;

  constructor(options: PassthroughOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#bases = basesOf(options.baseUrl, this.#clock);
    // Two calls and a forced refresh must fit in the proxy's 29 s Lambda (the compat function's 20 s).
    this.#timeoutMs = options.timeoutMs ?? 8_000;
  }

  /** The origin of the base that answered last (`https://api2.weixin.qq.com`), never a path or a query; undefined before any answer. */
  get lastBase(): string | undefined {
    return this.#bases.last.lastBase;
  }

  /** `lastBase` and since when (epoch ms by the clock) it has been the one answering. */
  get lastBaseInfo(): LastBase {
    return this.#bases.last;
  }

  async send(req: PassRequest): Promise<PassResponse> {
    const deadline = this.#clock.now() + this.#timeoutMs;
    const order = this.#bases.order();
    let res: Exchange | undefined;
    let served = 0;
    for (let k = 0; res === undefined; k++) {
      const i = order[k]!;
      const base = this.#bases.urls[i]!;
      const url = new URL(base.origin);
      url.pathname = `${base.pathname.replace(/\/$/, '')}${req.path}`;
      url.search = req.query.toString();
      try {
        const timeoutMs = Math.max(1, deadline - this.#clock.now());
        res = await exchange(url, { method: req.method, body: req.body, headers: req.contentType ? { 'content-type': req.contentType } : {}, timeoutMs });
        served = i;
      } catch (error) {
        const unsent = error instanceof ExchangeError && reachOf(error.code) === 'unsent';
        if (unsent && k + 1 < order.length && this.#clock.now() < deadline) continue;
        throw new PassthroughError(error instanceof ExchangeError && error.code === 'answer_too_large' ? 'WeChat\'s answer is larger than the 4.5 MB the hub can pass back' : 'WeChat could not be reached');
      }
    }
    this.#bases.answered(served, served !== order[0]);
    const headers: Record<string, string> = {};
    for (const h of PASSED_HEADERS) {
      const v = res.headers.get(h);
      if (v !== null) headers[h] = v;
    }
    return { status: res.status, headers, body: res.body };
  }
}
