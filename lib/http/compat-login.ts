import type { HubApp } from '../apps.js';
import type { WeChatClient } from '../wechat/client.js';
import { RetryLaterError, WeChatError } from '../wechat/errors.js';
import { LoginRefusedError, type LoginFlow } from '../wechat/login.js';
import { PassthroughError } from '../wechat/passthrough.js';
import { allows } from './auth.js';
import { json, WeChatAnswer } from './compat-answers.js';
import { compatApps, grantOf } from './compat-lookup.js';
import { CREDENTIAL_SHAPE, type EdgeDeps, type HttpResult } from './edge.js';
import { HttpError } from '../errors.js';
import { appSecret, loginFlowOf, MAX_CODE_LENGTH } from './login-routes.js';
import { asResult, type ProxyUpstreams } from './proxy-route.js';

/**
 * WeChat's login paths on the WeChat-compatible API (docs/compat.md, "Logins"), so that an SDK
 * configured with a hub key logs users in unmodified:
 * - `/sns/jscode2session` (Mini Programs) and `/sns/oauth2/access_token` (Official Accounts,
 *   websites) carry a hub key with the `login` scope as `secret`: the hub sends them on with the
 *   app's real AppSecret (through WeChatClient: -1 retried inside the deadline) and answers what
 *   WeChat answered;
 * - `/sns/oauth2/refresh_token`, `/sns/userinfo` and `/sns/auth` take no secret: they are passed on
 *   as they are, with only the parameters WeChat defines for them.
 * Nothing is cached (a code is good once); no code, session_key or user token is logged.
 */

/** Whether a compat app answers WeChat's login paths (a Mini Program, an Official Account, a website). */
export const hasLogin = (app: HubApp): boolean => app.compat && loginFlowOf(app) !== undefined;

const INVALID_KEY = 'invalid appsecret: the secret must be a hub API key with the login scope on this app, not the AppSecret';
/** The parameters passed on, per path; anything else in the query (a `secret` carrying a key, say) stays here. */
const PASSED: Record<string, readonly string[]> = {
  '/sns/oauth2/refresh_token': ['appid', 'grant_type', 'refresh_token'],
  '/sns/userinfo': ['access_token', 'openid', 'lang'],
  '/sns/auth': ['access_token', 'openid'],
};
const OPENID = /^[A-Za-z0-9_-]{1,128}$/;

/** A request under /sns/, answered WeChat's way (errors as `{"errcode","errmsg"}` with HTTP 200). */
export async function compatLogin(method: string, path: string, q: URLSearchParams, deps: EdgeDeps, upstreams: () => ProxyUpstreams, wechat: WeChatClient): Promise<HttpResult> {
  if (path === '/sns/jscode2session') return exchange('code2session', method, q, deps, wechat);
  if (path === '/sns/oauth2/access_token') return exchange('oauth', method, q, deps, wechat);
  const passed = PASSED[path];
  if (!passed) throw new WeChatAnswer(48001, 'api unauthorized: the hub passes on WeChat\'s login paths only (jscode2session, oauth2/access_token, oauth2/refresh_token, userinfo, auth)');
  if (method !== 'GET') throw new WeChatAnswer(43001, 'require GET method');
  if (path === '/sns/oauth2/refresh_token') {
    loginAppOf(deps, q.get('appid'), 'oauth');
    if (q.get('grant_type') !== 'refresh_token') throw new WeChatAnswer(40002, 'invalid grant_type');
    if (!CREDENTIAL_SHAPE.test(q.get('refresh_token') ?? '')) throw new WeChatAnswer(40030, 'invalid refresh_token');
  } else {
    if (!q.get('access_token')) throw new WeChatAnswer(41001, 'access_token missing');
    if (!CREDENTIAL_SHAPE.test(q.get('access_token')!)) throw new WeChatAnswer(40001, 'invalid credential, access_token is invalid or not latest');
    if (!OPENID.test(q.get('openid') ?? '')) throw new WeChatAnswer(40003, 'invalid openid');
  }
  const query = new URLSearchParams();
  for (const name of passed) {
    const v = q.get(name);
    if (v !== null && (name !== 'lang' || /^[A-Za-z_]{1,16}$/.test(v))) query.set(name, v);
  }
  try {
    return asResult(await upstreams().wechat.send({ method: 'GET', path, query }));
  } catch (error) {
    if (error instanceof PassthroughError) throw new WeChatAnswer(-1, 'system error: WeChat could not be reached');
    throw error;
  }
}

/** code2Session or web authorization's token: the hub key checked, then sent on with the AppSecret. */
async function exchange(flow: LoginFlow, method: string, q: URLSearchParams, deps: EdgeDeps, wechat: WeChatClient): Promise<HttpResult> {
  if (method !== 'GET') throw new WeChatAnswer(43001, 'require GET method');
  const app = loginAppOf(deps, q.get('appid'), flow);
  const key = q.get('secret');
  if (!key) throw new WeChatAnswer(41004, 'appsecret missing');
  const grant = await grantOf(deps, key);
  if (!grant || !allows(grant, app.name, 'login')) throw new WeChatAnswer(40125, INVALID_KEY);
  const grantType = q.get('grant_type');
  if (grantType !== null && grantType !== 'authorization_code') throw new WeChatAnswer(40002, 'invalid grant_type');
  const code = q.get(flow === 'code2session' ? 'js_code' : 'code');
  if (!code) throw new WeChatAnswer(41008, 'missing code');
  if (code.length > MAX_CODE_LENGTH || !/^[\x21-\x7e]+$/.test(code)) throw new WeChatAnswer(40029, 'invalid code');
  let secret: string;
  try {
    secret = await appSecret(deps, app);
  } catch (error) {
    if (error instanceof HttpError) throw new WeChatAnswer(-1, 'system error: the hub cannot read this app\'s secret right now');
    throw error;
  }
  const deadline = deps.clock.now() + deps.refresher.settings.upstreamDeadlineMs;
  try {
    return json(await wechat.exchangeCode({ flow, appid: app.appid, secret, code, deadline }));
  } catch (error) {
    if (error instanceof LoginRefusedError || error instanceof RetryLaterError) {
      throw new WeChatAnswer(error.errcode ?? -1, redacted(error.errmsg || 'system error', [secret, key, code]));
    }
    if (error instanceof WeChatError) throw new WeChatAnswer(-1, 'system error: WeChat answered the login with neither a session nor an errcode');
    throw error;
  }
}

/** The compat app of `appid` whose type has this login: 41002 without an appid, 40013 for any other. */
function loginAppOf(deps: EdgeDeps, appid: string | null, flow: LoginFlow): HubApp & { appid: string } {
  if (!appid) throw new WeChatAnswer(41002, 'appid missing');
  const app = compatApps(deps).find((a): a is HubApp & { appid: string } => loginFlowOf(a) === flow && 'appid' in a && a.appid === appid);
  if (!app) throw new WeChatAnswer(40013, 'invalid appid');
  return app;
}

/** WeChat's errmsg, with anything the request carried (the secret, the key, the code) taken out should it ever be echoed. */
function redacted(errmsg: string, values: string[]): string {
  let out = errmsg;
  for (const v of values) if (v) out = out.split(v).join('***');
  return out;
}
