import type { Clock } from '../clock.js';

/** How long a fallback is tried first after the base before it was unreachable (60 s). */
export const DEFAULT_STICKY_MS = 60_000;

/** Which base last answered: its origin (never a path or a query), and since when it has been that one. */
export interface LastBase {
  /** e.g. `https://api2.weixin.qq.com`; undefined until a base has answered. */
  lastBase: string | undefined;
  /** Epoch ms (by the clock given) of the first answer from `lastBase` after one from another base. */
  since: number | undefined;
}

/**
 * One platform's API bases in the order of preference (`https://api.weixin.qq.com`, then the
 * disaster-recovery `https://api2.weixin.qq.com`), and which to try first right now. A
 * WeChatClient and a WeChatPassthrough of one platform may share one, so that what one of them
 * learns (the primary is down) the other uses at once, and `lastBase` is the platform's.
 *
 * The rule: the bases are tried in list order. When a base was unreachable and a later one
 * answered, that one is tried first for `stickyMs` (by the clock), then the list order again.
 */
export class UpstreamBases {
  /** The bases, as given (a path prefix kept: a simulator or a gateway may sit below one). */
  readonly urls: readonly URL[];
  readonly #clock: Clock;
  readonly #stickyMs: number;
  #preferred = 0;
  #preferredUntil = 0;
  #last: LastBase = { lastBase: undefined, since: undefined };

  constructor(bases: readonly string[], options: { clock: Clock; stickyMs?: number }) {
    if (bases.length === 0) throw new TypeError('UpstreamBases: at least one base URL is required');
    this.urls = bases.map((b) => {
      const url = new URL(b);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError('UpstreamBases: a base must be an http(s) URL');
      if (url.search || url.hash || url.username || url.password) throw new TypeError('UpstreamBases: a base must have no query, fragment or credentials');
      return url;
    });
    this.#clock = options.clock;
    this.#stickyMs = options.stickyMs ?? DEFAULT_STICKY_MS;
  }

  /** The indexes of `urls` in the order to try them now: the preferred first, the others after it, cyclically. */
  order(): number[] {
    const start = this.#clock.now() < this.#preferredUntil ? this.#preferred : 0;
    return this.urls.map((_, k) => (start + k) % this.urls.length);
  }

  /**
   * Base `i` answered (any HTTP answer, whatever it says). `afterUnreachable`: in the same call an
   * earlier base could not be reached, so `i` becomes the one to try first (for `stickyMs`; the first
   * of the list for good).
   */
  answered(i: number, afterUnreachable: boolean): void {
    const now = this.#clock.now();
    if (afterUnreachable) {
      this.#preferred = i;
      this.#preferredUntil = i === 0 ? 0 : now + this.#stickyMs;
    }
    const origin = this.urls[i]!.origin;
    if (this.#last.lastBase !== origin) this.#last = { lastBase: origin, since: now };
  }

  /** The origin of the base that answered last (in this process), and since when. */
  get last(): LastBase {
    return { ...this.#last };
  }
}

/** One base URL, a list, or a shared UpstreamBases, as the client and the pass-through take them. */
export type BaseOption = string | readonly string[] | UpstreamBases;

export function basesOf(option: BaseOption, clock: Clock): UpstreamBases {
  if (option instanceof UpstreamBases) return option;
  return new UpstreamBases(typeof option === 'string' ? [option] : option, { clock });
}
