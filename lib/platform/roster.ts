import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { HubApp, PlatformApp } from '../apps.js';
import { authorizerFromRow, authorizerPrefix, authorizerRow, setAuthorizerStatus } from '../principals/authorizers.js';
import type { Refresher } from '../refresher.js';
import { dueNow } from '../scheduler/schedule.js';
import type { CredentialStore } from '../store/store.js';
import type { ComponentApi } from '../wechat/component.js';

const ROWS_PAGE = 100;
const CALL_MS = 10_000;
/** An authorization this recent may be missing from the list yet. */
const LIST_LAG_MS = 3_600_000;
/** Registrations and revocations one run makes (two writes each, within the tick's time); the next tick goes on. */
const MAX_CHANGES = 200;

export interface RosterDeps {
  store: CredentialStore;
  refresher: Refresher;
  component: ComponentApi;
  now(): number;
  log: Logger;
  /** How often (PLATFORM_ROSTER_INTERVAL, default 6 hours: api_get_authorizer_list costs one call per 500 accounts); 0: never. */
  intervalMs: number;
}

/**
 * The platform's authorizers as WeChat lists them (api_get_authorizer_list), compared with the
 * table's rows every PLATFORM_ROSTER_INTERVAL (docs/wechat.md §10, "Refresh tokens"): an account WeChat
 * lists that the hub has no row of, or has as revoked, authorized the platform while the hub did
 * not hear it (an event lost while the hub was down, an authorization cut off between
 * api_query_auth and its write, a table restored from a backup older than the authorization). It
 * is registered and its token put due now: the tick's fetch finds no refresh token stored and takes
 * the list's (lib/kinds/authorizer.ts). So no authorizer is lost for good. An account the table has
 * as authorized (for over an hour) that WeChat no longer lists withdrew while the hub did not hear
 * it: marked revoked, so that the tick stops asking WeChat for it. One scheduled tick does it per
 * interval (a one-time claim), at most MAX_CHANGES changes a run; a failure or more to do leaves
 * it to the next tick.
 */
export async function reconcileRosters(d: RosterDeps, apps: readonly HubApp[]): Promise<void> {
  if (d.intervalMs <= 0) return;
  for (const platform of apps.filter((a): a is PlatformApp => a.type === 'platform')) {
    const now = d.now();
    const attempt = randomUUID();
    if (!(await d.store.claimOnce(`roster#${platform.name}`, { now, until: now + d.intervalMs, attempt }))) continue;
    try {
      const changed = await reconcile(d, platform);
      d.log.info('platform roster compared with WeChat\'s list', { platform: platform.name, changed });
    } catch (error) {
      await d.store.releaseOnce(`roster#${platform.name}`, attempt).catch(() => undefined);
      d.log.warn('platform roster: could not compare with WeChat\'s list; the next tick tries again', { platform: platform.name, error: error instanceof Error ? error.name : 'unknown' });
    }
  }
}

async function reconcile(d: RosterDeps, platform: PlatformApp): Promise<number> {
  const listedAt = d.now();
  const listed = new Map<string, number | undefined>();
  const componentToken = (await d.refresher.get(platform.name, 'component_access_token')).value;
  for await (const list of d.component.authorizerPages({ appid: platform.appid, componentToken, deadline: () => d.now() + CALL_MS })) {
    for (const a of list) listed.set(a.authorizerAppid, a.authTime);
  }
  const known = new Map<string, { status: string; revokedAt?: number; authorizedAt: number }>();
  let cursor: string | undefined;
  do {
    const rows = await d.store.listPrincipals({ limit: ROWS_PAGE, prefix: authorizerPrefix(platform.name), ...(cursor ? { cursor } : {}) });
    for (const row of rows.principals) {
      const a = authorizerFromRow(row, platform);
      if (a) known.set(a.appid, { status: a.status, authorizedAt: a.authorizedAt, ...(a.revokedAt === undefined ? {} : { revokedAt: a.revokedAt }) });
    }
    cursor = rows.cursor;
  } while (cursor);
  let added = 0;
  let revoked = 0;
  // Authorized here, not listed there: the account withdrew and its `unauthorized` event was lost.
  // Its refreshes would be refused for ever (61003); it is marked revoked, its record kept. One
  // that authorized within the last hour is left alone (the list may lag an authorization).
  for (const [appid, k] of known) {
    if (k.status !== 'authorized' || listed.has(appid) || k.authorizedAt > listedAt - LIST_LAG_MS || added + revoked >= MAX_CHANGES) continue;
    const app = await setAuthorizerStatus(d.store, platform, appid, 'revoked', d.now());
    if (app) d.refresher.principals.remember(app);
    d.log.warn('an account the hub had as authorized is no longer in WeChat\'s list: marked revoked (its unauthorized event was lost)', { platform: platform.name, authorizer: appid });
    revoked++;
  }
  for (const [appid, authTime] of listed) {
    if (added + revoked >= MAX_CHANGES) throw new RosterUnfinishedError();
    const k = known.get(appid);
    if (k?.status === 'authorized') continue;
    // Revoked here and listed there: only an authorization after the revocation counts (the list may lag an unauthorized event).
    if (k?.status === 'revoked' && (authTime === undefined || authTime * 1000 <= (k.revokedAt ?? Infinity))) continue;
    const now = d.now();
    const { row, app } = authorizerRow(platform, { appid, status: 'authorized', funcs: [], authorizedAt: authTime !== undefined ? authTime * 1000 : now }, now);
    await d.store.putPrincipal(row);
    d.refresher.principals.remember(app);
    const key = { app: app.name, kind: 'access_token' };
    await d.store.schedule(key, dueNow(key, now));
    d.log.warn('an account WeChat lists as authorizing the platform was unknown to the hub (or revoked): registered, its token fetched with the list\'s refresh token', { platform: platform.name, authorizer: appid });
    added++;
  }
  return added + revoked;
}

/** More to change than one run takes: the claim is given back, and the next tick goes on. */
class RosterUnfinishedError extends Error {
  override readonly name = 'RosterUnfinishedError';
}
