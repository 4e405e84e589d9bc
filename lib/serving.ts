import { ReadCache } from './read-cache.js';
import type { CredentialItem } from './store/store.js';

/**
 * A credential as served: the value (an access_token or a ticket), when WeChat expires it, and when
 * the hub will replace it (`renewAt`: every answer's `expires_in` counts down to this, see
 * policy.ts servedSeconds).
 */
export interface Served {
  value: string;
  expiresAt: number;
  renewAt: number;
}

/**
 * What one container remembers of the values it served: a short read cache (never past the value's
 * renewal), and the last value served per credential, kept past the cache for stale-if-error reads
 * while the store is down. Both forget a value as soon as a caller reports it dead.
 */
export class ServedValues {
  readonly #cache = new ReadCache<Served>();
  /** The last value served, with the fingerprint of the secret it was fetched with. */
  readonly #last = new Map<string, { served: Served; source: string | undefined }>();

  constructor(private readonly settings: { cacheTtlMs: number; minServeMs: number }) {}

  cached(key: string, now: number): Served | undefined {
    return this.#cache.get(key, now);
  }

  /** Serve `item` (a servable one) and remember it. */
  serve(key: string, item: CredentialItem, renewAt: number, now: number): Served {
    const served = { value: item.value!, expiresAt: item.expiresAt!, renewAt };
    this.#last.set(key, { served, source: item.secretFingerprint });
    const until = Math.min(now + this.settings.cacheTtlMs, served.expiresAt - this.settings.minServeMs, renewAt);
    this.#cache.set(key, served, now, until);
    return served;
  }

  /**
   * Stale-if-error: the value this container last served, if it still has more than MIN_SERVE to
   * live and was fetched with the current secret (a replaced AppSecret's token is never served,
   * even while the store cannot be asked).
   */
  lastGood(key: string, source: string | undefined, now: number): Served | undefined {
    const last = this.#last.get(key);
    if (!last || last.served.expiresAt - now <= this.settings.minServeMs) return undefined;
    if (source !== undefined && last.source !== undefined && source !== last.source) return undefined;
    return last.served;
  }

  /** A refresh is about to replace the value: the next read asks the store. */
  invalidate(key: string): void {
    this.#cache.delete(key);
  }

  /** A caller reported `value` dead: neither the cache nor stale-if-error serves it again. */
  forget(key: string, value: string): void {
    this.#cache.delete(key);
    if (this.#last.get(key)?.served.value === value) this.#last.delete(key);
  }
}
