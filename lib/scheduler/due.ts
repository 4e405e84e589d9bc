import type { Logger } from '@aws-lambda-powertools/logger';
import type { HubApp } from '../apps.js';
import { AppBlockedError } from '../errors.js';
import { fingerprint } from '../fingerprint.js';
import type { CredentialKind } from '../kinds/kind.js';
import { errorCode, isDue, recentlyValidated, servable } from '../policy.js';
import type { HubMetric, RefreshRequest, RefreshResult } from '../protocol.js';
import type { RefresherSettings } from '../settings.js';
import type { CredentialItem, CredentialKey, Schedule } from '../store/store.js';
import { afterFailure } from './schedule.js';
import { WeChatError } from '../wechat/errors.js';

export type TickOutcome =
  | { app: string; kind: string; outcome: 'fresh' | 'refreshed' }
  /** The tick's probe found the stored value rejected by WeChat and replaced it. */
  | { app: string; kind: string; outcome: 'healed' }
  /** The principal (or its kind) is no longer configured: taken out of the due index. */
  | { app: string; kind: string; outcome: 'removed' }
  | { app: string; kind: string; outcome: 'failed' | 'blocked'; code: string };

/** What the scheduled refresh of one credential needs of the credential service, and nothing more. */
export interface Scheduled {
  /** How long before expiry this kind's value is replaced. */
  margin(app: HubApp, kind: CredentialKind): number;
  refresh(app: HubApp, kind: CredentialKind, req: Pick<RefreshRequest, 'needed' | 'cause' | 'justRead'> & { cause: 'tick' | 'self_heal' }): Promise<RefreshResult>;
  /** Where a value WeChat just confirmed goes in the due index. */
  probed(app: HubApp, kind: CredentialKind, item: CredentialItem, at: number): Schedule;
  /** Move the credential in the due index, unless its item moved on from `version`. */
  reschedule(key: CredentialKey, schedule: Schedule, version: number): Promise<void>;
  count(metric: HubMetric, app: HubApp, kind: CredentialKind): void;
  settings(): RefresherSettings;
  now(): number;
  log(): Logger;
}

/**
 * The scheduled refresh of one credential the due index returned (`item`, as the index holds it:
 * possibly a moment old, which the protocol re-checks under its lease): fetch a new value when it is
 * due (or missing, or of an old secret); otherwise ask WeChat whether it is still good
 * (self-healing) and put it back in the index for its next probe or its renewal.
 */
export async function refreshDue(s: Scheduled, app: HubApp, kind: CredentialKind, item: CredentialItem | undefined): Promise<{ outcome: TickOutcome; expiresAt?: number }> {
  const base = { app: app.name, kind: kind.id };
  try {
    const source = await kind.sourceFingerprint?.(app);
    // A kind may know a shorter margin (stable_token: its last 5 minutes), never a longer one.
    const margin = s.margin(app, kind);
    const due = (it: CredentialItem | undefined) => isDue(it, margin, source, s.now());
    const { item: current, wrote } = await s.refresh(app, kind, { needed: due, cause: 'tick', justRead: { item } });
    if (wrote) return { outcome: { ...base, outcome: 'refreshed' }, expiresAt: current.expiresAt };
    const healed = await selfHeal(s, app, kind, current);
    // A healed value's expiry is not known here (about two hours): the gauge skips it.
    return healed ? { outcome: { ...base, outcome: 'healed' } } : { outcome: { ...base, outcome: 'fresh' }, expiresAt: current.expiresAt };
  } catch (error) {
    if (error instanceof AppBlockedError) {
      const upstream = error.upstream;
      return { outcome: { ...base, outcome: 'blocked', code: upstream && !(upstream instanceof WeChatError) ? upstream.code : 'blocked' }, expiresAt: item?.expiresAt };
    }
    return { outcome: { ...base, outcome: 'failed', code: errorCode(error) }, expiresAt: item?.expiresAt };
  }
}

/**
 * Self-healing: ask WeChat (with the kind's probe, which spends no quota) whether the stored value
 * is still accepted, and refresh at once when it is not (someone outside the hub fetched with the
 * same secret). True when it healed. A value that is still good (or that cannot be asked about)
 * goes back into the due index for its next probe or its renewal.
 */
async function selfHeal(s: Scheduled, app: HubApp, kind: CredentialKind, item: CredentialItem): Promise<boolean> {
  const settings = s.settings();
  const now = s.now();
  const key = { app: app.name, kind: kind.id };
  const putBack = () => (servable(item, 0, undefined, now) ? s.reschedule(key, s.probed(app, kind, item, now), item.version).catch(() => undefined) : undefined);
  if (!settings.selfHeal || !kind.probe || !servable(item, 0, undefined, now) || recentlyValidated(item, now, settings.probeTtlMs)) {
    await putBack();
    return false;
  }
  const value = item.value!;
  try {
    if (await kind.probe(app, value, now + Math.floor(settings.upstreamDeadlineMs / 3))) {
      await putBack();
      return false;
    }
  } catch (error) {
    s.log().warn('tick: could not probe the current value', { app: app.name, kind: kind.id, code: errorCode(error) });
    // Due again from now: the next tick asks again, not a continuation of this one.
    await s.reschedule(key, afterFailure(key, { at: s.now() }), item.version).catch(() => undefined);
    return false;
  }
  s.log().warn('tick: WeChat no longer accepts the current value; refreshing now', { app: app.name, kind: kind.id, fingerprint: fingerprint(value) });
  const { wrote } = await s.refresh(app, kind, { needed: (it) => it?.value === value, cause: 'self_heal' });
  if (wrote) s.count('SelfHealed', app, kind);
  return wrote;
}
