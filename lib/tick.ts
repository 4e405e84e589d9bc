import type { Logger } from '@aws-lambda-powertools/logger';
import type { HubApp } from './apps.js';
import { AppBlockedError } from './errors.js';
import { fingerprint } from './fingerprint.js';
import { ticketKindId } from './kinds/catalog.js';
import type { CredentialKind } from './kinds/kind.js';
import { errorCode, isDue, recentlyValidated, servable } from './policy.js';
import type { HubMetric, RefreshRequest, RefreshResult } from './protocol.js';
import type { RefresherSettings } from './settings.js';
import type { CredentialItem } from './store/store.js';
import { WeChatError } from './wechat/errors.js';

export type TickOutcome =
  | { app: string; kind: string; outcome: 'fresh' | 'refreshed' }
  /** The tick's probe found the stored value rejected by WeChat and replaced it. */
  | { app: string; kind: string; outcome: 'healed' }
  /** A ticket nobody has asked for yet (and not listed in the app's `tickets`): not fetched. */
  | { app: string; kind: string; outcome: 'unused' }
  | { app: string; kind: string; outcome: 'failed' | 'blocked'; code: string };

/** What the scheduled refresh needs of the refresher: the protocol, shared per container, and its settings. */
export interface Scheduled {
  resolve(appName: string, kindId: string): { app: HubApp; kind: CredentialKind };
  read(app: HubApp, kind: CredentialKind): Promise<CredentialItem | undefined>;
  /** How long before expiry this kind's value is replaced. */
  margin(app: HubApp, kind: CredentialKind): number;
  refresh(app: HubApp, kind: CredentialKind, req: Pick<RefreshRequest, 'needed' | 'cause' | 'justRead'> & { cause: 'tick' | 'self_heal' }): Promise<RefreshResult>;
  count(metric: HubMetric, app: HubApp, kind: CredentialKind): void;
  settings(): RefresherSettings;
  now(): number;
  log(): Logger;
}

/**
 * The scheduled refresh of one kind: fetch a new value when the stored one is due (or missing, or
 * of an old secret); a ticket nobody asked for is left alone; then, if nothing was fetched, ask
 * WeChat whether the stored value is still good (self-healing).
 */
export async function refreshIfDue(s: Scheduled, appName: string, kindId: string): Promise<TickOutcome> {
  const { app, kind } = s.resolve(appName, kindId);
  const base = { app: app.name, kind: kind.id };
  try {
    const source = await kind.sourceFingerprint?.(app);
    const item = await s.read(app, kind);
    const prewarmed = kind.dependsOn === undefined || app.tickets.some((t) => ticketKindId(t) === kind.id);
    if (!item && !prewarmed) return { ...base, outcome: 'unused' };
    // A kind may know a shorter margin (stable_token: its last 5 minutes), never a longer one.
    const margin = s.margin(app, kind);
    const due = (it: CredentialItem | undefined) => isDue(it, margin, source, s.now());
    const { item: current, wrote } = await s.refresh(app, kind, { needed: due, cause: 'tick', justRead: { item } });
    if (wrote) return { ...base, outcome: 'refreshed' };
    return (await selfHeal(s, app, kind, current)) ? { ...base, outcome: 'healed' } : { ...base, outcome: 'fresh' };
  } catch (error) {
    if (error instanceof AppBlockedError) {
      const upstream = error.upstream;
      return { ...base, outcome: 'blocked', code: upstream && !(upstream instanceof WeChatError) ? upstream.code : 'blocked' };
    }
    return { ...base, outcome: 'failed', code: errorCode(error) };
  }
}

/**
 * Self-healing: ask WeChat (with the kind's probe, which spends no quota) whether the stored value
 * is still accepted, and refresh at once when it is not (someone outside the hub fetched with the
 * same secret). True when it healed.
 */
async function selfHeal(s: Scheduled, app: HubApp, kind: CredentialKind, item: CredentialItem): Promise<boolean> {
  const settings = s.settings();
  const now = s.now();
  if (!settings.selfHeal || !kind.probe || !servable(item, 0, undefined, now) || recentlyValidated(item, now, settings.probeTtlMs)) return false;
  const value = item.value!;
  try {
    if (await kind.probe(app, value, now + Math.floor(settings.upstreamDeadlineMs / 3))) return false;
  } catch (error) {
    s.log().warn('tick: could not probe the current value', { app: app.name, kind: kind.id, code: errorCode(error) });
    return false;
  }
  s.log().warn('tick: WeChat no longer accepts the current value; refreshing now', { app: app.name, kind: kind.id, fingerprint: fingerprint(value) });
  const { wrote } = await s.refresh(app, kind, { needed: (it) => it?.value === value, cause: 'self_heal' });
  if (wrote) s.count('SelfHealed', app, kind);
  return wrote;
}
