import type { HubApp } from '../apps.js';
import { UnknownAppError, UnknownKindError } from '../errors.js';
import type { KindCatalog } from '../kinds/catalog.js';
import type { CredentialKind } from '../kinds/kind.js';

/**
 * The principals one container serves, by name (docs/architecture.md, "Principals"): the configured
 * apps (HUB_APPS and the SSM apps path, which lib/principals/sync.ts also writes into the table),
 * and what each has of every kind (lib/kinds/catalog.ts).
 */
export class PrincipalRegistry {
  readonly #apps = new Map<string, HubApp>();
  /**
   * Whether the list is whole: false while apps are configured in SSM and SSM has not been read
   * yet (a cold container that could not read it has HUB_APPS only). A principal missing from an
   * incomplete list is not taken to be gone.
   */
  complete = true;

  constructor(
    apps: readonly HubApp[],
    private readonly kinds: KindCatalog,
  ) {
    for (const a of apps) this.#apps.set(a.name, a);
  }

  /** The apps changed (read again from SSM): the same protocol, store and caches serve the new list. */
  replace(apps: readonly HubApp[]): void {
    const next = new Map(apps.map((a) => [a.name, a]));
    if (next.size === this.#apps.size && [...next].every(([n, a]) => this.#apps.get(n) === a)) return;
    this.#apps.clear();
    for (const [n, a] of next) this.#apps.set(n, a);
  }

  get names(): string[] {
    return [...this.#apps.keys()];
  }

  has(name: string): boolean {
    return this.#apps.has(name);
  }

  /** The principal, or UnknownAppError. */
  get(name: string): HubApp {
    const app = this.#apps.get(name);
    if (!app) throw new UnknownAppError(name);
    return app;
  }

  /** The kinds of a principal, in the order the tick refreshes them (a ticket after the token it is fetched with). */
  kindsOf(app: HubApp): readonly CredentialKind[] {
    return this.kinds.kindsOf(app);
  }

  /** A principal's credential kind, or UnknownAppError / UnknownKindError. */
  resolve(appName: string, kindId: string): { app: HubApp; kind: CredentialKind } {
    const app = this.get(appName);
    const kind = this.kinds.kind(app, kindId);
    if (!kind) throw new UnknownKindError(app.name, app.type === 'website' ? `${kindId} (a website app has no token or ticket: its secret serves logins only)` : kindId);
    return { app, kind };
  }

  /** resolve(), or undefined when the principal or its kind is gone (the scheduler drops it from the index). */
  find(appName: string, kindId: string): { app: HubApp; kind: CredentialKind } | undefined {
    const app = this.#apps.get(appName);
    const kind = app && this.kinds.kind(app, kindId);
    return app && kind ? { app, kind } : undefined;
  }
}
