import type { HubApp, WeChatApp, WeComApp } from '../apps.js';
import { ForcedRefreshBudgetError, ForcedRefreshSpacingError } from '../errors.js';
import type { Served } from '../refresher.js';
import { covers, type Grant } from './auth.js';
import { ticketAnswer, tokenAnswer, WeChatAnswer } from './compat-answers.js';
import { appOf, compatApps, grantOf } from './compat-lookup.js';
import type { EdgeDeps, HttpEvent, HttpResult } from './edge.js';
import type { HubServices } from './pipeline.js';
import type { FunctionRouteKey } from './routes.js';

/**
 * WeChat's token and ticket endpoints on the WeChat-compatible paths (lib/http/compat-routes.ts),
 * one per compat route of the table (lib/http/routes.ts) but the catch-all. The `secret` (WeCom:
 * `corpsecret`) an SDK sends is a hub API key with the `read` scope on that app, never the
 * AppSecret; a ticket endpoint takes a token the hub serves.
 */

/** One request on the WeChat-compatible paths: its method, path and query (which carries a key or a token: never logged). */
export interface CompatRequest {
  method: string;
  path: string;
  q: URLSearchParams;
  event: HttpEvent;
  deps: EdgeDeps;
  hub: HubServices;
}
export type CompatEndpoint = (c: CompatRequest) => Promise<HttpResult>;

const INVALID_KEY = 'invalid appsecret: the secret must be a hub API key with the read scope on this app, not the AppSecret';
export const TOKEN_INVALID_MSG = 'invalid credential, access_token is invalid or not latest';
/** The most a token or ticket endpoint's body (stable_token's JSON) may be. */
export const COMPAT_MAX_BODY_BYTES = 4096;

/** The endpoints, by the table's route key (the catch-all is compat-routes.ts's; a platform's, /cgi-bin/component/, compat-component.ts's). */
export const COMPAT_ENDPOINTS: Record<Exclude<FunctionRouteKey<'compat'>, 'ANY /{path+}' | `${string} /cgi-bin/component/${string}`>, CompatEndpoint> = {
  async 'GET /cgi-bin/token'({ q, deps }) {
    if (q.get('grant_type') !== 'client_credential') throw new WeChatAnswer(40002, 'invalid grant_type');
    const app = await wechatApp(deps, q.get('appid'), q.get('secret'));
    return tokenAnswer(await deps.refresher.get(app.app.name), deps, app.app);
  },
  async 'POST /cgi-bin/stable_token'({ event, deps }) {
    const body = compatBody(event);
    if (body.grant_type !== 'client_credential') throw new WeChatAnswer(40002, 'invalid grant_type');
    const app = await wechatApp(deps, str(body.appid), str(body.secret));
    const current = await deps.refresher.get(app.app.name);
    if (body.force_refresh !== true || !app.grant.scopes.includes('refresh')) return tokenAnswer(current, deps, app.app);
    return tokenAnswer(await forced(deps, app.app, current), deps, app.app);
  },
  async 'GET /cgi-bin/ticket/getticket'({ q, deps }) {
    const type = q.get('type');
    const app = await appOfToken(deps, q.get('access_token'), 'wechat');
    if (type !== 'jsapi' && type !== 'wx_card') throw new WeChatAnswer(40097, 'invalid args: type must be jsapi or wx_card');
    // An authorizer's token (platform mode, docs/compat.md) is an Official Account's or a Mini Program's: WeChat says which.
    if (app.type !== 'official_account' && app.type !== 'authorizer') throw new WeChatAnswer(48001, 'api unauthorized: a Mini Program has no JS-SDK ticket');
    return ticketAnswer(await deps.refresher.get(app.name, `${type}_ticket`), deps);
  },
  async 'GET /cgi-bin/gettoken'({ q, deps }) {
    const app = await wecomApp(deps, q.get('corpid'), q.get('corpsecret'));
    return tokenAnswer(await deps.refresher.get(app.name), deps, app);
  },
  async 'GET /cgi-bin/get_jsapi_ticket'({ q, deps }) {
    const app = await appOfToken(deps, q.get('access_token'), 'wecom');
    return ticketAnswer(await deps.refresher.get(app.name, 'jsapi_ticket'), deps);
  },
  async 'GET /cgi-bin/ticket/get'({ q, deps }) {
    const app = await appOfToken(deps, q.get('access_token'), 'wecom');
    if (q.get('type') !== 'agent_config') throw new WeChatAnswer(40058, 'invalid parameter: type must be agent_config');
    if (app.type === 'wecom' && app.agentid === undefined) {
      throw new WeChatAnswer(48001, 'api unauthorized: this secret has no agentid (contacts sync, customer contact), so it has no app ticket (agent_config)');
    }
    return ticketAnswer(await deps.refresher.get(app.name, 'agent_config_ticket'), deps);
  },
};

/**
 * The compat Official Account or Mini Program of `appid`, if `key` may read it. A wrong key is
 * 40125 ("invalid appsecret", stable_token's code): WeChat's /cgi-bin/token says 40001 for a wrong
 * secret, but SDKs take 40001 for "token expired, fetch again" and would retry a wrong key in a loop.
 */
async function wechatApp(deps: EdgeDeps, appid: string | null | undefined, key: string | null | undefined): Promise<{ app: WeChatApp; grant: Grant }> {
  if (!appid) throw new WeChatAnswer(41002, 'appid missing');
  if (!key) throw new WeChatAnswer(41004, 'appsecret missing');
  const app = compatApps(deps).find((a): a is WeChatApp => (a.type === 'official_account' || a.type === 'mini_program') && a.appid === appid);
  if (!app) throw new WeChatAnswer(40013, 'invalid appid');
  const grant = await grantOf(deps, key);
  if (!grant || !mayRead(grant, app)) throw new WeChatAnswer(40125, INVALID_KEY);
  return { app, grant };
}

/** The compat WeCom app of `corpid` that the key may read (a key for one app of the corp). */
async function wecomApp(deps: EdgeDeps, corpid: string | null, key: string | null): Promise<WeComApp> {
  if (!corpid) throw new WeChatAnswer(41002, 'corpid missing');
  if (!key) throw new WeChatAnswer(41004, 'corpsecret missing');
  const ofCorp = compatApps(deps).filter((a): a is WeComApp => a.type === 'wecom' && a.corpid === corpid);
  if (!ofCorp.length) throw new WeChatAnswer(40013, 'invalid corpid');
  const grant = await grantOf(deps, key);
  const readable = grant ? ofCorp.filter((a) => mayRead(grant, a)) : [];
  if (!readable.length) throw new WeChatAnswer(40001, 'invalid secret: the corpsecret must be a hub API key with the read scope on this app');
  if (readable.length > 1) throw new WeChatAnswer(40001, 'invalid secret: this key may read several apps of this corp; give the SDK a key for one app');
  return readable[0]!;
}

/** The compat app whose current (or overlapping previous) token this is. */
async function appOfToken(deps: EdgeDeps, token: string | null, platform: 'wechat' | 'wecom'): Promise<HubApp> {
  if (!token) throw new WeChatAnswer(41001, 'access_token missing');
  const app = await appOf(deps, token, platform);
  if (app) return app;
  throw platform === 'wecom' ? new WeChatAnswer(40014, 'invalid access_token') : new WeChatAnswer(40001, TOKEN_INVALID_MSG);
}

/** stable_token's force_refresh for a key with the refresh scope: the guarded forced refresh of the current token. */
async function forced(deps: EdgeDeps, app: WeChatApp, current: Served): Promise<Served> {
  try {
    return await deps.refresher.forceRefresh(app.name, current.value);
  } catch (error) {
    // Within 30 s of the last force WeChat "does not refresh" and answers the current token: so does the
    // hub, and for a token too young to be rotated unconfirmed (its probe could not answer). Known by
    // the error's class or reason, never by its words.
    if (error instanceof ForcedRefreshSpacingError || (error instanceof ForcedRefreshBudgetError && (error.reason === 'spacing' || error.reason === 'young'))) return current;
    throw error;
  }
}

function mayRead(grant: Grant, app: HubApp): boolean {
  return covers(grant.apps, app.name) && grant.scopes.includes('read');
}

/** The JSON object a compat POST carries (stable_token, a platform's component endpoints), or 47001 WeChat's way. */
export function compatBody(event: HttpEvent): Record<string, unknown> {
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text) > COMPAT_MAX_BODY_BYTES) throw new WeChatAnswer(47001, 'data format error: body too large');
  try {
    const parsed = JSON.parse(text || '{}') as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new WeChatAnswer(47001, 'data format error');
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
