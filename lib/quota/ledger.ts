import { ForcedRefreshBudgetError, UpstreamLimitError } from '../errors.js';
import type { CredentialStore, QuotaCall, QuotaCount, QuotaRefusal } from '../store/store.js';
import { nextHourStart, nextQuotaDayStart, quotaDay, quotaHour } from './periods.js';

/** One row an upstream call is counted in before it is made. */
export interface QuotaCharge {
  /** Whose quota: an app's name, or `corp:<corpid>` for a limit WeCom keeps per corp. */
  scope: string;
  /** The upstream API (`token`, `ticket_jsapi`, `wecom_ticket`, …). */
  api: string;
  /** `day`: the quota day in China time; `hour`: any 60 minutes (two clock hours are checked together). */
  period: 'day' | 'hour';
  /** WeChat's own limit: the hub never makes the call that would exceed it. */
  limit?: number;
  /** A forced refresh spends this budget too (refused once spent). */
  forcedBudget?: number;
  /** What the limit is, for the refusal's message. */
  limitName?: string;
  /**
   * WeChat's own limit where the hub does not enforce one (the token API's 2000 a day): shown in the
   * status view and alarmed on at 80 %, never used to refuse.
   */
  knownLimit?: number;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;

/**
 * The quota ledger (docs/protocol.md): every upstream call is counted as it is made, in one
 * row per scope, API and period, with conditional ADDs so that concurrent containers cannot pass a
 * limit together. An hourly limit is held over any 60 minutes, not only per clock hour: a call is
 * allowed only while this hour's and the previous hour's counts together stay under it, which is
 * stricter than WeChat needs but can never trip it (its window's exact shape is not documented).
 */
export class Ledger {
  readonly #store: CredentialStore;
  readonly #onCounted: ((charge: QuotaCharge, count: QuotaCount) => void) | undefined;

  /** `onCounted`: each row's count after a call was counted in it (the quota gauges come from here, not from reads). */
  constructor(store: CredentialStore, onCounted?: (charge: QuotaCharge, count: QuotaCount) => void) {
    this.#store = store;
    this.#onCounted = onCounted;
  }

  /**
   * Count the call in every row, in order, as it is made; when one refuses, the counts already made
   * are taken back. Resolves to the rows counted, for refund().
   */
  async charge(charges: readonly QuotaCharge[], now: number): Promise<QuotaCall[]> {
    return this.#countEach(charges, now, (c) => c);
  }

  /**
   * Take back one counted call (it never reached WeChat, e.g. the connection was refused), so that
   * the ledger equals WeChat's own count. Best effort: a count that cannot be taken back errs on
   * the side of spending less.
   */
  async refund(counted: readonly QuotaCall[]): Promise<void> {
    for (const call of [...counted].reverse()) await this.#store.uncountUpstreamCall(call).catch(() => undefined);
  }

  /**
   * Count one more call of a fetch already charged (a retry: WeChat counts every call). No budget
   * applies (the fetch was allowed, and a retry within its deadline is part of it), but an hourly
   * limit WeChat enforces by blocking still does: past it the retry is not made. Rows counted before
   * a refusal are taken back.
   */
  async recount(charges: readonly QuotaCharge[], now: number): Promise<QuotaCall[]> {
    return this.#countEach(charges, now, (c) => ({ ...c, forcedBudget: undefined, limit: c.period === 'hour' ? c.limit : undefined }));
  }

  /** Count one call in every row (as `asCounted` makes it), in order; when one refuses, the counts already made are taken back. */
  async #countEach(charges: readonly QuotaCharge[], now: number, asCounted: (c: QuotaCharge) => QuotaCharge): Promise<QuotaCall[]> {
    const done: QuotaCall[] = [];
    let refused: Error | undefined;
    try {
      for (const c of charges) {
        const call = await this.#call(asCounted(c), now);
        const counted = 'refused' in call ? call : await this.#store.countUpstreamCall(call);
        if ('refused' in counted) {
          refused = this.#refusal(counted, c, now);
          break;
        }
        done.push(call as QuotaCall); // counted, so a call (not the previous hour's refusal)
        this.#onCounted?.(c, counted);
      }
    } catch (error) {
      await this.refund(done);
      throw error;
    }
    if (refused === undefined) return done;
    await this.refund(done);
    throw refused;
  }

  /** The row this charge counts in now, or a refusal when the previous hour already spent the hourly limit. */
  async #call(c: QuotaCharge, now: number): Promise<QuotaCall | QuotaRefusal> {
    const hourly = c.period === 'hour';
    const period = hourly ? quotaHour(now) : quotaDay(now);
    const ttl = Math.floor((hourly ? nextHourStart(now) + DAY : nextQuotaDayStart(now) + 2 * DAY) / 1000);
    let limit = c.limit;
    if (hourly && limit !== undefined) {
      const previous = await this.#store.readQuota(c.scope, c.api, quotaHour(now - HOUR));
      limit = Math.max(0, limit - previous.count);
      if (limit === 0) return { refused: 'limit' };
    }
    return { app: c.scope, api: c.api, period, forcedBudget: c.forcedBudget, limit, ttl };
  }

  /** The hub's error for a refusal of the row `c` (the charge as the caller gave it, with its limit's name). */
  #refusal(refusal: QuotaRefusal, c: QuotaCharge, now: number): Error {
    if (refusal.refused === 'forced_budget') return new ForcedRefreshBudgetError(secondsUntil(nextQuotaDayStart(now), now));
    const until = c.period === 'hour' ? nextHourStart(now) : nextQuotaDayStart(now);
    return new UpstreamLimitError(
      secondsUntil(until, now),
      `${c.limitName ?? 'an upstream limit'} is reached; the hub will not exceed it`,
    );
  }
}

function secondsUntil(at: number, now: number): number {
  return Math.max(1, Math.ceil((at - now) / 1000));
}
