import { compatApps, forgetKnown, appOf, passOnPath } from './compat-lookup.js';
import { answer, asWeChat, WeChatAnswer } from './compat-answers.js';
import { COMPAT_ENDPOINTS, TOKEN_INVALID_MSG, type CompatEndpoint, type CompatRequest } from './compat-endpoints.js';
import { COMPONENT_ENDPOINTS } from './compat-component.js';
import { compatLogin, hasLogin } from './compat-login.js';
import { header, notRouted, type HttpResult } from './edge.js';
import type { HandlersOf, RouteHandler } from './pipeline.js';
import { asResult, dropAccessTokens, errcodeOf, pathRefusal, TOKEN_INVALID } from './proxy-route.js';
import { allowedMethods, compatEndpointAt, routeKeyOf } from './routes.js';
import { PassthroughError } from '../wechat/passthrough.js';

// What the local server and the tests import from here, now held by the modules above.
export { compatBodyTooLarge } from './compat-answers.js';
export { COMPAT_MAX_BODY_BYTES } from './compat-endpoints.js';
export { compatTokenKnown, UNKNOWN_LOOKUPS_BURST, UNKNOWN_LOOKUPS_PER_SECOND } from './compat-lookup.js';

/**
 * WeChat's own paths, answered as WeChat would, so that an unmodified SDK works by changing only its
 * API base URL (apps with `"compat": true`). The `secret` (WeCom: `corpsecret`) an SDK sends is a hub
 * API key with the `read` scope on that app, never the AppSecret, which stays in the hub alone.
 * Errors are WeChat's `{"errcode","errmsg"}` with HTTP 200, never the hub's native error JSON.
 * Keys travel in query strings here: nothing on this path logs a query string or a body. WeChat's
 * `/sns/` login paths, where the key needs the `login` scope instead, are lib/http/compat-login.ts;
 * the token and ticket endpoints lib/http/compat-endpoints.ts; a third-party platform's component and
 * authorizer token endpoints (platform mode) lib/http/compat-component.ts.
 *
 * An SDK sends every call to its base URL, not only the token's: any other call that carries a
 * token the hub serves now (or in its overlap) is passed on to WeChat as it is (within the app's
 * proxy paths). When WeChat answers it with 40001/40014/42001, the hub sends that token through the
 * guarded forced refresh before answering, so the SDK's own retry (it asks for a token again) gets a
 * good one.
 */

/** A compat request answered WeChat's way: its failures as `{"errcode","errmsg"}` (asWeChat), one log line without the query. */
function withWeChatAnswers(endpoint: CompatEndpoint): RouteHandler {
  return async (event, deps, hub) => {
    const method = event.requestContext?.http?.method ?? 'GET';
    const path = event.rawPath ?? '';
    const started = deps.clock.now();
    let result: HttpResult;
    try {
      result = await endpoint({ method, path, q: new URLSearchParams(event.rawQueryString ?? ''), event, deps, hub });
    } catch (error) {
      result = answer(asWeChat(error, deps));
    }
    // The path only: the query carries a key or a token.
    deps.logger.info('compat request', { method, path, status: result.statusCode, errcode: errcodeIn(result), ms: deps.clock.now() - started });
    return result;
  };
}

const ENDPOINTS = { ...COMPAT_ENDPOINTS, ...COMPONENT_ENDPOINTS };
const byRouteKey = Object.fromEntries(Object.entries(ENDPOINTS).map(([key, endpoint]) => [key, withWeChatAnswers(endpoint)])) as Record<keyof typeof ENDPOINTS, RouteHandler>;
const passOnRoute = withWeChatAnswers(passOn);
const loginRoute = withWeChatAnswers(({ method, path, q, deps, hub }) => compatLogin(method, path, q, deps, () => hub.proxyUpstreams(), hub.wechat));

/**
 * ANY /{path+}: whatever no other route took. An endpoint's path with another method (API Gateway
 * routes it here) is WeChat's "require GET/POST method"; WeChat's login paths (/sns/) when a compat
 * app logs users in; WeChat's API paths (/cgi-bin/ and the compat apps' proxy paths) are passed on;
 * anything else is the hub's own 404 (405 with Allow on a hub route's path).
 */
const catchAll: RouteHandler = (event, deps, hub) => {
  const method = event.requestContext?.http?.method ?? 'GET';
  const path = event.rawPath ?? '';
  const endpoint = compatEndpointAt(path);
  if (endpoint) {
    if (endpoint.method === method) return byRouteKey[routeKeyOf(endpoint) as keyof typeof byRouteKey](event, deps, hub);
    const refusal = endpoint.method === 'GET' ? new WeChatAnswer(43001, 'require GET method') : new WeChatAnswer(43002, 'require POST method');
    return withWeChatAnswers(() => Promise.reject(refusal))(event, deps, hub);
  }
  if (path.startsWith('/sns/') && compatApps(deps).some(hasLogin)) return loginRoute(event, deps, hub);
  if (path.startsWith('/cgi-bin/') || passOnPath(deps, path)) return passOnRoute(event, deps, hub);
  return Promise.resolve(notRouted(event, allowedMethods(path)));
};

/** The compat function's routes (lib/http/routes.ts). */
export const compatHandlers: HandlersOf<'compat'> = { ...byRouteKey, 'ANY /{path+}': catchAll };

function errcodeIn(result: HttpResult): number | undefined {
  if (result.isBase64Encoded || !result.body?.startsWith('{')) return undefined;
  try {
    const v = (JSON.parse(result.body) as { errcode?: unknown }).errcode;
    return typeof v === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Any other WeChat API call of an SDK: passed on as it is, if it carries a token the hub serves. */
async function passOn({ method, path, q, event, deps, hub }: CompatRequest): Promise<HttpResult> {
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
  const upstream = app.type === 'wecom' ? hub.proxyUpstreams().wecom : hub.proxyUpstreams().wechat;
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
