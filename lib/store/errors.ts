import { HubError } from '../errors.js';

/** The store could not be reached or refused for a reason other than a condition (503; the caller is not told which). */
export class StoreUnavailableError extends HubError {
  override readonly name = 'StoreUnavailableError';
  constructor(operation: string, cause: unknown) {
    const kind = cause instanceof Error ? cause.name : 'unknown';
    super(`credential store ${operation} failed (${kind})`, {
      status: 503, code: 'store_unavailable', expose: false, publicMessage: 'the token store is unavailable; try again shortly', headers: { 'retry-after': '2' },
    }, { cause });
  }
}
