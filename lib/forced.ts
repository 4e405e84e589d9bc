import type { HubApp } from './apps.js';
import { fingerprint } from './fingerprint.js';
import type { CredentialKind } from './kinds/kind.js';
import { recentlyValidated, servable } from './policy.js';
import type { HubMetric, RefreshRequest, RefreshResult } from './protocol.js';
import { asUnavailable, unavailable } from './failure.js';
import type { Served } from './serving.js';
import type { RefresherSettings } from './settings.js';
import type { CredentialItem } from './store/store.js';

export interface ForcedResult extends Served {
  /**
   * A rotation of the value sent happened for this call: it made the fetch, joined one in flight,
   * or the stored value replaced the one sent within the last LEASE (the same burst).
   */
  refreshed: boolean;
  /** The value served differs from the one sent (also when the one sent was replaced long ago, or never was ours). */
  changed: boolean;
  /** Why the value was not rotated, when it was not. */
  reason?: string;
}

export interface ForceOptions {
  /**
   * The hub itself saw WeChat reject this value (the proxy, the compat pass-through, a ticket
   * fetch): WeChat is asked again even within PROBE_TTL of a probe that said "valid", at most once
   * per observedProbeSpacingMs.
   */
  observed?: boolean;
}

/** What the passive refresh needs of the refresher: the store, the protocol in single flight, serving. */
export interface Passive {
  read(app: HubApp, kind: CredentialKind): Promise<CredentialItem | undefined>;
  /** Drop a reported value from the container's cache and stale-if-error memory. */
  forget(app: HubApp, kind: CredentialKind, value: string): void;
  /** The protocol, shared by the callers in this container under the same flight name. */
  refresh(app: HubApp, kind: CredentialKind, flight: string, req: Pick<RefreshRequest, 'needed' | 'forced' | 'cause' | 'justRead' | 'probe'>): Promise<RefreshResult>;
  serve(app: HubApp, kind: CredentialKind, item: CredentialItem): Served;
  count(metric: HubMetric, app: HubApp, kind: CredentialKind): void;
  settings(): RefresherSettings;
  now(): number;
}

/**
 * The passive refresh (docs/protocol.md, "Forced refreshes"): a caller was told by WeChat that
 * `stale` is invalid. Only if it is still the stored value, and WeChat (asked with a call that spends
 * no quota, for kinds that have one) no longer accepts it, is a new one fetched; otherwise the stored
 * one is the answer. A made-up value when nothing servable is stored is a plain fetch, never a
 * forced one.
 */
export async function forceRefresh(p: Passive, app: HubApp, kind: CredentialKind, stale: string, options: ForceOptions): Promise<ForcedResult> {
  const settings = p.settings();
  // Whatever comes of it, this container serves the reported value from nowhere but the store again.
  p.forget(app, kind, stale);
  const source = await kind.sourceFingerprint?.(app);
  const ok = (it: CredentialItem) => servable(it, 0, source, p.now());
  const item = await p.read(app, kind);
  const now = p.now();
  if (item && ok(item) && item.value !== stale) {
    // Already rotated (by the tick or another caller): the stored value is the answer, no call.
    const justReplaced = (item.previousValue === stale || item.replacedValue === stale) && (item.obtainedAt ?? 0) >= now - settings.leaseMs;
    return { ...p.serve(app, kind, item), refreshed: justReplaced, changed: true };
  }
  let result: RefreshResult;
  if (!item || !ok(item)) {
    // Nothing servable is stored: the value sent cannot be ours; fetch as a read would.
    try {
      result = await p.refresh(app, kind, 'due', { needed: (it) => !it || !ok(it), forced: false, cause: 'read', justRead: { item } });
    } catch (error) {
      throw asUnavailable(error, undefined);
    }
    if (!ok(result.item)) throw unavailable(result.item);
    return { ...p.serve(app, kind, result.item), refreshed: true, changed: true };
  }
  const probeTtlMs = options.observed ? Math.min(settings.observedProbeSpacingMs, settings.probeTtlMs) : settings.probeTtlMs;
  if (recentlyValidated(item, now, probeTtlMs)) return stillValid(p, app, kind, item);
  try {
    kind.checkForced?.(app, item, now);
  } catch (error) {
    p.count('ForcedRefreshRefused', app, kind);
    throw error;
  }
  const isCurrent = (it: CredentialItem | undefined) => !it || !ok(it) || it.value === stale;
  try {
    result = await p.refresh(app, kind, `force:${fingerprint(stale)}`, {
      needed: isCurrent,
      forced: true,
      cause: 'forced',
      justRead: { item },
      probe: kind.probe ? { value: stale, ttlMs: probeTtlMs } : undefined,
    });
  } catch (error) {
    throw asUnavailable(error, undefined);
  }
  if (result.item.value === stale && recentlyValidated(result.item, now, probeTtlMs)) return stillValid(p, app, kind, result.item);
  if (!ok(result.item) || result.item.value === stale) throw unavailable(result.item);
  return { ...p.serve(app, kind, result.item), refreshed: true, changed: true };
}

function stillValid(p: Passive, app: HubApp, kind: CredentialKind, item: CredentialItem): ForcedResult {
  p.count('ForcedRefreshNotRotated', app, kind);
  return { ...p.serve(app, kind, item), refreshed: false, changed: false, reason: 'WeChat still accepts this token; it was not rotated' };
}
