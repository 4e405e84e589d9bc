import type { HubApp } from '../apps.js';
import { HubError } from '../errors.js';
import { servedSeconds } from '../policy.js';
import type { Served } from '../refresher.js';
import { knowServed } from './compat-lookup.js';
import { NOSNIFF, type EdgeDeps, type HttpResult } from './edge.js';

/**
 * What the WeChat-compatible paths (lib/http/compat-routes.ts) answer, shaped as WeChat's own: a
 * token or a ticket, and every refusal or failure as `{"errcode","errmsg"}` with HTTP 200 (the hub's
 * own failures mapped to the WeChat codes an SDK knows).
 */

/** A WeChat-shaped refusal of these paths (an answer, not a failure of the hub: it is never logged as one). */
export class WeChatAnswer extends Error {
  constructor(
    readonly errcode: number,
    readonly errmsg: string,
  ) {
    super(errmsg);
  }
}

/** A body past what the compat paths take, answered as WeChat answers one (the local server's limit). */
export function compatBodyTooLarge(): HttpResult {
  return answer(new WeChatAnswer(47001, 'data format error: body too large'));
}

export function tokenAnswer(s: Served, deps: EdgeDeps, app: HubApp): HttpResult {
  knowServed(deps, app, s);
  const token = { access_token: s.value, expires_in: servedSeconds(s, deps.clock.now()) };
  return json(app.type === 'wecom' ? { errcode: 0, errmsg: 'ok', ...token } : token);
}

export function ticketAnswer(s: Served, deps: EdgeDeps): HttpResult {
  return json({ errcode: 0, errmsg: 'ok', ticket: s.value, expires_in: servedSeconds(s, deps.clock.now()) });
}

/**
 * The one translation of a failure to WeChat's shape: a refusal of these paths as it is; a HubError
 * as the WeChat code an SDK knows (each class says its own: `wechat`); anything else WeChat's -1,
 * logged.
 */
export function asWeChat(error: unknown, deps: EdgeDeps): WeChatAnswer {
  if (error instanceof WeChatAnswer) return error;
  if (error instanceof HubError && error.wechat) return new WeChatAnswer(error.wechat.errcode, error.wechat.errmsg);
  deps.logger.error('compat request failed', { error: error instanceof Error ? error.name : 'unknown' });
  return new WeChatAnswer(-1, 'system error');
}

export function answer(e: WeChatAnswer): HttpResult {
  return json({ errcode: e.errcode, errmsg: e.errmsg });
}

/** A WeChat-shaped answer: JSON with HTTP 200, never cached or sniffed. */
export function json(body: unknown): HttpResult {
  return { statusCode: 200, headers: { 'content-type': 'application/json; encoding=utf-8', 'cache-control': 'no-store', ...NOSNIFF }, body: JSON.stringify(body) };
}
