import type { HubApp } from '../apps.js';
import { UnknownAppError, UnknownKindError } from '../errors.js';
import type { KindCatalog } from '../kinds/catalog.js';
import type { CredentialKind } from '../kinds/kind.js';
import type { CredentialStore } from '../store/store.js';
import { authorizerFromRow, splitAuthorizerName } from './authorizers.js';
import { PRINCIPAL_TYPES } from './types.js';

/** How long a principal registered at run time (an authorizer) is taken as this container last read it. */
export const RUNTIME_PRINCIPAL_TTL_MS = 30_000;
/** How long "no such principal" is taken as read: shorter, so that an account that just authorized is found soon everywhere. */
const UNKNOWN_TTL_MS = 5_000;
/** How long past its time a copy is used when the store cannot be read. */
const STALE_IF_ERROR_MS = 10 * 60_000;
const MAX_LOADED = 10_000;

/** Where principals registered at run time are read from (the table's rows), and the clock of the cache. */
export interface RuntimePrincipals {
  store: Pick<CredentialStore, 'getPrincipal'>;
  now(): number;
}

/**
 * The principals one container serves, by name (docs/architecture.md, "Principals"): the configured
 * apps (HUB_APPS and the SSM apps path, which lib/principals/sync.ts also writes into the table),
 * the principals registered at run time (a platform's authorizers, `<platform>/<appid>`, read from
 * their rows and kept RUNTIME_PRINCIPAL_TTL_MS), and what each has of every kind
 * (lib/kinds/catalog.ts). `load` brings a runtime principal in; the other lookups answer from what
 * is in (a configured app is always in).
 */
export class PrincipalRegistry {
  readonly #apps = new Map<string, HubApp>();
  readonly #loaded = new Map<string, { app: HubApp | undefined; until: number }>();
  /**
   * Whether the list is whole: false while apps are configured in SSM and SSM has not been read
   * yet (a cold container that could not read it has HUB_APPS only). A principal missing from an
   * incomplete list is not taken to be gone.
   */
  complete = true;

  constructor(
    apps: readonly HubApp[],
    private readonly kinds: KindCatalog,
    private readonly runtime?: RuntimePrincipals,
  ) {
    for (const a of apps) this.#apps.set(a.name, a);
  }

  /** The apps changed (read again from SSM): the same protocol, store and caches serve the new list. */
  replace(apps: readonly HubApp[]): void {
    const next = new Map(apps.map((a) => [a.name, a]));
    if (next.size === this.#apps.size && [...next].every(([n, a]) => this.#apps.get(n) === a)) return;
    this.#apps.clear();
    for (const [n, a] of next) this.#apps.set(n, a);
    this.#loaded.clear();
  }

  /** The configured apps' names (runtime principals are listed from the table). */
  get names(): string[] {
    return [...this.#apps.keys()];
  }

  /**
   * The principal of this name, read from its row when it is registered at run time and this
   * container's copy is older than RUNTIME_PRINCIPAL_TTL_MS; undefined when there is none.
   */
  async load(name: string): Promise<HubApp | undefined> {
    const configured = this.#apps.get(name);
    if (configured || !this.runtime) return configured;
    const split = splitAuthorizerName(name);
    const platform = split && this.#apps.get(split.platform);
    if (!platform || platform.type !== 'platform') return undefined;
    const now = this.runtime.now();
    const cached = this.#loaded.get(name);
    if (cached && cached.until > now) return cached.app;
    let row;
    try {
      row = await this.runtime.store.getPrincipal(name);
    } catch (error) {
      // The store is down: the copy this container read lately stands a while (its token may be cached).
      if (cached?.app && cached.until + STALE_IF_ERROR_MS > now) return cached.app;
      throw error;
    }
    const app = row ? authorizerFromRow(row, platform) : undefined;
    this.#keep(name, { app, until: now + (app ? RUNTIME_PRINCIPAL_TTL_MS : UNKNOWN_TTL_MS) });
    return app;
  }

  /** This container registered or changed a runtime principal: it is served as it is now. */
  remember(app: HubApp): void {
    if (this.runtime) this.#keep(app.name, { app, until: this.runtime.now() + RUNTIME_PRINCIPAL_TTL_MS });
  }

  /** At most MAX_LOADED names (random appids asked for cannot grow a warm container's memory): the oldest go first. */
  #keep(name: string, entry: { app: HubApp | undefined; until: number }): void {
    this.#loaded.delete(name);
    this.#loaded.set(name, entry);
    if (this.#loaded.size > MAX_LOADED) this.#loaded.delete(this.#loaded.keys().next().value!);
  }

  has(name: string): boolean {
    return this.#lookup(name) !== undefined;
  }

  /** Whether it is a configured app (not registered at run time): metrics have a dimension per configured app only. */
  configured(name: string): boolean {
    return this.#apps.has(name);
  }

  /** The principal (configured, or loaded), or UnknownAppError. */
  get(name: string): HubApp {
    const app = this.#lookup(name);
    if (!app) throw new UnknownAppError(name);
    return app;
  }

  /** The kinds of a principal, in the order the tick refreshes them (a ticket after the token it is fetched with). */
  kindsOf(app: HubApp): readonly CredentialKind[] {
    return PRINCIPAL_TYPES[app.type].inactive?.(app) ? [] : this.kinds.kindsOf(app);
  }

  /** A principal's credential kind, or UnknownAppError / UnknownKindError (or why its type has none now: a revoked authorizer). */
  resolve(appName: string, kindId: string): { app: HubApp; kind: CredentialKind } {
    const app = this.get(appName);
    const inactive = PRINCIPAL_TYPES[app.type].inactive?.(app);
    if (inactive) throw inactive;
    const kind = this.kinds.kind(app, kindId);
    if (!kind) throw new UnknownKindError(app.name, app.type === 'website' ? `${kindId} (a website app has no token or ticket: its secret serves logins only)` : kindId);
    return { app, kind };
  }

  /** resolve(), or undefined when the principal or its kind is gone (the scheduler drops it from the index). */
  find(appName: string, kindId: string): { app: HubApp; kind: CredentialKind } | undefined {
    const app = this.#lookup(appName);
    const kind = app && this.kindsOf(app).find((k) => k.id === kindId);
    return app && kind ? { app, kind } : undefined;
  }

  #lookup(name: string): HubApp | undefined {
    return this.#apps.get(name) ?? this.#loaded.get(name)?.app;
  }
}
