import type { HubApp, WeChatApp, WeComApp } from '../apps.js';
import { ForcedRefreshBudgetError } from '../errors.js';
import type { Served } from '../refresher.js';
import type { WeChatClient } from '../wechat/client.js';
import { PassthroughError } from '../wechat/passthrough.js';
import type { Grant } from './auth.js';
import { answer, asWeChat, ticketAnswer, tokenAnswer, WeChatAnswer } from './compat-answers.js';
import { compatLogin, hasLogin } from './compat-login.js';
import { appOf, compatApps, forgetKnown, grantOf } from './compat-lookup.js';
import { header, notRouted, type EdgeDeps, type HttpEvent, type HttpResult } from './edge.js';
import { asResult, dropAccessTokens, errcodeOf, pathRefusal, TOKEN_INVALID, type ProxyUpstreams } from './proxy-route.js';

// What the local server and the tests import from here, now held by the two modules above.
export { compatBodyTooLarge } from './compat-answers.js';
export { compatTokenKnown, UNKNOWN_LOOKUPS_BURST, UNKNOWN_LOOKUPS_PER_SECOND } from './compat-lookup.js';

/**
 * WeChat's own paths, answered as WeChat would, so that an unmodified SDK works by changing only its
 * API base URL (apps with `"compat": true`). The `secret` (WeCom: `corpsecret`) an SDK sends is a hub
 * API key with the `read` scope on that app, never the AppSecret, which stays in the hub alone.
 * Errors are WeChat's `{"errcode","errmsg"}` with HTTP 200, never the hub's native error JSON.
 * Keys travel in query strings here: nothing on this path logs a query string or a body. WeChat's
 * `/sns/` login paths, where the key needs the `login` scope instead, are lib/http/compat-login.ts.
 *
 * An SDK sends every call to its base URL, not only the token's: any other call that carries a
 * token the hub serves now (or in its overlap) is passed on to WeChat as it is (within the app's
 * proxy paths). When WeChat answers it with 40001/40014/42001, the hub sends that token through the
 * guarded forced refresh before answering, so the SDK's own retry (it asks for a token again) gets a
 * good one.
 */

const INVALID_KEY = 'invalid appsecret: the secret must be a hub API key with the read scope on this app, not the AppSecret';
const TOKEN_INVALID_MSG = 'invalid credential, access_token is invalid or not latest';
/** The most a token or ticket endpoint's body (stable_token's JSON) may be. */
export const COMPAT_MAX_BODY_BYTES = 4096;
const MAX_BODY_BYTES = COMPAT_MAX_BODY_BYTES;

/** Every request under /cgi-bin/ and /sns/ (the compat function's routes). */
export async function compatRoutes(event: HttpEvent, deps: EdgeDeps, upstreams: () => ProxyUpstreams, wechat: WeChatClient): Promise<HttpResult> {
  const method = event.requestContext?.http?.method ?? 'GET';
  const path = event.rawPath ?? '';
  // WeChat's login paths (/sns/) when a compat app logs users in (lib/http/compat-login.ts).
  const login = path.startsWith('/sns/') && compatApps(deps).some(hasLogin);
  // Only WeChat's API paths (/cgi-bin/ and the compat apps' proxy paths) are answered WeChat's way;
  // anything else that no route took is the hub's own 404.
  if (!login && !path.startsWith('/cgi-bin/') && !compatApps(deps).some((a) => a.proxyPaths.some((p) => path.startsWith(p)))) {
    return notRouted(event, undefined);
  }
  const q = new URLSearchParams(event.rawQueryString ?? '');
  const started = deps.clock.now();
  let result: HttpResult;
  try {
    result = login ? await compatLogin(method, path, q, deps, upstreams, wechat) : await route(method, path, q, event, deps, upstreams);
  } catch (error) {
    result = answer(asWeChat(error, deps));
  }
  // The path only: the query carries a key or a token.
  deps.logger.info('compat request', { method, path, status: result.statusCode, errcode: errcodeIn(result), ms: deps.clock.now() - started });
  return result;
}

function errcodeIn(result: HttpResult): number | undefined {
  if (result.isBase64Encoded || !result.body?.startsWith('{')) return undefined;
  try {
    const v = (JSON.parse(result.body) as { errcode?: unknown }).errcode;
    return typeof v === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
}

async function route(method: string, path: string, q: URLSearchParams, event: HttpEvent, deps: EdgeDeps, upstreams: () => ProxyUpstreams): Promise<HttpResult> {
  const only = (m: string) => {
    if (method !== m) throw m === 'GET' ? new WeChatAnswer(43001, 'require GET method') : new WeChatAnswer(43002, 'require POST method');
  };
  switch (path) {
    case '/cgi-bin/token': {
      only('GET');
      if (q.get('grant_type') !== 'client_credential') throw new WeChatAnswer(40002, 'invalid grant_type');
      const app = await wechatApp(deps, q.get('appid'), q.get('secret'));
      return tokenAnswer(await deps.refresher.get(app.app.name), deps, app.app);
    }
    case '/cgi-bin/stable_token': {
      only('POST');
      const body = stableBody(event);
      if (body.grant_type !== 'client_credential') throw new WeChatAnswer(40002, 'invalid grant_type');
      const app = await wechatApp(deps, str(body.appid), str(body.secret));
      const current = await deps.refresher.get(app.app.name);
      if (body.force_refresh !== true || !app.grant.scopes.includes('refresh')) return tokenAnswer(current, deps, app.app);
      return tokenAnswer(await forced(deps, app.app, current), deps, app.app);
    }
    case '/cgi-bin/ticket/getticket': {
      only('GET');
      const type = q.get('type');
      const app = await appOfToken(deps, q.get('access_token'), 'wechat');
      if (type !== 'jsapi' && type !== 'wx_card') throw new WeChatAnswer(40097, 'invalid args: type must be jsapi or wx_card');
      if (app.type !== 'official_account') throw new WeChatAnswer(48001, 'api unauthorized: a Mini Program has no JS-SDK ticket');
      return ticketAnswer(await deps.refresher.get(app.name, `${type}_ticket`), deps);
    }
    case '/cgi-bin/gettoken': {
      only('GET');
      const app = await wecomApp(deps, q.get('corpid'), q.get('corpsecret'));
      return tokenAnswer(await deps.refresher.get(app.name), deps, app);
    }
    case '/cgi-bin/get_jsapi_ticket': {
      only('GET');
      const app = await appOfToken(deps, q.get('access_token'), 'wecom');
      return ticketAnswer(await deps.refresher.get(app.name, 'jsapi_ticket'), deps);
    }
    case '/cgi-bin/ticket/get': {
      only('GET');
      const app = await appOfToken(deps, q.get('access_token'), 'wecom');
      if (q.get('type') !== 'agent_config') throw new WeChatAnswer(40058, 'invalid parameter: type must be agent_config');
      if (app.type === 'wecom' && app.agentid === undefined) {
        throw new WeChatAnswer(48001, 'api unauthorized: this secret has no agentid (contacts sync, customer contact), so it has no app ticket (agent_config)');
      }
      return ticketAnswer(await deps.refresher.get(app.name, 'agent_config_ticket'), deps);
    }
    default:
      return passOn(method, path, q, event, deps, upstreams);
  }
}

/** Any other WeChat API call of an SDK: passed on as it is, if it carries a token the hub serves. */
async function passOn(method: string, path: string, q: URLSearchParams, event: HttpEvent, deps: EdgeDeps, upstreams: () => ProxyUpstreams): Promise<HttpResult> {
  const token = q.get('access_token');
  if (!token) throw new WeChatAnswer(41001, 'access_token missing');
  const app = await appOf(deps, token);
  if (!app) throw new WeChatAnswer(40001, TOKEN_INVALID_MSG);
  // A token the hub issued and has since replaced (a forced rotation, a self-heal) is no longer
  // accepted by WeChat, and an SDK without 40001 handling keeps sending it until its cache expires:
  // within that token's own life the call goes out with the current one (docs/compat.md).
  const sent = (await deps.refresher.identify(app.name, token)) === 'replaced' ? (await deps.refresher.get(app.name)).value : token;
  // The one token checked is the one sent: a second access_token in the query (in any spelling) would ride along unchecked.
  dropAccessTokens(q);
  q.set('access_token', sent);
  const refusal = pathRefusal(path, app);
  if (refusal) throw new WeChatAnswer(48001, `api unauthorized: the hub does not pass on ${refusal === 'credential' ? 'credential APIs' : 'this path'} (allowed: ${app.proxyPaths.join(', ')})`);
  if (method !== 'GET' && method !== 'POST') throw new WeChatAnswer(43002, 'require POST method');
  const raw = event.body === undefined ? undefined : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  const upstream = app.type === 'wecom' ? upstreams().wecom : upstreams().wechat;
  let res;
  try {
    res = await upstream.send({ method, path, query: q, body: raw?.length ? raw : undefined, contentType: header(event, 'content-type') });
  } catch (error) {
    if (error instanceof PassthroughError) throw new WeChatAnswer(-1, 'system error: WeChat could not be reached');
    throw error;
  }
  if (TOKEN_INVALID.has(errcodeOf(res) ?? 0)) forgetKnown(deps, token); // looked up again next time
  if (TOKEN_INVALID.has(errcodeOf(res) ?? 0) && deps.refresher.canProbe(app.name)) {
    // WeChat says the hub's token is dead: heal it now (probed again even within PROBE_TTL: the hub saw
    // the rejection itself; budgeted), so the SDK's retry gets a good one.
    await deps.refresher.forceRefresh(app.name, sent, 'access_token', { observed: true }).catch((error: unknown) => {
      deps.logger.warn('compat: could not refresh a token WeChat rejected', { app: app.name, error: error instanceof Error ? error.name : 'unknown' });
    });
  }
  return asResult(res);
}


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
    // hub, and for a token too young to be rotated unconfirmed (its probe could not answer).
    if (error instanceof ForcedRefreshBudgetError && (error.reason === 'spacing' || error.reason === 'young')) return current;
    throw error;
  }
}

function mayRead(grant: Grant, app: HubApp): boolean {
  return (grant.apps.includes('*') || grant.apps.includes(app.name)) && grant.scopes.includes('read');
}

function stableBody(event: HttpEvent): Record<string, unknown> {
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new WeChatAnswer(47001, 'data format error: body too large');
  try {
    const parsed = JSON.parse(text || '{}') as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new WeChatAnswer(47001, 'data format error');
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
