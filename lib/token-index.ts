import type { Clock } from './clock.js';
import { tokenHash } from './identify.js';
import type { Served } from './serving.js';
import type { CredentialStore } from './store/store.js';

/**
 * The token-hash index as the compat paths use it (docs/compat.md): which credential issued a
 * value an SDK sends (one read, whatever the number of apps), and the values this container serves
 * put into it when they were written before the index existed. Values are kept as their SHA-256.
 */
export class TokenIndex {
  /** Values this container put into the index (ensureIndexed). */
  readonly #indexedHere = new Set<string>();

  constructor(
    private readonly store: CredentialStore,
    private readonly clock: Clock,
  ) {}

  /** Which credential issued `value`, while it is within its life; undefined for a value the hub never issued. */
  async issuerOf(value: string): Promise<{ app: string; kind: string } | undefined> {
    const entry = await this.store.lookupToken(tokenHash(value));
    return entry && entry.until > this.clock.now() ? { app: entry.app, kind: entry.kind } : undefined;
  }

  /** Put a value this container serves into the index, once per value (values written before the index existed). */
  async ensureIndexed(appName: string, kindId: string, served: Served): Promise<void> {
    const hash = tokenHash(served.value);
    if (this.#indexedHere.has(hash)) return;
    await this.store.indexToken(hash, { app: appName, kind: kindId, until: served.expiresAt });
    if (this.#indexedHere.size >= 5_000) this.#indexedHere.clear();
    this.#indexedHere.add(hash);
  }
}
