import type { HubApp } from '../apps.js';
import type { StatusView, UpstreamStatus } from '../status.js';
import { errorCode } from '../policy.js';
import { WeChatError } from '../wechat/errors.js';
import type { WeChatClient } from '../wechat/client.js';
import { permit, type Grant } from './auth.js';
import { callerOf, notRouted, ok, respond, type EdgeDeps, type HttpEvent, type HttpResult } from './edge.js';
import { HttpError } from './errors.js';

export interface StatusDeps {
  view: StatusView;
  /** WeChat's client, for its own quota count (openapi/quota/get). */
  wechat: WeChatClient;
  /** Which API base answered last, per platform, in this container. */
  upstream?: () => UpstreamStatus;
}

/** GET /v1/health (no auth, no details), GET /v1/status and GET /v1/status/{app}/quota (scope admin). */
export function statusRoutes(event: HttpEvent, deps: EdgeDeps, status: StatusDeps): Promise<HttpResult> {
  const method = event.requestContext?.http?.method ?? 'GET';
  const path = event.rawPath ?? '';
  if (path === '/v1/health') {
    if (method !== 'GET') return Promise.resolve(notRouted(event, ['GET']));
    return Promise.resolve(ok({ status: 'ok' }));
  }
  if (method !== 'GET') return Promise.resolve(notRouted(event, ['GET']));
  if (path === '/v1/status') return respond(deps, () => overview(event, deps, status));
  const quota = /^\/v1\/status\/([^/]+)\/quota$/.exec(path);
  if (quota) return respond(deps, () => appQuota(event, deps, status, event.pathParameters?.app ?? decodeURIComponent(quota[1]!)));
  return Promise.resolve(notRouted(event, undefined));
}

/** Every app the admin key may see, and each of its credentials and ledger rows. Never a value. */
async function overview(event: HttpEvent, deps: EdgeDeps, status: StatusDeps): Promise<HttpResult> {
  const grant = await admin(event, deps);
  const now = deps.clock.now();
  const apps = deps.refresher.appNames.filter((n) => grant.apps.includes('*') || grant.apps.includes(n)).map((n) => deps.refresher.app(n));
  return ok({ generatedAt: new Date(now).toISOString(), ...(status.upstream ? { upstream: status.upstream() } : {}), apps: await Promise.all(apps.map((a) => status.view.of(a, now))) });
}

/** The hub's ledger beside WeChat's own count (openapi/quota/get) for the token API. */
async function appQuota(event: HttpEvent, deps: EdgeDeps, status: StatusDeps, name: string): Promise<HttpResult> {
  const grant = await admin(event, deps);
  permit(grant, name, 'admin');
  if (!deps.refresher.hasApp(name)) throw new HttpError(404, 'unknown_app', 'no such app is configured');
  const app = deps.refresher.app(name);
  const now = deps.clock.now();
  const { quota } = await status.view.of(app, now);
  return ok({ app: name, ledger: quota, wechat: await wechatCount(deps, status, app) });
}

async function wechatCount(deps: EdgeDeps, status: StatusDeps, app: HubApp) {
  if (app.type === 'wecom') return { note: 'WeCom has no quota API; the ledger is the only count' };
  const cgiPath = app.tokenApi === 'stable' ? '/cgi-bin/stable_token' : '/cgi-bin/token';
  try {
    const token = (await deps.refresher.get(app.name)).value;
    const q = await status.wechat.getApiQuota(token, cgiPath);
    return { cgi_path: cgiPath, daily_limit: q.dailyLimit, used: q.used, remain: q.remain };
  } catch (error) {
    return { cgi_path: cgiPath, error: error instanceof WeChatError && error.errcode !== undefined ? { errcode: error.errcode, errmsg: error.errmsg } : { code: errorCode(error) } };
  }
}

async function admin(event: HttpEvent, deps: EdgeDeps): Promise<Grant> {
  const grant = await callerOf(event, deps);
  if (!grant.scopes.includes('admin')) throw new HttpError(403, 'forbidden', 'this caller lacks the "admin" scope');
  deps.logger.appendKeys({ caller: grant.name });
  return grant;
}
