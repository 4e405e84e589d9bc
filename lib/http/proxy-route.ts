import type { HubApp } from '../apps.js';
import type { WeChatPassthrough, PassResponse } from '../wechat/passthrough.js';
import { PassthroughError } from '../wechat/passthrough.js';
import { header, NOSNIFF, type HttpEvent, type HttpResult } from './edge.js';
// The route is built at load time from wrappers: each call is marked pure, so that a bundle that
// imports this module for its path rules (compat's pass-through) drops the route.
import { withApp, withErrors, type HandlersOf } from './pipeline.js';
import { HttpError } from '../errors.js';

/** The token-injecting proxy's upstreams (one per platform; a caller picks a path, never a host). */
export interface ProxyUpstreams {
  wechat: WeChatPassthrough;
  wecom: WeChatPassthrough;
}

/**
 * Credential APIs the proxy never forwards: they would mint or rotate what the hub keeps (a ticket
 * fetched behind the hub's back invalidates the hub's), or spend the month's quota resets.
 */
const NEVER = [
  '/cgi-bin/token',
  '/cgi-bin/stable_token',
  '/cgi-bin/gettoken',
  '/cgi-bin/ticket/getticket',
  '/cgi-bin/get_jsapi_ticket',
  '/cgi-bin/ticket/get',
  '/cgi-bin/clear_quota',
  '/cgi-bin/openapi/quota/clear',
  '/cgi-bin/component/',
  // WeCom: mints a token of another corp of the group with this corp's token.
  '/cgi-bin/corpgroup/corp/gettoken',
];
const PATH = /^\/v1\/(?:apps\/[^/]+|platforms\/[^/]+\/authorizers\/[^/]+)\/wechat(\/.*)$/;
const SAFE_PATH = /^(\/[A-Za-z0-9_.-]+)+\/?$/;
export const TOKEN_INVALID = new Set([40001, 40014, 42001]);
/** Lambda's synchronous payload limit; API Gateway's own is 10 MB. */
export const MAX_PROXY_BODY_BYTES = 6 * 1024 * 1024;

/**
 * ANY /v1/apps/{app}/wechat/{path+} (scope `proxy`): the call is made to WeChat's API with the
 * hub's access_token added, and WeChat's answer comes back as it came. When WeChat says the token is
 * dead (40001/40014/42001), the token goes through the guarded forced refresh with the token used as
 * the stale one, and the call is made once more.
 */
export const proxyRoute = /* @__PURE__ */ withErrors(/* @__PURE__ */ withApp('proxy', async ({ event, deps, hub, app: name }) => {
  const app = deps.refresher.app(name);
  if (app.type === 'website') throw new HttpError(404, 'unknown_credential', 'a website app has no token to call WeChat with: its secret serves logins only');
  const path = upstreamPath(event, app);
  const method = event.requestContext?.http?.method ?? 'GET';
  // WeChat's APIs are GET or POST; anything else is a mistake that would only reach WeChat to be refused.
  if (method !== 'GET' && method !== 'POST') throw new HttpError(405, 'method_not_allowed', 'the proxy forwards GET and POST', { allow: 'GET, POST' });
  const query = new URLSearchParams(event.rawQueryString ?? '');
  dropAccessTokens(query); // the hub's token, never one the caller brings (in any spelling)
  const raw = event.body === undefined ? undefined : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  if (raw && raw.length > MAX_PROXY_BODY_BYTES) throw new HttpError(413, 'body_too_large', `the body may be at most ${MAX_PROXY_BODY_BYTES} bytes`);
  const upstreams = hub.proxyUpstreams();
  const upstream = app.type === 'wecom' ? upstreams.wecom : upstreams.wechat;
  const started = deps.clock.now();

  const call = async (token: string): Promise<PassResponse> => {
    query.set('access_token', token);
    try {
      return await upstream.send({ method, path, query, body: raw?.length ? raw : undefined, contentType: header(event, 'content-type') });
    } catch (error) {
      if (error instanceof PassthroughError) throw new HttpError(502, 'upstream_unreachable', error.message, { 'retry-after': '1' });
      throw error;
    }
  };
  const token = (await deps.refresher.get(name)).value;
  let res = await call(token);
  let retried = false;
  // Only where WeChat can be asked whether the token is really dead (a probe; every token kind has
  // one): a token is not rotated on the word of an answer alone. The hub saw the rejection itself,
  // so WeChat is asked again even within PROBE_TTL of a probe that said "valid".
  if (TOKEN_INVALID.has(errcodeOf(res) ?? 0) && deps.refresher.canProbe(name)) {
    const fresh = await deps.refresher.forceRefresh(name, token, 'access_token', { observed: true });
    if (fresh.value !== token) {
      res = await call(fresh.value);
      retried = true;
    }
  }
  deps.logger.info('proxied', { method, path, status: res.status, errcode: errcodeOf(res), retried, ms: deps.clock.now() - started });
  return asResult(res);
}));

/** The proxy function's route (lib/http/routes.ts). */
export const proxyHandlers: HandlersOf<'proxy'> = {
  'ANY /v1/apps/{app}/wechat/{path+}': proxyRoute,
  'ANY /v1/platforms/{name}/authorizers/{appid}/wechat/{path+}': proxyRoute,
};

/** The path on WeChat's host: plain segments under one of the app's allowed prefixes. */
function upstreamPath(event: HttpEvent, app: HubApp): string {
  const path = PATH.exec(event.rawPath ?? '')?.[1];
  const refusal = pathRefusal(path, app);
  if (refusal === 'invalid') throw new HttpError(400, 'invalid_path', 'the path after /wechat must be a plain WeChat API path, e.g. /cgi-bin/message/custom/send');
  if (refusal === 'credential') throw new HttpError(403, 'path_not_allowed', 'the hub does not forward credential APIs; use its token and ticket routes');
  if (refusal === 'not_allowed' && path!.startsWith('/sns/')) {
    throw new HttpError(403, 'path_not_allowed', 'the proxy does not forward WeChat\'s login calls (they take the AppSecret, not a token): use POST /v1/apps/{app}/login or /v1/apps/{app}/oauth/token');
  }
  if (refusal === 'not_allowed') throw new HttpError(403, 'path_not_allowed', `this app's proxy forwards only ${app.proxyPaths.join(', ')}`);
  return path!;
}

/**
 * Why a path may not be forwarded for this app, if it may not. Plain segments only (SAFE_PATH: no
 * `%`, `;`, backslashes, empty or dot-only segments), and never a credential API in any spelling a server
 * may take for it: compared in lowercase, each segment cut at its first dot (`token.`, `token..`,
 * `token.json`, `ticket./getticket`), without a trailing slash.
 */
export function pathRefusal(path: string | undefined, app: HubApp): 'invalid' | 'credential' | 'not_allowed' | undefined {
  if (!path || !SAFE_PATH.test(path) || path.split('/').some((s) => /^\.+$/.test(s))) return 'invalid';
  const canonical = `/${path.toLowerCase().split('/').map((s) => s.split('.')[0]).filter(Boolean).join('/')}`;
  if (NEVER.some((p) => {
    const base = p.replace(/\/$/, '');
    return canonical === base || canonical.startsWith(`${base}/`);
  })) return 'credential';
  if (!app.proxyPaths.some((p) => path.startsWith(p))) return 'not_allowed';
  return undefined;
}

/**
 * Drop every query parameter a server might read as `access_token` (any case, percent-decoded
 * again, with junk around it: `ACCESS_TOKEN`, `access_token%00`, `access_token[]`, `access token`),
 * so that only the one token the hub sets is sent.
 */
export function dropAccessTokens(query: URLSearchParams): void {
  for (const key of new Set(query.keys())) {
    if (spellsAccessToken(key)) query.delete(key);
  }
}

function spellsAccessToken(key: string): boolean {
  let k = key;
  for (let i = 0; i < 3 && k.includes('%'); i++) {
    try {
      k = decodeURIComponent(k);
    } catch {
      break;
    }
  }
  return k.toLowerCase().replace(/[^a-z0-9]/g, '').startsWith('accesstoken');
}

/** WeChat's errcode in an answer, when it is a JSON (or text) object that has one; never read from a file's bytes. */
export function errcodeOf(res: PassResponse): number | undefined {
  const type = res.headers['content-type'] ?? '';
  if (type !== '' && !/json|text\/plain/i.test(type)) return undefined;
  if (res.body.length > 65_536 || res.body[0] !== 0x7b /* { */) return undefined;
  try {
    const v = (JSON.parse(res.body.toString('utf8')) as { errcode?: unknown }).errcode;
    return typeof v === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** WeChat's answer as it came (the headers a caller needs, binary bodies base64 for API Gateway). */
export function asResult(res: PassResponse): HttpResult {
  const type = res.headers['content-type'] ?? '';
  const text = /json|text|xml/i.test(type) || type === '';
  return {
    statusCode: res.status,
    headers: { ...res.headers, 'cache-control': 'no-store', ...NOSNIFF },
    body: text ? res.body.toString('utf8') : res.body.toString('base64'),
    isBase64Encoded: !text,
  };
}
