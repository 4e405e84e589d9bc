import type { Logger } from '@aws-lambda-powertools/logger';
import type { HubApp } from '../apps.js';
import type { CredentialKind } from '../kinds/kind.js';
import { inParallel } from '../parallel.js';
import { dueNow } from '../scheduler/schedule.js';
import type { CredentialStore } from '../store/store.js';

/** The meta document holding each configured app's secret fingerprint as the tick last saw it. */
const META = 'secret-fingerprints';
const PARALLEL_READS = 8;

/**
 * A secret changed (an AppSecret reset, a new SSM value): the credentials fetched with it are put
 * due now, so that the tick replaces them even though their index entry says later
 * (docs/architecture.md, "Scheduler"). The tick compares each configured app's secret fingerprint
 * (a short hash, never the secret; the secret itself is read through its cache) with the ones it
 * saw last, kept in one meta document: one read a tick, a write when one changed. Returns the apps
 * whose secret changed.
 */
export async function rescheduleChangedSecrets(
  store: CredentialStore,
  apps: readonly HubApp[],
  kindsOf: (app: HubApp) => readonly CredentialKind[],
  now: number,
  log: Logger,
): Promise<string[]> {
  const current: Record<string, string> = {};
  // The secrets through their cache, a few at a time (SSM allows about 40 reads a second).
  await inParallel(apps, PARALLEL_READS, async (app) => {
    const kind = kindsOf(app).find((k) => k.sourceFingerprint);
    const fp = kind && (await kind.sourceFingerprint!(app));
    if (fp !== undefined) current[app.name] = fp;
  });
  if (Object.keys(current).length === 0) return [];
  const meta = await store.getMeta(META);
  const before = (meta?.fingerprints ?? {}) as Record<string, string>;
  const changed = Object.keys(current).filter((name) => before[name] !== undefined && before[name] !== current[name]);
  for (const name of changed) {
    const app = apps.find((a) => a.name === name)!;
    for (const kind of kindsOf(app)) {
      if (kind.sourceFingerprint) await store.schedule({ app: name, kind: kind.id }, dueNow({ app: name, kind: kind.id }, now));
    }
  }
  if (changed.length) log.info('a secret changed: its credentials are due now', { apps: changed });
  // The apps of now only (a removed app's fingerprint goes); one a secret could not be read for keeps its last.
  const kept = Object.fromEntries(apps.flatMap((a) => (current[a.name] ?? before[a.name]) !== undefined ? [[a.name, current[a.name] ?? before[a.name]!]] : []));
  if (JSON.stringify(kept) !== JSON.stringify(before)) await store.putMeta(META, { fingerprints: kept, at: now });
  return changed;
}
