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

/** The day's budget of forced refreshes for this app is spent. */
export class ForcedBudgetExhaustedError extends Error {
  override readonly name = 'ForcedBudgetExhaustedError';
  constructor(readonly app: string) {
    super(`the forced-refresh budget of app ${app} is spent for today`);
  }
}

/** The row already counts as many calls as its limit allows. */
export class QuotaLimitError extends Error {
  override readonly name = 'QuotaLimitError';
  constructor(readonly app: string, readonly api: string) {
    super(`the ${api} limit of ${app} is reached for this period`);
  }
}
