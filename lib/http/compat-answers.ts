import type { HubApp } from '../apps.js';
import { ForcedRefreshBudgetError, NoTokenAvailableError, UpstreamLimitError } from '../errors.js';
import { servedSeconds } from '../policy.js';
import type { Served } from '../refresher.js';
import { WeChatError } from '../wechat/errors.js';
import { knowServed } from './compat-lookup.js';
import { NOSNIFF, type EdgeDeps, type HttpResult } from './edge.js';

/**
 * What the WeChat-compatible paths (lib/http/compat-routes.ts) answer, shaped as WeChat's own: a
 * token or a ticket, and every refusal or failure as `{"errcode","errmsg"}` with HTTP 200 (the hub's
 * own failures mapped to the WeChat codes an SDK knows).
 */

/** A WeChat-shaped refusal. */
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

/** What the hub's own failures look like to an SDK: WeChat's codes, with the hub's reason. */
export function asWeChat(error: unknown, deps: EdgeDeps): WeChatAnswer {
  if (error instanceof WeChatAnswer) return error;
  if (error instanceof NoTokenAvailableError) {
    const up = error.upstream;
    const errcode = up instanceof WeChatError ? up.errcode : up ? Number(up.code.split(':')[1]) || undefined : undefined;
    const kind = up instanceof WeChatError ? up.kind : up?.code.split(':')[0];
    if (errcode !== undefined && kind !== 'retry_later') return new WeChatAnswer(errcode, `WeChat refused to issue a token to the hub (errcode ${errcode})`);
    return new WeChatAnswer(-1, 'system error: the hub has no valid token right now; try again later');
  }
  if (error instanceof ForcedRefreshBudgetError) return new WeChatAnswer(45009, `reach max api daily quota limit: ${error.message}`);
  if (error instanceof UpstreamLimitError) return new WeChatAnswer(45009, `api freq out of limit: ${error.message}`);
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
