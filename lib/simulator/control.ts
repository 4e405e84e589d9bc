import type { ServerResponse } from 'node:http';
import { errorBody, WECHAT_ERRMSG } from './errors.js';
import { sendJson } from './http.js';
import type { SimState } from './state.js';
import { ENDPOINTS, type SimulatedEndpoint, type SimulatedFault, type SimulatedLoginUser } from './types.js';

/** The simulator's own control routes, under /__sim/. Not part of WeChat or WeCom. */

function error(res: ServerResponse, errcode: number): void {
  sendJson(res, errorBody(WECHAT_ERRMSG, errcode));
}

function parse(raw: string): Record<string, unknown> | undefined {
  try {
    const body: unknown = JSON.parse(raw);
    return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** POST /__sim/fail {"appid"?, "errcode"? | "mode": "hang"|"reset", "times"?, "endpoints"?} */
export function controlFail(sim: SimState, res: ServerResponse, raw: string, defaultEndpoints: readonly SimulatedEndpoint[]): void {
  const b = parse(raw) as { appid?: string; errcode?: number; mode?: 'hang' | 'reset'; times?: number; endpoints?: unknown } | undefined;
  if (!b) return error(res, 47001);
  const endpoints = b.endpoints ?? defaultEndpoints;
  if (!Array.isArray(endpoints) || !endpoints.every((e) => ENDPOINTS.includes(e as SimulatedEndpoint))) return error(res, 47001);
  const fault: SimulatedFault = b.mode ? { kind: b.mode } : { kind: 'errcode', errcode: Number(b.errcode ?? -1) };
  sim.faults.add(fault, b.times ?? 1, b.appid ?? '*', endpoints as SimulatedEndpoint[]);
  sendJson(res, { errcode: 0, errmsg: 'ok' });
}

/** POST /__sim/revoke {"appid"}: every token of that app invalid at once, as an outside fetch would make them. */
export function controlRevoke(sim: SimState, res: ServerResponse, raw: string, revoke: (id: string) => void): void {
  const b = parse(raw);
  if (!b || typeof b.appid !== 'string') return error(res, 47001);
  if (!sim.apps.has(b.appid)) return error(res, 40013);
  revoke(b.appid);
  sendJson(res, { errcode: 0, errmsg: 'ok' });
}

/** POST /__sim/login-code {"appid", "user"?, "scope"?, "unionid"?, "risky"?}: a user's login code for that app (once, 5 minutes). */
export function controlLoginCode(res: ServerResponse, raw: string, issue: (appid: string, user: SimulatedLoginUser) => { code: string; openid: string }): void {
  const b = parse(raw);
  if (!b || typeof b.appid !== 'string') return error(res, 47001);
  const user: SimulatedLoginUser = {};
  if (typeof b.user === 'string') user.user = b.user;
  if (typeof b.scope === 'string') user.scope = b.scope;
  if (typeof b.unionid === 'boolean') user.unionid = b.unionid;
  if (typeof b.risky === 'boolean') user.risky = b.risky;
  try {
    sendJson(res, { errcode: 0, errmsg: 'ok', ...issue(b.appid, user) });
  } catch {
    error(res, 40013);
  }
}
