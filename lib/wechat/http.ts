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

export async function exchange(url: URL, init: { method: string; body?: string | Buffer; headers?: Record<string, string>; timeoutMs: number }): Promise<Exchange> {
  try {
    const res = await fetch(url, {
      method: init.method,
      body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : new Uint8Array(init.body),
      headers: init.headers,
      signal: AbortSignal.timeout(init.timeoutMs),
      redirect: 'manual',
    });
    return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
  } catch (error) {
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
