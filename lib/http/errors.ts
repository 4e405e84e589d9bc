/** An error the HTTP edge shows to the caller as it is: status, a stable code, a plain message. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The key list could not be read or is invalid: no caller can be checked, so none is let in. */
export class KeysUnavailableError extends Error {
  override readonly name = 'KeysUnavailableError';
}
