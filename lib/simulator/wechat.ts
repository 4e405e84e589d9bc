import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody, WECHAT_ERRMSG } from './errors.js';
import { sendJson } from './http.js';
import { newWeChatToken, type Issued } from './issuer.js';
import type { SimState, WeChatRecord } from './state.js';

/** WeChat's routes (api.weixin.qq.com): tokens, the getcallbackip probe, JS-SDK tickets. */

const STABLE_NORMAL_RENEW_MS = 5 * 60_000;
const STABLE_FORCE_SPACING_MS = 30_000;
const STABLE_FORCE_DAILY = 20;

export const CALLBACK_IPS = ['101.226.103.0/25', '101.226.62.0/26'];

function error(res: ServerResponse, errcode: number): void {
  sendJson(res, errorBody(WECHAT_ERRMSG, errcode));
}

function rotate(sim: SimState, s: WeChatRecord, api: 'classic' | 'stable'): Issued {
  return sim.issueToken(s, s[api], newWeChatToken(), sim.settings.overlapMs);
}

/** GET /cgi-bin/token?grant_type=client_credential&appid=&secret= */
export function classicToken(sim: SimState, req: IncomingMessage, res: ServerResponse, url: URL): void {
  const appid = url.searchParams.get('appid');
  const secret = url.searchParams.get('secret');
  const found = appid ? sim.apps.get(appid) : undefined;
  const state = found?.kind === 'wechat' ? found : undefined;
  if (state) sim.count(state, 'token');
  if (sim.injected(res, appid, 'token', WECHAT_ERRMSG)) return;
  if (req.method !== 'GET') return error(res, 43001);
  if (url.searchParams.get('grant_type') !== 'client_credential') return error(res, 40002);
  if (!appid) return error(res, 41002);
  if (!secret) return error(res, 41004);
  if (!state) return error(res, 40013);
  if (secret !== state.app.secret) return error(res, 40001);
  if (sim.calls(appid, 'token') > (state.app.dailyQuota ?? sim.settings.dailyQuota)) return error(res, 45009);
  const issued = rotate(sim, state, 'classic');
  sendJson(res, { access_token: issued.value, expires_in: sim.expiresIn(issued) });
}

/** POST /cgi-bin/stable_token {"grant_type","appid","secret","force_refresh"} */
export function stableToken(sim: SimState, req: IncomingMessage, res: ServerResponse, raw: string): void {
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(raw || '{}') as Record<string, unknown>;
  } catch {
    return error(res, 47001);
  }
  const appid = typeof body.appid === 'string' ? body.appid : undefined;
  const found = appid ? sim.apps.get(appid) : undefined;
  const state = found?.kind === 'wechat' ? found : undefined;
  if (state) sim.count(state, 'stable_token');
  if (sim.injected(res, appid ?? null, 'stable_token', WECHAT_ERRMSG)) return;
  if (req.method !== 'POST') return error(res, 43002);
  if (body.grant_type !== 'client_credential') return error(res, 40002);
  if (!appid) return error(res, 41002);
  if (typeof body.secret !== 'string' || !body.secret) return error(res, 41004);
  if (!state) return error(res, 40013);
  if (body.secret !== state.app.secret) return error(res, 40125);
  if (sim.calls(appid, 'stable_token') > sim.settings.stableDailyQuota) return error(res, 45009);
  const now = sim.now();
  const cur = state.stable.current;
  let issued: Issued;
  if (body.force_refresh === true) {
    sim.count(state, 'stable_token_force');
    if (sim.calls(appid, 'stable_token_force') > STABLE_FORCE_DAILY) return error(res, 45009);
    const spaced = state.lastStableForceAt === undefined || now - state.lastStableForceAt >= STABLE_FORCE_SPACING_MS;
    // Within 30 s of the last force "no refresh happens": the current token comes back.
    issued = spaced || !cur || cur.expiresAt <= now ? rotate(sim, state, 'stable') : cur;
    if (spaced) state.lastStableForceAt = now;
  } else {
    // Normal mode: the same token until its last 5 minutes, then a new one.
    issued = cur && cur.expiresAt - now > STABLE_NORMAL_RENEW_MS ? cur : rotate(sim, state, 'stable');
  }
  sendJson(res, { access_token: issued.value, expires_in: sim.expiresIn(issued) });
}

/**
 * GET /cgi-bin/getcallbackip or /cgi-bin/get_api_domain_ip ?access_token= with anything but a WeCom
 * token (both take only a token: the hub's probes, Mini Programs' included).
 */
export function callbackIp(sim: SimState, res: ServerResponse, url: URL, endpoint: 'getcallbackip' | 'get_api_domain_ip' = 'getcallbackip'): void {
  const token = url.searchParams.get('access_token');
  const owner = token ? sim.weChatOwner(token) : undefined;
  if (owner) sim.count(owner, endpoint);
  if (sim.injected(res, owner?.id ?? null, endpoint, WECHAT_ERRMSG)) return;
  if (!token) return error(res, 41001);
  if (sim.isTokenValid(token)) return sendJson(res, { ip_list: CALLBACK_IPS });
  if (owner) return error(res, 42001);
  return error(res, 40001);
}

/** GET /cgi-bin/ticket/getticket?access_token=&type=jsapi|wx_card */
export function getTicket(sim: SimState, res: ServerResponse, url: URL): void {
  const token = url.searchParams.get('access_token');
  const type = url.searchParams.get('type');
  // Counted for, and faults matched by, the app the token was issued to, even long since replaced or revoked.
  const found = token ? sim.issuedTo(token) : undefined;
  const issuer = found?.kind === 'wechat' ? found : undefined;
  // A call with no valid type has no endpoint name: it is neither counted nor matched by a fault.
  const endpoint = type === 'jsapi' ? 'ticket_jsapi' : type === 'wx_card' ? 'ticket_wx_card' : undefined;
  if (endpoint) {
    if (issuer) sim.count(issuer, endpoint);
    if (sim.injected(res, issuer?.id ?? null, endpoint, WECHAT_ERRMSG)) return;
  }
  if (!token) return error(res, 41001);
  // As getcallbackip: 42001 for the latest or previous token once expired, 40001 for any other.
  const owner = sim.weChatOwner(token);
  if (!owner) return error(res, 40001);
  if (!sim.weChatTokenValid(owner, token)) return error(res, 42001);
  if (type !== 'jsapi' && type !== 'wx_card') return error(res, 40097);
  sendJson(res, sim.ticketBody(sim.issueTicket(owner, type)));
}

/** POST /cgi-bin/openapi/quota/get?access_token= {"cgi_path"}: WeChat's own count of today's calls. */
export function apiQuota(sim: SimState, res: ServerResponse, url: URL, raw: string): void {
  const token = url.searchParams.get('access_token');
  if (!token) return error(res, 41001);
  const owner = sim.weChatOwner(token);
  if (!owner || !sim.weChatTokenValid(owner, token)) return error(res, owner ? 42001 : 40001);
  let path: unknown;
  try {
    path = (JSON.parse(raw || '{}') as { cgi_path?: unknown }).cgi_path;
  } catch {
    return error(res, 47001);
  }
  const limits: Record<string, [string, number]> = {
    '/cgi-bin/token': ['token', owner.app.dailyQuota ?? sim.settings.dailyQuota],
    '/cgi-bin/stable_token': ['stable_token', sim.settings.stableDailyQuota],
  };
  const known = typeof path === 'string' ? limits[path] : undefined;
  if (!known) return sendJson(res, { errcode: 76021, errmsg: 'cgi_path not found' });
  const used = sim.calls(owner.id, known[0] as 'token');
  sendJson(res, { errcode: 0, errmsg: 'ok', quota: { daily_limit: known[1], used, remain: Math.max(0, known[1] - used) } });
}
