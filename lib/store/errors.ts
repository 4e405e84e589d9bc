/** The store could not be reached or refused for a reason other than a condition. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(operation: string, cause: unknown) {
    const kind = cause instanceof Error ? cause.name : 'unknown';
    super(`credential store ${operation} failed (${kind})`, { cause });
  }
}
