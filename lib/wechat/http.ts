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
    const { code, name } = e as { code?: unknown; name?: unknown };
    if (typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code)) return code;
    if (typeof name === 'string' && /^(TimeoutError|AbortError)$/.test(name)) return name;
  }
  return error instanceof Error && /^[A-Za-z]{1,40}$/.test(error.name) ? error.name : 'unknown';
}
