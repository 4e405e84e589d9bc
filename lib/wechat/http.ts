/**
 * One HTTP exchange with WeChat, on Node's built-in fetch (undici inside Node: keep-alive, HTTP/1.1),
 * so that the Lambda bundles carry no HTTP library of their own. Errors never quote the URL (its
 * query may carry an AppSecret or a token): only the kind of failure.
 */
export interface Exchange {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** The host could not be reached, the connection broke, or no answer came within the time. */
export class ExchangeError extends Error {
  override readonly name = 'ExchangeError';
  constructor(readonly code: string) {
    super(`network error (${code})`);
  }
}

/** The largest answer kept: base64 of it still fits Lambda's 6 MB response. */
export const MAX_ANSWER_BYTES = 4.5 * 1024 * 1024;

export async function exchange(url: URL, init: { method: string; body?: string | Buffer; headers?: Record<string, string>; timeoutMs: number }): Promise<Exchange> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method,
      // A GET carries no body (fetch refuses one): what a caller sent with it is dropped.
      body: init.body === undefined || init.method === 'GET' || init.method === 'HEAD' ? undefined : typeof init.body === 'string' ? init.body : new Uint8Array(init.body),
      headers: init.headers,
      signal: AbortSignal.timeout(init.timeoutMs),
      redirect: 'manual',
    });
  } catch (error) {
    throw new ExchangeError(networkCode(error));
  }
  const declared = Number(res.headers.get('content-length'));
  if (declared > MAX_ANSWER_BYTES) {
    await res.body?.cancel().catch(() => undefined);
    throw new ExchangeError('answer_too_large');
  }
  try {
    const body = Buffer.from(await res.arrayBuffer());
    if (body.length > MAX_ANSWER_BYTES) throw new ExchangeError('answer_too_large');
    return { status: res.status, headers: res.headers, body };
  } catch (error) {
    if (error instanceof ExchangeError) throw error;
    throw new ExchangeError(networkCode(error));
  }
}

function networkCode(error: unknown): string {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 3; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, name, errors } = e as { code?: unknown; name?: unknown; errors?: unknown };
    if (typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code)) return code;
    if (typeof name === 'string' && /^(TimeoutError|AbortError)$/.test(name)) return name;
    // Node's connect tries every address of a host (autoSelectFamily) and reports an AggregateError.
    if (Array.isArray(errors) && errors.length > 0) {
      // Unsent only if no address took the request: otherwise the first code that says otherwise.
      const codes = errors.map((x) => networkCode(x));
      return codes.find((c) => reachOf(c) !== 'unsent') ?? codes[0]!;
    }
  }
  return error instanceof Error && /^[A-Za-z]{1,40}$/.test(error.name) ? error.name : 'unknown';
}

/**
 * What a failed exchange says about the server (README, "WeChat's disaster-recovery domain"):
 * - `unsent`: the request provably never reached a server: the connection was refused or could not
 *   be made, or the host's name did not resolve. Safe to send again anywhere, and WeChat counted nothing;
 * - `maybe_sent`: the host could not be reached in time or the connection broke (a timeout, a reset):
 *   WeChat may have received, counted and acted on the request;
 * - undefined: not a reachability failure (a refused URL, an answer too large): the host answered or
 *   would, another host would do no better.
 */
export type Reach = 'unsent' | 'maybe_sent';

const UNSENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'EAI_NODATA',
  'EAI_FAIL',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const MAYBE_SENT_CODES = new Set([
  'TimeoutError',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

export function reachOf(code: string): Reach | undefined {
  if (UNSENT_CODES.has(code)) return 'unsent';
  if (MAYBE_SENT_CODES.has(code)) return 'maybe_sent';
  return undefined;
}
