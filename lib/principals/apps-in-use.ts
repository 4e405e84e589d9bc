import type { Logger } from '@aws-lambda-powertools/logger';
import type { HubApp } from '../apps.js';
import type { AppConfig } from '../config.js';
import type { CredentialStore } from '../store/store.js';
import type { PrincipalRegistry } from './registry.js';
import { syncPrincipals, type Configured } from './sync.js';

/**
 * The configured apps one container serves (HUB_APPS, and the SSM apps path read at run time and
 * merged in), kept in the registry and synced into the principal rows and the due index
 * (lib/principals/sync.ts: one read when nothing changed, once per list in this container). Until
 * SSM has been read once the list is not known to be whole: nothing is synced, and the tick takes
 * nothing out of the due index.
 */
export class AppsInUse {
  readonly #fixed: HubApp[];
  #apps: readonly HubApp[];
  /** The list last synced into the principal rows (by identity: the SSM reader keeps its list until it changes). */
  #synced: { apps: readonly HubApp[]; done: Promise<void> } | undefined;

  constructor(
    private readonly d: {
      registry: PrincipalRegistry;
      store: CredentialStore;
      log: Logger;
      now: () => number;
      fromSsm: (() => Promise<HubApp[] | undefined>) | undefined;
    },
    fixed: readonly HubApp[],
    /** The configuration each app was built from (its principal row's document). */
    private readonly configOf: (app: HubApp) => AppConfig | undefined,
  ) {
    this.#fixed = [...fixed];
    this.#apps = this.#fixed;
    d.registry.complete = !d.fromSsm;
  }

  get list(): readonly HubApp[] {
    return this.#apps;
  }

  /** The apps from SSM, merged with HUB_APPS (the list in use stays when SSM cannot be read). */
  async refresh(): Promise<void> {
    if (!this.d.fromSsm) return;
    const fromSsm = await this.d.fromSsm();
    if (!fromSsm) return;
    const byName = new Map<string, HubApp>();
    for (const a of this.#fixed) byName.set(a.name, a);
    for (const a of fromSsm) {
      if (byName.has(a.name)) this.d.log.error('an app in SSM has the name of an app in HUB_APPS; the SSM one is ignored', { app: a.name });
      else byName.set(a.name, a);
    }
    const next = [...byName.values()];
    this.d.registry.replace(next);
    this.d.registry.complete = true;
    if (next.length !== this.#apps.length || next.some((a, i) => a !== this.#apps[i])) this.#apps = next;
  }

  /** refresh(), then the principal rows and the due index in line with the list (a failure is logged and tried again next time). */
  async sync(): Promise<void> {
    await this.refresh();
    await this.#sync().catch((error: unknown) => {
      this.d.log.warn('could not sync the principal rows; trying again on the next request', { error: error instanceof Error ? error.name : 'unknown' });
    });
  }

  #sync(): Promise<void> {
    if (!this.d.registry.complete) return Promise.resolve();
    if (this.#synced?.apps === this.#apps) return this.#synced.done;
    const apps = this.#apps;
    const configured: Configured[] = apps.flatMap((app) => {
      const config = this.configOf(app);
      return config ? [{ app, config }] : [];
    });
    const done = syncPrincipals(this.d.store, configured, (a) => this.d.registry.kindsOf(a), this.d.now(), this.d.log).then(
      () => undefined,
      (error) => {
        if (this.#synced?.done === done) this.#synced = undefined;
        throw error;
      },
    );
    this.#synced = { apps, done };
    return done;
  }
}
