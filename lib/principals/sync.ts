import { createHash } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { HubApp } from '../apps.js';
import type { AppConfig } from '../config.js';
import { tokenHash } from '../identify.js';
import { inParallel } from '../parallel.js';
import { ticketKindId } from '../kinds/catalog.js';
import type { CredentialKind } from '../kinds/kind.js';
import { dueNow } from '../scheduler/schedule.js';
import type { CredentialStore, PrincipalRow } from '../store/store.js';

/** The meta document that records which configuration the principal rows were last synced from. */
const META = 'principals-config';
const LIST_PAGE = 100;

/** A configured app, with the configuration it was built from (the row's document: secret references, never secrets). */
export interface Configured {
  app: HubApp;
  config: AppConfig;
}

/**
 * Bring the principal rows in line with the configuration (HUB_APPS and the SSM apps path;
 * docs/architecture.md, "Principals"): a row per configured app (its configuration, with the secret
 * as the reference it is given by), the credentials the tick keeps fresh from the start and those
 * already stored put into the due index (never moving one already there), and rows of apps no longer configured deleted (their
 * credentials leave the index). With the configuration unchanged this is one read of a meta
 * document; when it changed, a query per 100 rows and a write per new, changed or removed row (8 at
 * a time). Returns the digest synced.
 */
export async function syncPrincipals(
  store: CredentialStore,
  configured: readonly Configured[],
  kindsOf: (app: HubApp) => readonly CredentialKind[],
  now: number,
  log: Logger,
): Promise<string> {
  const docs = configured.map((c) => ({ c, doc: JSON.parse(JSON.stringify(c.config)) as Record<string, unknown> }));
  const digest = digestOf(docs.map((d) => d.doc));
  const meta = await store.getMeta(META);
  if (meta?.digest === digest) return digest;
  // The rows as they are (a query per 100), so that only new and changed ones are written.
  const existing = new Map<string, PrincipalRow>();
  let cursor: string | undefined;
  do {
    const page = await store.listPrincipals({ limit: LIST_PAGE, cursor });
    for (const row of page.principals) existing.set(row.name, row);
    cursor = page.cursor;
  } while (cursor);
  // Never synced (a new table, or one a hub older than the due index filled): every credential is checked.
  const everything = meta === undefined;
  await inParallel(docs, PARALLEL_WRITES, async ({ c, doc }) => {
    const rowDigest = digestOf([doc]);
    const changed = existing.get(c.app.name)?.digest !== rowDigest;
    if (changed) await store.putPrincipal({ name: c.app.name, type: c.app.type, source: 'config', doc, digest: rowDigest, updatedAt: now });
    if (!changed && !everything) return;
    if (everything && c.app.compat) await indexStored(store, c.app.name, now);
    for (const kind of kindsOf(c.app)) {
      const key = { app: c.app.name, kind: kind.id };
      // What the tick keeps fresh from the start; and a credential already asked for that is not in
      // the due index yet (stored by a hub older than the index), without creating one nobody asked for.
      await store.schedule(key, dueNow(key, now), prewarmed(c.app, kind) ? { ifUnscheduled: true } : { ifUnscheduled: true, ifExists: true });
    }
  });
  const names = new Set(configured.map((c) => c.app.name));
  const gone = [...existing.values()].filter((row) => row.source === 'config' && !names.has(row.name));
  await inParallel(gone, PARALLEL_WRITES, async (row) => {
    await store.deletePrincipal(row.name);
    log.info('an app is no longer configured; its row was removed (its credentials leave the due index at their next tick)', { app: row.name });
  });
  await store.putMeta(META, { digest, syncedAt: now });
  log.info('principals synced from the configuration', { principals: configured.length });
  return digest;
}

/**
 * The token-hash index for the values a compat app's token item holds now (its current, previous
 * and replaced values), once, when a table filled by a hub older than the index is first synced:
 * an SDK holding one of them is recognised without fetching again.
 */
async function indexStored(store: CredentialStore, app: string, now: number): Promise<void> {
  const item = await store.read({ app, kind: 'access_token' });
  const values: [string | undefined, number | undefined][] = [[item?.value, item?.expiresAt], [item?.previousValue, item?.previousValidUntil], [item?.replacedValue, item?.replacedUntil]];
  for (const [value, until] of values) {
    if (value !== undefined && until !== undefined && until > now) await store.indexToken(tokenHash(value), { app, kind: 'access_token', until });
  }
}

/** Writes at once, a bounded number at a time. */
const PARALLEL_WRITES = 8;

/** Whether the tick keeps a kind fresh before anyone asked for it: the token, and tickets the app lists. */
export function prewarmed(app: HubApp, kind: CredentialKind): boolean {
  return kind.dependsOn === undefined || kind.prewarm === true || app.tickets.some((t) => ticketKindId(t) === kind.id);
}

function digestOf(docs: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(docs)).digest('base64url');
}
