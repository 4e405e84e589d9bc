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
  if (quota) return respond(deps, () => appQuota(event, deps, status, event.pathParameters?.app ?? decodeSafe(quota[1]!)));
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
  if (app.type === 'wecom') return ok({ app: name, ledger: quota, wechat: { note: 'WeCom has no quota API; the ledger is the only count' } });
  if (app.type === 'website') return ok({ app: name, ledger: quota, wechat: { note: 'a website app fetches no token: there is no quota to count' } });
  const count = await wechatCount(deps, status, app);
  return ok({ app: name, ledger: quota, wechat: count.wechat, wechatAsOf: new Date(count.asOf).toISOString() });
}

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
function wechatCount(deps: EdgeDeps, status: StatusDeps, app: Exclude<HubApp, { type: 'wecom' | 'website' }>): Promise<CountAnswer> {
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

async function askWeChat(deps: EdgeDeps, status: StatusDeps, name: string, cgiPath: string): Promise<CountAnswer> {
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

async function admin(event: HttpEvent, deps: EdgeDeps): Promise<Grant> {
  const grant = await callerOf(event, deps);
  if (!grant.scopes.includes('admin')) throw new HttpError(403, 'forbidden', 'this caller lacks the "admin" scope');
  deps.logger.appendKeys({ caller: grant.name });
  return grant;
}
