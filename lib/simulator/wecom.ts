import type { ServerResponse } from 'node:http';
import { errorBody, WECOM_ERRMSG } from './errors.js';
import { sendJson } from './http.js';
import { newWeComToken } from './issuer.js';
import type { SimState, WeComRecord } from './state.js';
import { CALLBACK_IPS } from './wechat.js';

/** WeCom's routes (qyapi.weixin.qq.com), served on the same port as WeChat's: only getcallbackip shares a path. */

const HOUR_MS = 3_600_000;

function error(res: ServerResponse, errcode: number): void {
  sendJson(res, errorBody(WECOM_ERRMSG, errcode));
}

/** GET /cgi-bin/gettoken?corpid=&corpsecret= */
export function weComToken(sim: SimState, res: ServerResponse, url: URL): void {
  const corpid = url.searchParams.get('corpid');
  const secret = url.searchParams.get('corpsecret');
  const apps = sim.weComApps().filter((s) => s.app.corpid === corpid);
  // The app is known by corpid and secret together; a wrong secret names no app, so nothing is counted.
  const state = secret ? apps.find((s) => s.app.secret === secret) : undefined;
  if (state) sim.count(state, 'wecom_gettoken');
  if (sim.injected(res, state?.id ?? null, 'wecom_gettoken', WECOM_ERRMSG)) return;
  if (!corpid) return error(res, 41002);
  if (!secret) return error(res, 41004);
  if (apps.length === 0) return error(res, 40013);
  if (!state) return error(res, 40001);
  const issued = sim.issueToken(state, state.token, newWeComToken(), sim.settings.wecomTokenOverlapMs);
  sendJson(res, { errcode: 0, errmsg: 'ok', access_token: issued.value, expires_in: sim.expiresIn(issued) });
}

/** GET /cgi-bin/get_jsapi_ticket?access_token= (the corp ticket, for wx.config) */
export function weComJsapiTicket(sim: SimState, res: ServerResponse, url: URL): void {
  const token = url.searchParams.get('access_token');
  const owner = token ? sim.weComOwner(token) : undefined;
  if (owner) sim.count(owner, 'wecom_jsapi_ticket');
  if (sim.injected(res, owner?.id ?? null, 'wecom_jsapi_ticket', WECOM_ERRMSG)) return;
  if (tokenRefused(sim, res, token, owner)) return;
  issueTicket(sim, res, owner!, 'jsapi');
}

/** GET /cgi-bin/ticket/get?access_token=&type=agent_config (the app ticket, for wx.agentConfig) */
export function weComAgentTicket(sim: SimState, res: ServerResponse, url: URL): void {
  const token = url.searchParams.get('access_token');
  const owner = token ? sim.weComOwner(token) : undefined;
  if (owner) sim.count(owner, 'wecom_agent_config');
  if (sim.injected(res, owner?.id ?? null, 'wecom_agent_config', WECOM_ERRMSG)) return;
  if (tokenRefused(sim, res, token, owner)) return;
  if (url.searchParams.get('type') !== 'agent_config') return error(res, 40058);
  // A secret without an AgentId (contacts sync, customer contact) is no app's: it has no app ticket.
  if (owner!.app.agentid === undefined) return error(res, 48001);
  issueTicket(sim, res, owner!, 'agent_config');
}

/** GET /cgi-bin/getcallbackip?access_token= with a token that WeCom issued. */
export function weComCallbackIp(sim: SimState, res: ServerResponse, owner: WeComRecord, token: string): void {
  sim.count(owner, 'wecom_getcallbackip');
  if (sim.injected(res, owner.id, 'wecom_getcallbackip', WECOM_ERRMSG)) return;
  if (owner.token.isValid(token, sim.now())) return sendJson(res, { ip_list: CALLBACK_IPS, errcode: 0, errmsg: 'ok' });
  sendJson(res, { ip_list: [], ...errorBody(WECOM_ERRMSG, 42001) });
}

/** Answer for a missing, unknown or no longer valid token; false when the token is good. */
function tokenRefused(sim: SimState, res: ServerResponse, token: string | null, owner: WeComRecord | undefined): boolean {
  if (!token) error(res, 41001);
  else if (!owner) error(res, 40014);
  else if (!owner.token.isValid(token, sim.now())) error(res, 42001);
  else return false;
  return true;
}

/** Issue a ticket unless the app or its corp has had its fill this hour (both kinds together). */
function issueTicket(sim: SimState, res: ServerResponse, owner: WeComRecord, type: 'jsapi' | 'agent_config'): void {
  const now = sim.now();
  const corpApps = sim.weComApps().filter((s) => s.app.corpid === owner.app.corpid);
  for (const s of corpApps) s.ticketIssues = s.ticketIssues.filter((t) => t > now - HOUR_MS);
  const corpIssues = corpApps.reduce((n, s) => n + s.ticketIssues.length, 0);
  if (owner.ticketIssues.length >= sim.settings.wecomTicketHourlyPerApp || corpIssues >= sim.settings.wecomTicketHourlyPerCorp) {
    return error(res, 45009);
  }
  owner.ticketIssues.push(now);
  sendJson(res, sim.ticketBody(sim.issueTicket(owner, type)));
}
