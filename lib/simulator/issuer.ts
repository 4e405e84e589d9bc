import { randomBytes } from 'node:crypto';

/** One issued credential (a token or a ticket) and when it stops being accepted. */
export interface Issued {
  value: string;
  expiresAt: number;
}

/**
 * One credential slot of an app (WeChat's classic token, a jsapi ticket, a WeCom token...): the latest
 * value, plus earlier values still accepted for an overlap after a newer one was issued.
 */
export class Credential {
  #current?: Issued;
  #previous: Issued[] = [];

  /** @param keepPrevious how many earlier values stay accepted (WeChat: 1, the one before the latest). */
  constructor(readonly keepPrevious = 1) {}

  /** The latest value, expired or not. */
  get current(): Issued | undefined {
    return this.#current;
  }

  /**
   * Issue a new latest value. Earlier values stay valid for `overlapMs` (never past their own expiry);
   * when the latest had already expired, nothing earlier survives.
   */
  issue(value: string, now: number, ttlMs: number, overlapMs: number): Issued {
    const cur = this.#current;
    if (cur && cur.expiresAt > now) {
      const earlier = [cur, ...this.#previous].filter((p) => p.expiresAt > now);
      this.#previous = earlier.slice(0, this.keepPrevious).map((p) => ({ value: p.value, expiresAt: Math.min(p.expiresAt, now + overlapMs) }));
    } else {
      this.#previous = [];
    }
    this.#current = { value, expiresAt: now + ttlMs };
    return this.#current;
  }

  /** The latest value if it has not expired. */
  live(now: number): string | undefined {
    return this.#current && this.#current.expiresAt > now ? this.#current.value : undefined;
  }

  isValid(value: string, now: number): boolean {
    return [this.#current, ...this.#previous].some((i) => i?.value === value && i.expiresAt > now);
  }

  /** Whether the slot still remembers this value (the latest or a kept earlier one), valid or not. */
  holds(value: string): boolean {
    return this.#current?.value === value || this.#previous.some((i) => i.value === value);
  }

  /** No value stays accepted past `until` (each keeps its own earlier expiry). */
  expireBy(until: number): void {
    const cap = (i: Issued): Issued => ({ value: i.value, expiresAt: Math.min(i.expiresAt, until) });
    if (this.#current) this.#current = cap(this.#current);
    this.#previous = this.#previous.map(cap);
  }

  /** Forget every value at once: none is accepted any more. */
  revoke(): void {
    this.#current = undefined;
    this.#previous = [];
  }
}

/** Shaped like WeChat's: a numeric prefix, then URL-safe characters; well under 512. */
export function newWeChatToken(): string {
  return `${90 + Math.floor(Math.random() * 9)}_${randomBytes(96).toString('base64url')}`;
}

/** Shaped like WeCom's: URL-safe characters only, well under 512 bytes. */
export function newWeComToken(): string {
  return randomBytes(144).toString('base64url');
}

/** Shaped like a JS-SDK ticket: 86 URL-safe characters, [A-Za-z0-9_-]. */
export function newTicket(): string {
  return randomBytes(64).toString('base64url');
}
