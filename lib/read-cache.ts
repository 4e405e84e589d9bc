/**
 * What one container keeps between requests: served values for a short while, and the refreshes
 * in flight, so that callers in this container asking for the same refresh share one promise
 * (golang.org/x/oauth2's ReuseTokenSource, as a wrapper that knows nothing of any kind).
 */
export class ReadCache<T> {
  readonly #entries = new Map<string, { value: T; until: number }>();

  get(key: string, now: number): T | undefined {
    const hit = this.#entries.get(key);
    return hit && now < hit.until ? hit.value : undefined;
  }

  /** Keep `value` until `until` (nothing is kept when that is not in the future). */
  set(key: string, value: T, now: number, until: number): void {
    if (until > now) this.#entries.set(key, { value, until });
    else this.#entries.delete(key);
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}

export class SingleFlight<T> {
  readonly #inFlight = new Map<string, Promise<T>>();

  /** Run `work` unless a run under `key` is in flight; a joiner gets `joined(result)` of that run. */
  run(key: string, work: () => Promise<T>, joined: (result: T) => T = (r) => r): Promise<T> {
    const existing = this.#inFlight.get(key);
    if (existing) return existing.then(joined);
    const p = work().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, p);
    return p;
  }
}
