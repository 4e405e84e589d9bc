import * as z from 'zod/mini';
import type { HubApp } from '../apps.js';
import { ForcedRefreshSpacingError } from '../errors.js';
import { fingerprint } from '../fingerprint.js';
import type { WeChatClient } from '../wechat/client.js';
import { attributes } from './attributes.js';
import type { CredentialKind } from './kind.js';
import { secretFingerprint, secretFor } from './secret.js';

const wechatApp = attributes(z.object({ appid: z.string(), tokenApi: z.enum(['classic', 'stable']) }), 'WeChat access_token');
const wecomApp = attributes(z.object({ corpid: z.string() }), 'WeCom access_token');

/** stable_token's force mode: 20 a day, 30 s apart (docs/wechat.md §2). */
const STABLE_FORCE_DAILY_LIMIT = 20;
const STABLE_FORCE_SPACING_MS = 30_000;
/** stable_token issues a new token only in the last 5 minutes of the current one (docs/wechat.md §2). */
const STABLE_RENEW_WINDOW_MS = 5 * 60_000;
/**
 * WeChat's daily limits (docs/wechat.md §1, §2): 2000 token fetches for an Official Account (Mini
 * Programs: not documented; 2000 is the common figure, and openapi/quota/get tells the real one).
 */
const DAILY_LIMITS: Record<string, number> = { token: 2000, stable_token: 500_000, stable_token_force: STABLE_FORCE_DAILY_LIMIT };

/**
 * An Official Account's or Mini Program's access_token: /cgi-bin/token (classic) or
 * /cgi-bin/stable_token, counted against the daily token quota. Probed with a call that takes only
 * the token and spends no token quota: getcallbackip for Official Accounts, get_api_domain_ip for
 * Mini Programs (WeChat's API reference lists both account types for it: docs/wechat.md §7;
 * docs/protocol.md).
 */
export function wechatAccessToken(client: WeChatClient, options: { probePath: '/cgi-bin/getcallbackip' | '/cgi-bin/get_api_domain_ip' }): CredentialKind {
  const stableForce = (app: HubApp, forced: boolean, hasValue: boolean) => forced && wechatApp(app).tokenApi === 'stable' && hasValue;
  return {
    id: 'access_token',
    charges(app, { forced, old, forcedDailyBudget }) {
      const force = stableForce(app, forced, old?.value !== undefined);
      const api = force ? 'stable_token_force' : wechatApp(app).tokenApi === 'stable' ? 'stable_token' : 'token';
      return [{
        scope: app.name,
        api,
        period: 'day',
        forcedBudget: forced ? (force ? Math.min(STABLE_FORCE_DAILY_LIMIT, forcedDailyBudget) : forcedDailyBudget) : undefined,
        knownLimit: DAILY_LIMITS[api],
      }];
    },
    checkForced(app, item, now) {
      // Kept in the kind's state (older items have it as lastForcedAt).
      const lastForcedAt = item?.state?.lastForcedAt !== undefined ? Number(item.state.lastForcedAt) : item?.lastForcedAt;
      if (wechatApp(app).tokenApi !== 'stable' || lastForcedAt === undefined) return;
      const wait = lastForcedAt + STABLE_FORCE_SPACING_MS - now;
      // WeChat ignores a stable_token force refresh within 30 s of the last one.
      if (wait > 0) throw new ForcedRefreshSpacingError(Math.ceil(wait / 1000));
    },
    async fetch(app, ctx) {
      const a = wechatApp(app);
      const force = stableForce(app, ctx.forced, ctx.old?.value !== undefined);
      const secret = await secretFor(app, ctx);
      const t = await client.fetchAccessToken({ appid: a.appid, secret, api: a.tokenApi, forceRefresh: force, deadline: ctx.deadline, onRetry: ctx.onRetry, onUnsent: ctx.onUnsent });
      return { value: t.accessToken, expiresIn: t.expiresIn, sourceFingerprint: fingerprint(secret), ...(force ? { state: { lastForcedAt: String(ctx.now()) } } : {}) };
    },
    // WeChat answers the same stable token until its last 5 minutes: the tick asks then, not before
    // (one tick falls in every 5 minutes; a read with under MIN_SERVE left asks too).
    refreshMarginMs: (app) => (wechatApp(app).tokenApi === 'stable' ? STABLE_RENEW_WINDOW_MS : undefined),
    sourceFingerprint: secretFingerprint,
    probe: (_app, value, deadline) => client.isTokenValid(value, deadline, options.probePath),
  };
}

/**
 * A WeCom app's access_token: /cgi-bin/gettoken with the corpid and that app's own secret, on
 * qyapi. WeCom documents no daily number, only that hammering gettoken gets an IP blocked; the
 * ledger counts every call. Probed with qyapi's getcallbackip.
 */
export function wecomAccessToken(client: WeChatClient): CredentialKind {
  return {
    id: 'access_token',
    charges(app, { forced, forcedDailyBudget }) {
      return [{ scope: app.name, api: 'gettoken', period: 'day', forcedBudget: forced ? forcedDailyBudget : undefined }];
    },
    async fetch(app, ctx) {
      const secret = await secretFor(app, ctx);
      const t = await client.fetchWeComToken({ corpid: wecomApp(app).corpid, secret, deadline: ctx.deadline, onRetry: ctx.onRetry, onUnsent: ctx.onUnsent });
      return { value: t.accessToken, expiresIn: t.expiresIn, sourceFingerprint: fingerprint(secret) };
    },
    sourceFingerprint: secretFingerprint,
    probe: (_app, value, deadline) => client.isTokenValid(value, deadline),
  };
}
