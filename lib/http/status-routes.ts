import type { HubApp } from '../apps.js';
import { errorCode } from '../policy.js';
import { WeChatError } from '../wechat/errors.js';
import { covers, permit } from './auth.js';
import { ok, pageOf, type EdgeDeps, type HttpEvent } from './edge.js';
// Routes are built at load time from wrappers: each call is marked pure (dropped where unused).
import { withErrors, withScope, type HandlersOf, type HubServices, type RouteHandler } from './pipeline.js';
import { HttpError } from '../errors.js';

/** GET /v1/health: no auth, no details (load balancers, uptime checks), and no access line. */
export const healthRoute: RouteHandler = () => Promise.resolve(ok({ status: 'ok' }));


/**
 * GET /v1/status (scope admin): the apps the admin key may see, in the configuration's order, a
 * page at a time (`limit`, `cursor`: the last app of the previous page, its `next`), each with its
 * credentials and ledger rows; a third-party platform also with its `platform` section: its ticket's
 * age, its component token, and its authorizers counted by state (at most
 * AUTHORIZERS_COUNTED_PER_CALL per call, lib/platform/platform-status.ts). Never a value.
 */
export const overviewRoute = /* @__PURE__ */ withErrors(/* @__PURE__ */ withScope('admin', async ({ event, deps, hub, grant }) => {
  const page = pageOf(event);
  const now = deps.clock.now();
  const names = deps.refresher.appNames.filter((n) => covers(grant.apps, n));
  const from = page.cursor === undefined ? 0 : names.indexOf(page.cursor) + 1;
  if (from === 0 && page.cursor !== undefined) throw new HttpError(400, 'invalid_cursor', 'cursor must be the `next` of the previous page');
  const shown = names.slice(from, from + page.limit);
  const next = from + page.limit < names.length ? shown[shown.length - 1] : undefined;
  const apps = shown.map((n) => deps.refresher.app(n));
  return ok({ generatedAt: new Date(now).toISOString(), upstream: hub.upstreamStatus(), apps: await hub.statusView.page(apps, now), ...(next ? { next } : {}) });
}));

/**
 * GET /v1/principals (scope admin): the principal rows of the table (docs/architecture.md), in
 * name order, a page at a time (`limit`, `cursor`; `next` when there are more): each principal's
 * name, type, where it came from and its description (secrets as the references they are given by,
 * never their values). Only those the admin key may see.
 */
export const principalsRoute = /* @__PURE__ */ withErrors(/* @__PURE__ */ withScope('admin', async ({ event, hub, grant }) => {
  const page = pageOf(event);
  const { principals, cursor } = await hub.listPrincipals(page);
  const visible = principals.filter((p) => covers(grant.apps, p.name));
  return ok({
    principals: visible.map((p) => ({ name: p.name, type: p.type, source: p.source, updatedAt: new Date(p.updatedAt).toISOString(), doc: p.doc })),
    ...(cursor ? { next: cursor } : {}),
  });
}));

/** GET /v1/status/{app}/quota (scope admin): the hub's ledger beside WeChat's own count (openapi/quota/get) for the token API. */
export const quotaRoute = /* @__PURE__ */ withErrors(/* @__PURE__ */ withScope('admin', async ({ event, deps, hub, grant }) => {
  const name = event.pathParameters?.app ?? decodeSafe(/^\/v1\/status\/([^/]+)\/quota$/.exec(event.rawPath ?? '')?.[1] ?? '');
  permit(grant, name, 'admin');
  if (!deps.refresher.hasApp(name)) throw new HttpError(404, 'unknown_app', 'no such app is configured');
  const app = deps.refresher.app(name);
  const now = deps.clock.now();
  const { quota } = await hub.statusView.of(app, now);
  if (app.type === 'wecom') return ok({ app: name, ledger: quota, wechat: { note: 'WeCom has no quota API; the ledger is the only count' } });
  if (app.type === 'website') return ok({ app: name, ledger: quota, wechat: { note: 'a website app fetches no token: there is no quota to count' } });
  if (app.type === 'platform') return ok({ app: name, ledger: quota, wechat: { note: 'a platform\'s component token is counted by the ledger; WeChat\'s own count is not asked' } });
  if (app.type === 'authorizer') return ok({ app: name, ledger: quota, wechat: { note: 'an authorizer\'s token is counted by the ledger; WeChat\'s own count is not asked' } });
  const count = await wechatCount(deps, hub, app);
  return ok({ app: name, ledger: quota, wechat: count.wechat, wechatAsOf: new Date(count.asOf).toISOString() });
}));

/** The status function's routes (lib/http/routes.ts). */
export const statusHandlers: HandlersOf<'status'> = {
  'GET /v1/status': overviewRoute,
  'GET /v1/status/{app}/quota': quotaRoute,
  'GET /v1/health': healthRoute,
  'GET /v1/principals': principalsRoute,
};

/** How long WeChat's count of an app is kept before WeChat is asked again (per container). */
export const QUOTA_CACHE_MS = 60_000;

interface CountAnswer {
  wechat: Record<string, unknown>;
  asOf: number;
  /** WeChat answered (its count, or its refusal): kept for QUOTA_CACHE_MS. Not kept: the hub had no token, WeChat could not be reached. */
  keep: boolean;
}
/** Per hub: WeChat's last answer per app and token API, or the request for it in flight. */
const countsByHub = new WeakMap<object, Map<string, { until: number; answer: Promise<CountAnswer> }>>();

/** WeChat's own count (openapi/quota/get), asked at most once per QUOTA_CACHE_MS per app; concurrent requests share one call. */
function wechatCount(deps: EdgeDeps, status: HubServices, app: Exclude<HubApp, { type: 'wecom' | 'website' | 'platform' | 'authorizer' }>): Promise<CountAnswer> {
  const cgiPath = app.tokenApi === 'stable' ? '/cgi-bin/stable_token' : '/cgi-bin/token';
  let counts = countsByHub.get(deps.refresher);
  if (!counts) countsByHub.set(deps.refresher, (counts = new Map()));
  const key = `${app.name}#${cgiPath}`;
  const now = deps.clock.now();
  const cached = counts.get(key);
  if (cached && cached.until > now) return cached.answer;
  const answer = askWeChat(deps, status, app.name, cgiPath);
  const entry = { until: now + QUOTA_CACHE_MS, answer };
  counts.set(key, entry);
  void answer.then((a) => {
    if (!a.keep && counts.get(key) === entry) counts.delete(key);
  });
  return answer;
}

async function askWeChat(deps: EdgeDeps, status: HubServices, name: string, cgiPath: string): Promise<CountAnswer> {
  try {
    const token = (await deps.refresher.get(name)).value;
    const q = await status.wechat.getApiQuota(token, cgiPath);
    return { wechat: { cgi_path: cgiPath, daily_limit: q.dailyLimit, used: q.used, remain: q.remain }, asOf: deps.clock.now(), keep: true };
  } catch (error) {
    const answered = error instanceof WeChatError && error.errcode !== undefined;
    return {
      wechat: { cgi_path: cgiPath, error: answered ? { errcode: error.errcode, errmsg: error.errmsg } : { code: errorCode(error) } },
      asOf: deps.clock.now(),
      keep: answered,
    };
  }
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
