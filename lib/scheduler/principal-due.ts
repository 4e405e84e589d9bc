import type { HubApp } from '../apps.js';
import { dependencyOf } from '../kinds/kind.js';
import type { PrincipalRegistry } from '../principals/registry.js';
import type { CredentialStore, DueEntry } from '../store/store.js';
import { refreshDue, type Scheduled, type TickOutcome } from './due.js';

/** What the scheduled refresh of one principal needs: its registry, the store, and one credential's refresh. */
export interface PrincipalDuePort {
  principals: PrincipalRegistry;
  store: CredentialStore;
  scheduled: Scheduled;
}

/**
 * The scheduled refresh of one principal's due credentials (the due index's entries), in its
 * kinds' order (a ticket after the token it is fetched with); one failing stops no other. What a
 * due credential is fetched with (the app's token, for a ticket) is looked at first, as the tick
 * always did: its probe finds a dead token and heals it without the forced budget. A principal or
 * kind no longer configured is taken out of the index. Also the least expiry among them after.
 */
export async function refreshPrincipalDue(p: PrincipalDuePort, appName: string, entries: readonly DueEntry[]): Promise<{ outcomes: TickOutcome[]; leastExpiresAt?: number }> {
  const outcomes: TickOutcome[] = [];
  let least: number | undefined;
  let app: HubApp | undefined;
  try {
    // A principal registered at run time (an authorizer) is read from its row: revoked, it has no kinds.
    app = await p.principals.load(appName);
  } catch {
    // The store cannot say what the principal is now: nothing is refreshed or removed; the next tick asks again.
    return { outcomes: entries.map((e) => ({ app: e.key.app, kind: e.key.kind, outcome: 'failed' as const, code: 'store_unavailable' })) };
  }
  const order = app ? p.principals.kindsOf(app).map((k) => k.id) : [];
  const dependencies = await dependenciesOf(p, app, entries);
  const sorted = [...dependencies, ...entries].sort((x, y) => rank(order, x.key.kind) - rank(order, y.key.kind));
  for (const entry of sorted) {
    const found = p.principals.find(entry.key.app, entry.key.kind);
    if (!found) {
      // Gone from a list known to be whole: out of the index. From an incomplete one (SSM unread): left as it is.
      if (!p.principals.complete) continue;
      await p.store.unschedule(entry.key).catch(() => undefined);
      outcomes.push({ app: entry.key.app, kind: entry.key.kind, outcome: 'removed' });
      continue;
    }
    const done = await refreshDue(p.scheduled, found.app, found.kind, entry.item);
    outcomes.push(done.outcome);
    if (done.expiresAt !== undefined) least = Math.min(least ?? Infinity, done.expiresAt);
  }
  return { outcomes, leastExpiresAt: least };
}

/** The same principal's credentials the due entries are fetched with, not due themselves, as read now. */
async function dependenciesOf(p: PrincipalDuePort, app: HubApp | undefined, entries: readonly DueEntry[]): Promise<DueEntry[]> {
  if (!app) return [];
  const wanted = new Set<string>();
  for (const e of entries) {
    const found = p.principals.find(e.key.app, e.key.kind);
    const dep = found && dependencyOf(found.kind, found.app);
    if (dep && dep.app === app.name && !entries.some((x) => x.key.kind === dep.kind)) wanted.add(dep.kind);
  }
  const out: DueEntry[] = [];
  for (const kind of wanted) {
    const key = { app: app.name, kind };
    const item = await p.store.read(key).catch(() => undefined);
    if (item) out.push({ key, item });
  }
  return out;
}

/** Where a kind comes in its principal's order (unknown kinds last). */
const rank = (order: readonly string[], kind: string): number => (order.includes(kind) ? order.indexOf(kind) : order.length);
