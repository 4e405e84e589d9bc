import { exchange, ExchangeError } from './http.js';

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

/**
 * Forwards one call to WeChat's (or WeCom's) API host, unchanged but for the token the caller
 * never holds. The host is fixed at construction: a caller chooses a path, never a host. Never
 * logs, and its errors never quote the URL (its query carries the access_token).
 */
export class WeChatPassthrough {
  readonly #base: URL;
  readonly #timeoutMs: number;

  constructor(options: { baseUrl: string; timeoutMs?: number }) {
    this.#base = new URL(options.baseUrl);
    // Two calls and a forced refresh must fit in the proxy's 29 s Lambda (the compat function's 20 s).
    this.#timeoutMs = options.timeoutMs ?? 8_000;
  }

  async send(req: PassRequest): Promise<PassResponse> {
    const url = new URL(this.#base.origin);
    url.pathname = `${this.#base.pathname.replace(/\/$/, '')}${req.path}`;
    url.search = req.query.toString();
    let res;
    try {
      res = await exchange(url, { method: req.method, body: req.body, headers: req.contentType ? { 'content-type': req.contentType } : {}, timeoutMs: this.#timeoutMs });
    } catch (error) {
      throw new PassthroughError(error instanceof ExchangeError && error.code === 'answer_too_large' ? 'WeChat\'s answer is larger than the 4.5 MB the hub can pass back' : 'WeChat could not be reached');
    }
    const headers: Record<string, string> = {};
    for (const h of PASSED_HEADERS) {
      const v = res.headers.get(h);
      if (v !== null) headers[h] = v;
    }
    return { status: res.status, headers, body: res.body };
  }
}
