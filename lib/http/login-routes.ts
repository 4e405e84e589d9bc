import * as z from 'zod/mini';
import type { HubApp } from '../apps.js';
import { RetryLaterError, WeChatError } from '../wechat/errors.js';
import { LoginRefusedError, type LoginFlow, type SessionAnswer, type UserTokenAnswer } from '../wechat/login.js';
import { ok, type EdgeDeps } from './edge.js';
// Routes are built at load time from wrappers: each call is marked pure, so that a bundle that
// imports this module for something else (compat's logins) drops the routes.
import { also, withApp, withErrors, withJsonBody, withoutQuery, type AppContext, type HandlersOf, type HubServices } from './pipeline.js';
import { HttpError } from '../errors.js';

/**
 * Logins through the hub, so that no service keeps the AppSecret (docs/wechat.md §13): a Mini
 * Program's code2Session and web authorization's user token (Official Accounts, Open Platform
 * website and mobile apps), each a user's single-use `code` exchanged with the AppSecret the hub
 * alone holds. Nothing of it is cached or stored, and no code, session_key or user token is logged
 * or put in an error: the access line says the route, the app, the caller and the status.
 */

/** Which login each type of app has: code2Session for Mini Programs (mini games too), web authorization for Official Accounts and websites. */
export function loginFlowOf(app: HubApp): LoginFlow | undefined {
  if (app.type === 'mini_program') return 'code2session';
  if (app.type === 'official_account' || app.type === 'website') return 'oauth';
  return undefined; // WeCom's OAuth takes the app's access token, not the secret: nothing to do here
}

/** The longest login code taken; WeChat's are a few dozen printable characters. */
export const MAX_CODE_LENGTH = 512;

const code = z
  .string({ error: 'must be a string' })
  .check(
    z.minLength(1, 'must not be empty'),
    z.maxLength(MAX_CODE_LENGTH, 'is longer than any login code'),
    z.regex(/^[\x21-\x7e]+$/, 'contains characters a login code never has'),
  );
const sessionBody = z.strictObject({ js_code: code });
const oauthBody = z.strictObject({ code });

/** POST /v1/apps/{app}/login, body {"js_code": "…"} (scope `login`): a Mini Program's code2Session. */
export const loginRoute = /* @__PURE__ */ withErrors(
  /* @__PURE__ */ withApp('login', /* @__PURE__ */ also(/* @__PURE__ */ loginStep('code2session'), /* @__PURE__ */ withoutQuery(/* @__PURE__ */ withJsonBody(sessionBody, async ({ deps, hub, loginApp: app, body }) => {
    const s = await exchangeCode(deps, hub, app, 'code2session', body.js_code);
    return ok({ openid: s.openid, session_key: s.session_key, ...(s.unionid ? { unionid: s.unionid } : {}) });
  })))),
);

/** POST /v1/apps/{app}/oauth/token, body {"code": "…"} (scope `login`): web authorization's user token. */
export const oauthTokenRoute = /* @__PURE__ */ withErrors(
  /* @__PURE__ */ withApp('login', /* @__PURE__ */ also(/* @__PURE__ */ loginStep('oauth'), /* @__PURE__ */ withoutQuery(/* @__PURE__ */ withJsonBody(oauthBody, async ({ deps, hub, loginApp: app, body }) => {
    const t = await exchangeCode(deps, hub, app, 'oauth', body.code);
    const { access_token, expires_in, refresh_token, openid, scope, unionid, is_snapshotuser } = t;
    return ok({ access_token, expires_in, refresh_token, openid, scope, ...(unionid ? { unionid } : {}), ...(is_snapshotuser === undefined ? {} : { is_snapshotuser }) });
  })))),
);

/** The login function's routes (lib/http/routes.ts): both logins share their code and warm containers. */
export const loginHandlers: HandlersOf<'login'> = {
  'POST /v1/apps/{app}/login': loginRoute,
  'POST /v1/apps/{app}/oauth/token': oauthTokenRoute,
};

function loginStep(flow: LoginFlow) {
  return ({ deps, app }: AppContext) => ({ loginApp: loginApp(deps, app, flow) });
}

/** The app of the path, if its type has this login: 404 `login_not_available` (saying which it has) otherwise. */
function loginApp(deps: EdgeDeps, name: string, flow: LoginFlow): HubApp & { appid: string } {
  const app = deps.refresher.app(name);
  const has = loginFlowOf(app);
  if (has === flow && app.type !== 'wecom') return app;
  const which = has === 'code2session' ? `a Mini Program logs in with POST /v1/apps/${name}/login`
    : has === 'oauth' ? `this app logs users in with POST /v1/apps/${name}/oauth/token`
    : 'a WeCom app\'s OAuth takes its access token, not its secret: nothing to exchange here';
  throw new HttpError(404, 'login_not_available', `apps of type ${app.type} have no ${flow === 'code2session' ? 'code2Session' : 'web authorization'} login; ${which}`);
}

/**
 * The user's code exchanged with the app's AppSecret, within UPSTREAM_DEADLINE (-1 retried inside
 * it); WeChat's refusals as the hub's 4xx with WeChat's errcode, never with the code.
 */
async function exchangeCode(deps: EdgeDeps, login: HubServices, app: HubApp & { appid: string }, flow: 'code2session', code: string): Promise<SessionAnswer>;
async function exchangeCode(deps: EdgeDeps, login: HubServices, app: HubApp & { appid: string }, flow: 'oauth', code: string): Promise<UserTokenAnswer>;
async function exchangeCode(deps: EdgeDeps, login: HubServices, app: HubApp & { appid: string }, flow: LoginFlow, code: string): Promise<SessionAnswer | UserTokenAnswer> {
  const secret = await appSecret(deps, app);
  const deadline = deps.clock.now() + deps.refresher.settings.upstreamDeadlineMs;
  try {
    return await login.wechat.exchangeCode({ flow, appid: app.appid, secret, code, deadline });
  } catch (error) {
    throw loginHttpError(error);
  }
}

/** The app's AppSecret: 503 while it cannot be read (SSM down), never the reason's details. */
export async function appSecret(deps: EdgeDeps, app: HubApp): Promise<string> {
  try {
    return await app.getSecret();
  } catch (error) {
    deps.logger.error('the app\'s secret could not be read for a login', { error: error instanceof Error ? error.name : 'unknown' });
    throw new HttpError(503, 'secret_unavailable', 'the app\'s secret cannot be read right now; try again shortly', { 'retry-after': '5' });
  }
}

/** WeChat's answer about a login as the hub's error (README, "Logins through the hub"). */
function loginHttpError(error: unknown): unknown {
  if (error instanceof LoginRefusedError) {
    const errcode = error.errcode;
    const extra = { errcode };
    // 40029: wrong, expired or used; 40163: "code been used", as web authorization says it.
    if (errcode === 40029 || errcode === 40163) {
      return new HttpError(400, 'invalid_code', 'WeChat does not accept this code: it is wrong, expired or already used (a code is good once, within 5 minutes)', {}, extra);
    }
    if (errcode === 45011) return new HttpError(429, 'login_rate_limited', 'WeChat allows this user at most 100 logins a minute; try again in a minute', { 'retry-after': '60' }, extra);
    if (errcode === 40226) return new HttpError(403, 'login_blocked', 'WeChat blocks the login of this user (a high-risk user)', {}, extra);
    return new HttpError(502, 'wechat_error', `WeChat refused the login (errcode ${errcode})`, {}, extra);
  }
  if (error instanceof RetryLaterError) {
    return new HttpError(503, 'login_unavailable', 'WeChat is busy or cannot be reached; try again shortly', { 'retry-after': '1' }, error.errcode === undefined ? {} : { errcode: error.errcode });
  }
  if (error instanceof WeChatError) return new HttpError(502, 'wechat_error', 'WeChat answered the login with neither a session nor an errcode');
  return error;
}
