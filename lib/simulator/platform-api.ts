import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody, WECHAT_ERRMSG } from './errors.js';
import { sendJson } from './http.js';
import { SimPlatforms, TICKET_LIFE_MS, PRE_AUTH_LIFE_S, type PlatformRecord } from './platform.js';
import type { SimulatedEndpoint } from './types.js';

/**
 * A third-party platform's calls, all POST JSON (docs/wechat.md §10):
 *   /cgi-bin/component/api_component_token    {component_appid, component_appsecret, component_verify_ticket}
 *   /cgi-bin/component/api_start_push_ticket  {component_appid, component_secret}
 * and with ?component_access_token= (or ?access_token=):
 *   /cgi-bin/component/api_create_preauthcode {component_appid}
 *   /cgi-bin/component/api_query_auth         {component_appid, authorization_code}
 *   /cgi-bin/component/api_authorizer_token   {component_appid, authorizer_appid, authorizer_refresh_token}
 *   /cgi-bin/component/api_get_authorizer_list {component_appid, offset, count}
 * Each is counted for, and matched by faults of, the component appid (the body's, else the token's platform).
 */

export const PLATFORM_ROUTES: Readonly<Record<string, SimulatedEndpoint>> = {
  '/cgi-bin/component/api_component_token': 'component_token',
  '/cgi-bin/component/api_start_push_ticket': 'start_push_ticket',
  '/cgi-bin/component/api_create_preauthcode': 'preauthcode',
  '/cgi-bin/component/api_query_auth': 'query_auth',
  '/cgi-bin/component/api_authorizer_token': 'authorizer_token',
  '/cgi-bin/component/api_get_authorizer_list': 'authorizer_list',
};

const MAX_LIST = 500;

type Body = Record<string, unknown>;

function error(res: ServerResponse, errcode: number): void {
  sendJson(res, errorBody(WECHAT_ERRMSG, errcode));
}

function parse(raw: string): Body | undefined {
  try {
    const b: unknown = JSON.parse(raw || '{}');
    return b && typeof b === 'object' && !Array.isArray(b) ? (b as Body) : undefined;
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

export function platformRoute(platforms: SimPlatforms, req: IncomingMessage, res: ServerResponse, url: URL, raw: string): void {
  const endpoint = PLATFORM_ROUTES[url.pathname]!;
  const sim = platforms.sim;
  const body = parse(raw);
  const token = url.searchParams.get('component_access_token') ?? url.searchParams.get('access_token');
  const named = body ? str(body.component_appid) : undefined;
  const p = (named ? platforms.platforms.get(named) : undefined) ?? (token ? platforms.tokenOwner(token) : undefined);
  if (p) sim.count(p, endpoint);
  if (sim.injected(res, p?.platform.appid ?? named ?? null, endpoint, WECHAT_ERRMSG)) return;
  if (req.method !== 'POST') return error(res, 43002);
  if (!body) return error(res, 47001);
  if (endpoint === 'component_token' || endpoint === 'start_push_ticket') {
    if (!named) return error(res, 41002);
    const secret = str(endpoint === 'component_token' ? body.component_appsecret : body.component_secret);
    if (!secret) return error(res, 41004);
    if (!p || p.platform.appid !== named) return error(res, 40013);
    if (secret !== p.platform.secret) return error(res, 40125);
    if (endpoint === 'start_push_ticket') {
      void platforms.pushTicket(p.platform.appid); // at once, while the answer goes back
      return sendJson(res, { errcode: 0, errmsg: 'ok' });
    }
    return componentToken(platforms, res, p, body);
  }
  if (!token) return error(res, 41001);
  const owner = platforms.tokenOwner(token);
  if (!owner) return error(res, 40001);
  if (!owner.tokens.isValid(token, sim.now())) return error(res, 42001);
  if (!named) return error(res, 41002);
  if (named !== owner.platform.appid) return error(res, 61011);
  switch (endpoint) {
    case 'preauthcode':
      return sendJson(res, { pre_auth_code: platforms.issuePreAuthCode(owner), expires_in: PRE_AUTH_LIFE_S });
    case 'query_auth':
      return queryAuth(platforms, res, owner, body);
    case 'authorizer_token':
      return authorizerToken(platforms, res, owner, body);
    default:
      return authorizerList(res, owner, body);
  }
}

/** Only the latest or the previous pushed ticket, each for 12 h: any other 61006, an expired one 61005. */
function componentToken(platforms: SimPlatforms, res: ServerResponse, p: PlatformRecord, body: Body): void {
  const ticket = p.tickets.find((t) => t.value === body.component_verify_ticket);
  if (!ticket) return error(res, 61006);
  if (ticket.issuedAt + TICKET_LIFE_MS <= platforms.sim.now()) return error(res, 61005);
  const issued = platforms.issueComponentToken(p);
  sendJson(res, { component_access_token: issued.value, expires_in: platforms.sim.expiresIn(issued) });
}

/** An authorization code is good once, for 10 minutes: unknown 61009, used or expired 61010. */
function queryAuth(platforms: SimPlatforms, res: ServerResponse, p: PlatformRecord, body: Body): void {
  const code = str(body.authorization_code);
  if (!code) return error(res, 41008);
  const pending = p.codes.get(code);
  if (!pending) return error(res, 61009);
  const stale = pending.used || pending.expiresAt <= platforms.sim.now();
  pending.used = true;
  if (stale) return error(res, 61010);
  const a = p.authorizers.get(pending.authorizer);
  if (!a) return error(res, 61009);
  const issued = platforms.issueAuthorizerToken(a);
  sendJson(res, {
    authorization_info: {
      authorizer_appid: a.appid,
      authorizer_access_token: issued.value,
      expires_in: platforms.sim.expiresIn(issued),
      authorizer_refresh_token: a.refreshToken,
      func_info: a.funcs.map((id) => ({ funcscope_category: { id } })),
    },
  });
}

/**
 * Not (or no longer) authorized: 61003; authorized, but with another refresh token (a replaced or a
 * rotated one): 61023. With `rotateRefreshTokens` each answer carries a new refresh token.
 */
function authorizerToken(platforms: SimPlatforms, res: ServerResponse, p: PlatformRecord, body: Body): void {
  const appid = str(body.authorizer_appid);
  const refresh = str(body.authorizer_refresh_token);
  if (!appid) return error(res, 41002);
  if (!refresh) return error(res, 61023);
  const a = p.authorizers.get(appid);
  if (!a) return error(res, 61003);
  if (refresh !== a.refreshToken || a.broken) return error(res, 61023);
  const issued = platforms.issueAuthorizerToken(a);
  const refreshToken = platforms.answeredRefreshToken(p, a); // rotated when the platform says so
  sendJson(res, { authorizer_access_token: issued.value, expires_in: platforms.sim.expiresIn(issued), authorizer_refresh_token: refreshToken });
}

/** Every account that authorized the platform, oldest authorization first, with its current refresh token. */
function authorizerList(res: ServerResponse, p: PlatformRecord, body: Body): void {
  const offset = Number(body.offset ?? 0);
  const count = Number(body.count);
  if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(count) || count < 1 || count > MAX_LIST) return error(res, 40097);
  const all = [...p.authorizers.values()].sort((x, y) => x.authTime - y.authTime);
  const list = all.slice(offset, offset + count).map((a) => ({ authorizer_appid: a.appid, refresh_token: a.refreshToken, auth_time: a.authTime }));
  sendJson(res, { errcode: 0, errmsg: 'ok', total_count: all.length, list });
}

/**
 * The control routes (not WeChat's), each POST JSON naming the platform as `component_appid`:
 *   /__sim/authorize   {component_appid, authorizer_appid, funcs?, redirect_uri?, pre_auth_code?} → {authorization_code, expires_in, redirect_url?, push}
 *   /__sim/unauthorize {component_appid, authorizer_appid} → {push}
 *   /__sim/push-ticket {component_appid} → {ticket, push}
 *   /__sim/event-url   {component_appid, url}
 * An unknown platform or authorizer: 40013; a malformed body: 47001.
 */
export async function platformControl(platforms: SimPlatforms, res: ServerResponse, path: string, raw: string): Promise<void> {
  const b = parse(raw);
  const appid = b ? str(b.component_appid) : undefined;
  if (!b || !appid) return error(res, 47001);
  if (!platforms.platforms.has(appid)) return error(res, 40013);
  const authorizer = str(b.authorizer_appid);
  const ok = (more: Body) => sendJson(res, { errcode: 0, errmsg: 'ok', ...more });
  switch (path) {
    case '/__sim/authorize': {
      if (!authorizer) return error(res, 47001);
      if (b.funcs !== undefined && !(Array.isArray(b.funcs) && b.funcs.every((f) => Number.isInteger(f)))) return error(res, 47001);
      const r = await platforms.authorize(appid, authorizer, { funcs: b.funcs as number[] | undefined, redirectUri: str(b.redirect_uri), preAuthCode: str(b.pre_auth_code) });
      return ok({ authorization_code: r.code, expires_in: r.expiresIn, ...(r.redirectUrl ? { redirect_url: r.redirectUrl } : {}), push: r.push });
    }
    case '/__sim/unauthorize':
      if (!authorizer) return error(res, 47001);
      if (!platforms.record(appid).authorizers.has(authorizer)) return error(res, 40013);
      return ok({ push: await platforms.unauthorize(appid, authorizer) });
    case '/__sim/push-ticket': {
      const { ticket, ...push } = await platforms.pushTicket(appid);
      return ok({ ticket, push });
    }
    default: {
      const target = str(b.url);
      if (!target) return error(res, 47001);
      platforms.record(appid).eventUrl = target;
      return ok({});
    }
  }
}
