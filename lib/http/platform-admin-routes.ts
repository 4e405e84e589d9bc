import * as z from 'zod/mini';
import type { AuthorizerApp, PlatformApp } from '../apps.js';
import { HttpError, NoTokenAvailableError } from '../errors.js';
import { retryAfterFor } from '../policy.js';
import { authorizerSummary } from '../platform/authorizer-state.js';
import { authorizerFromRow, authorizerPrefix } from '../principals/authorizers.js';
import { TokenInvalidError, WeChatError } from '../wechat/errors.js';
import { permit } from './auth.js';
import { NOSNIFF, ok, pageOf, type EdgeDeps, type HttpEvent, type HttpResult } from './edge.js';
import { also, withErrors, withJsonBody, withoutQuery, withScope, type HubServices, type RouteContext, type RouteHandler } from './pipeline.js';
import type { Grant } from './auth.js';

/** WeChat's authorization pages (docs/wechat.md §10). */
const PC_PAGE = 'https://mp.weixin.qq.com/cgi-bin/componentloginpage';
const MOBILE_PAGE = 'https://mp.weixin.qq.com/safe/bindcomponent';

/** The configured platform of this name, or undefined. */
export async function platformOf(deps: EdgeDeps, name: string | undefined): Promise<PlatformApp | undefined> {
  const app = name ? await deps.refresher.load(name) : undefined;
  return app?.type === 'platform' ? app : undefined;
}

/** The path's platform, for an admin of it (a key with `admin` on the platform's name): 403 or 404 otherwise. */
async function adminPlatform({ event, deps, grant }: RouteContext & { grant: Grant }): Promise<{ platform: PlatformApp }> {
  const name = event.pathParameters?.name ?? '';
  permit(grant, name, 'admin');
  const platform = await platformOf(deps, name);
  if (!platform) throw new HttpError(404, 'unknown_platform', 'no such platform is configured');
  return { platform };
}

const linkBody = /* @__PURE__ */ z.strictObject({
  redirect_uri: /* @__PURE__ */ z.url({ protocol: /^https?$/, error: "must be an http(s) URL on the platform's authorization domain" }),
  // 1: Official Accounts only; 2: Mini Programs only; 3: both (WeChat's default); 4-6: the newer kinds.
  auth_type: /* @__PURE__ */ z.optional(/* @__PURE__ */ z.int().check(/* @__PURE__ */ z.gte(1, 'must be 1-6'), /* @__PURE__ */ z.lte(6, 'must be 1-6'))),
  biz_appid: /* @__PURE__ */ z.optional(/* @__PURE__ */ z.string().check(/* @__PURE__ */ z.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be an appid'))),
});

/**
 * POST /v1/platforms/{name}/authorization-links (scope admin on the platform): a fresh pre_auth_code
 * (api_create_preauthcode) and the PC and mobile authorization URLs for `redirect_uri` (on the
 * platform's authorization domain; the hub's own GET /v1/platforms/{name}/authorized completes the
 * authorization when it is the target). The link must be opened by a click from that domain.
 */
export const authorizationLinksRoute = /* @__PURE__ */ withErrors(/* @__PURE__ */ withScope('admin', /* @__PURE__ */ also(adminPlatform, /* @__PURE__ */ withoutQuery(/* @__PURE__ */ withJsonBody(linkBody, async ({ deps, hub, platform, body }) => {
  const code = await preAuthCode(deps, hub, platform);
  const params = new URLSearchParams({ component_appid: platform.appid, pre_auth_code: code.preAuthCode, redirect_uri: body.redirect_uri, auth_type: String(body.auth_type ?? 3) });
  if (body.biz_appid) params.set('biz_appid', body.biz_appid);
  const mobile = new URLSearchParams({ action: 'bindcomponent', no_scan: '1', ...Object.fromEntries(params) });
  return ok({
    pc_url: `${PC_PAGE}?${params}`,
    mobile_url: `${MOBILE_PAGE}?${mobile}#wechat_redirect`,
    expires_in: code.expiresIn,
    expires_at: new Date(deps.clock.now() + code.expiresIn * 1000).toISOString(),
  });
})))));

/**
 * api_create_preauthcode with the component token; one WeChat calls dead is replaced (guarded) and
 * the call made again; any other refusal is the hub's error with WeChat's errcode (502), or a 503.
 */
async function preAuthCode(deps: EdgeDeps, hub: HubServices, platform: PlatformApp): Promise<{ preAuthCode: string; expiresIn: number }> {
  const call = (componentToken: string) => hub.component.preAuthCode({ appid: platform.appid, componentToken, deadline: deps.clock.now() + 10_000 });
  const token = (await deps.refresher.get(platform.name, 'component_access_token')).value;
  try {
    try {
      return await call(token);
    } catch (error) {
      if (!(error instanceof TokenInvalidError)) throw error;
      return await call((await deps.refresher.forceRefresh(platform.name, token, 'component_access_token', { observed: true })).value);
    }
  } catch (error) {
    if (error instanceof WeChatError) throw new NoTokenAvailableError('WeChat did not issue a pre_auth_code', retryAfterFor(error), error);
    throw error;
  }
}

/**
 * GET /v1/platforms/{name}/authorizers (scope admin on the platform): the accounts that authorized
 * it, in appid order, a page at a time (`limit` 1-100, `cursor`: the previous page's `next`), each
 * with its state (fresh, failing, needs_reauthorization, revoked). Never a token or a refresh token.
 */
export const authorizersRoute = /* @__PURE__ */ withErrors(/* @__PURE__ */ withScope('admin', /* @__PURE__ */ also(adminPlatform, async ({ event, deps, hub, platform }) => {
  const listed = await hub.listPrincipals({ ...pageOf(event), prefix: authorizerPrefix(platform.name) });
  const apps = listed.principals.map((row) => authorizerFromRow(row, platform)).filter((a): a is AuthorizerApp => a !== undefined);
  const now = deps.clock.now();
  const tokens = await Promise.all(apps.map((a) => hub.readCredential({ app: a.name, kind: 'access_token' })));
  return ok({ platform: platform.name, authorizers: apps.map((a, i) => authorizerSummary(a, tokens[i], now)), ...(listed.cursor ? { next: listed.cursor } : {}) });
})));


const page = (status: number, title: string, text: string): HttpResult => ({
  statusCode: status,
  headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': "default-src 'none'", 'referrer-policy': 'no-referrer', ...NOSNIFF },
  body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p></body></html>`,
});
const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * GET /v1/platforms/{name}/authorized?auth_code=…&expires_in=… : where WeChat's authorization page
 * sends the administrator back. The code is exchanged (api_query_auth) and the authorizer
 * registered, as the `authorized` event does (whichever comes first does it; the other finds it
 * done); a plain page says it worked. No hub key (a browser): a code WeChat does not accept is a 400
 * page, a failure of WeChat or the store a 503 page to reload. Never a token on the page or in a log.
 */
export const authorizedPageRoute: RouteHandler = async (event, deps, hub) => {
  const q = new URLSearchParams(event.rawQueryString ?? '');
  const code = q.get('auth_code') ?? '';
  const platform = await platformOf(deps, event.pathParameters?.name).catch(() => undefined);
  if (!platform) return page(404, 'Not found', 'No such platform.');
  if (!/^[\x21-\x7e]{1,512}$/.test(code)) return page(400, 'Authorization not completed', 'The link has no valid authorization code: open the authorization link again.');
  // No key (a browser): each code costs an api_query_auth call, so a container takes a bounded number.
  if (!takePage(deps)) return page(429, 'Too many requests', 'Too many authorizations at once: reload this page in a minute.');
  try {
    const done = await hub.authorizations.authorize(platform, code);
    deps.logger.info('authorization page', { platform: platform.name, completed: done.done });
    const who = done.done ? ` (${escape(done.authorizer.appid)})` : '';
    return page(200, 'Authorization complete', `The account${who} authorized ${escape(platform.name)}. You can close this page.`);
  } catch (error) {
    if (error instanceof WeChatError && error.errcode !== undefined && error.kind !== 'retry_later') {
      deps.logger.info('authorization page: WeChat refused the code', { platform: platform.name, errcode: error.errcode });
      return page(400, 'Authorization not completed', 'WeChat did not accept this authorization code (it may have expired): open the authorization link again.');
    }
    deps.logger.error('authorization page failed', { platform: platform.name, error: error instanceof Error ? error.name : 'unknown' });
    return page(503, 'Authorization not completed yet', 'The hub could not complete the authorization just now: reload this page in a minute.');
  }
};

/** The redirect page's budget per container: PAGE_BURST at once, refilled at PAGE_PER_MINUTE (administrators come back one at a time). */
const PAGE_BURST = 20;
const PAGE_PER_MINUTE = 20;
const pageBuckets = new WeakMap<object, { tokens: number; at: number }>();
function takePage(deps: EdgeDeps): boolean {
  const now = deps.clock.now();
  const b = pageBuckets.get(deps.refresher) ?? { tokens: PAGE_BURST, at: now };
  b.tokens = Math.min(PAGE_BURST, b.tokens + ((now - b.at) / 60_000) * PAGE_PER_MINUTE);
  b.at = now;
  pageBuckets.set(deps.refresher, b);
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}
