import { createHash } from 'node:crypto';
import type { HubApp, WeChatApp, WeComApp } from '../apps.js';
import { ForcedRefreshBudgetError, NoTokenAvailableError, UpstreamLimitError } from '../errors.js';
import { servedSeconds } from '../policy.js';
import type { Served } from '../refresher.js';
import { WeChatError } from '../wechat/errors.js';
import { PassthroughError } from '../wechat/passthrough.js';
import type { Grant } from './auth.js';
import { CREDENTIAL_SHAPE, header, notRouted, NOSNIFF, type EdgeDeps, type HttpEvent, type HttpResult } from './edge.js';
import { asResult, dropAccessTokens, errcodeOf, pathRefusal, TOKEN_INVALID, type ProxyUpstreams } from './proxy-route.js';

/**
 * WeChat's own paths, answered as WeChat would, so that an unmodified SDK works by changing only its
 * API base URL (apps with `"compat": true`). The `secret` (WeCom: `corpsecret`) an SDK sends is a hub
 * API key with the `read` scope on that app, never the AppSecret, which stays in the hub alone.
 * Errors are WeChat's `{"errcode","errmsg"}` with HTTP 200, never the hub's native error JSON.
 * Keys travel in query strings here: nothing on this path logs a query string or a body.
 *
 * An SDK sends every call to its base URL, not only the token's: any other call that carries a
 * token the hub serves now (or in its overlap) is passed on to WeChat as it is (within the app's
 * proxy paths). When WeChat answers it with 40001/40014/42001, the hub sends that token through the
 * guarded forced refresh before answering, so the SDK's own retry (it asks for a token again) gets a
 * good one.
 */

/** A WeChat-shaped refusal. */
class WeChatAnswer extends Error {
  constructor(
    readonly errcode: number,
    readonly errmsg: string,
  ) {
    super(errmsg);
  }
}

const INVALID_KEY = 'invalid appsecret: the secret must be a hub API key with the read scope on this app, not the AppSecret';
const TOKEN_INVALID_MSG = 'invalid credential, access_token is invalid or not latest';
/** The most a token or ticket endpoint's body (stable_token's JSON) may be. */
export const COMPAT_MAX_BODY_BYTES = 4096;
const MAX_BODY_BYTES = COMPAT_MAX_BODY_BYTES;

/** Every request under /cgi-bin/ (the compat function's routes). */
export async function compatRoutes(event: HttpEvent, deps: EdgeDeps, upstreams: () => ProxyUpstreams): Promise<HttpResult> {
  const method = event.requestContext?.http?.method ?? 'GET';
  const path = event.rawPath ?? '';
  // Only WeChat's API paths (/cgi-bin/ and the compat apps' proxy paths) are answered WeChat's way;
  // anything else that no route took is the hub's own 404.
  if (!path.startsWith('/cgi-bin/') && !compatApps(deps).some((a) => a.proxyPaths.some((p) => path.startsWith(p)))) {
    return notRouted(event, undefined);
  }
  const q = new URLSearchParams(event.rawQueryString ?? '');
  const started = deps.clock.now();
  let result: HttpResult;
  try {
    result = await route(method, path, q, event, deps, upstreams);
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
  if (TOKEN_INVALID.has(errcodeOf(res) ?? 0)) memoryOf(deps).known.delete(tokenHash(token)); // looked up again next time
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
  const app = compatApps(deps).find((a): a is WeChatApp => a.type !== 'wecom' && a.appid === appid);
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

type Platform = 'wechat' | 'wecom';

/**
 * What one container (one hub) remembers about tokens SDKs sent, so that junk costs the store little:
 * tokens found to be an app's (`known`), tokens found to be no app's for what was looked up
 * (`unknown`, keyed by the platform looked up: an Official Account token sent to a WeCom path is no
 * WeCom app's, and stays an Official Account's), and a token bucket for lookups of tokens in
 * neither (each reads the store once per compat app). Tokens are held as their SHA-256, never as
 * they are.
 */
interface TokenMemory {
  known: Map<string, { app: string; until: number }>;
  unknown: Map<string, number>;
  bucket: { tokens: number; at: number };
}
const memoryByHub = new WeakMap<object, TokenMemory>();
/** How long a token found (or handed out) stays known without a store read: a token the hub stopped serving then goes to WeChat, which refuses it. */
const KNOWN_FOR_MS = 60_000;
/** How long a token found to be no app's is answered without a read (a token that is no app's never becomes one's: the hub's are minted by WeChat and stored before anyone holds them). */
const UNKNOWN_FOR_MS = 60_000;
const MAX_REMEMBERED = 5_000;
/** Lookups of tokens this container does not know yet, per container: a burst, then so many a second; past it, 40001 without a read. */
export const UNKNOWN_LOOKUPS_BURST = 10;
export const UNKNOWN_LOOKUPS_PER_SECOND = 5;

function memoryOf(deps: EdgeDeps): TokenMemory {
  let m = memoryByHub.get(deps.refresher);
  if (!m) memoryByHub.set(deps.refresher, (m = { known: new Map(), unknown: new Map(), bucket: { tokens: UNKNOWN_LOOKUPS_BURST, at: deps.clock.now() } }));
  return m;
}

function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** Remember `key` until `until`, dropping the oldest entry when full (a Map keeps insertion order). */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  if (map.size >= MAX_REMEMBERED) map.delete(map.keys().next().value!);
  map.set(key, value);
}

/** One lookup from the bucket, if there is one left. */
function takeLookup(m: TokenMemory, now: number): boolean {
  const b = m.bucket;
  b.tokens = Math.min(UNKNOWN_LOOKUPS_BURST, b.tokens + (Math.max(0, now - b.at) * UNKNOWN_LOOKUPS_PER_SECOND) / 1000);
  b.at = Math.max(b.at, now);
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

const onPlatform = (app: HubApp, platform: Platform | undefined) => !platform || (app.type === 'wecom') === (platform === 'wecom');

/** A token the hub just handed an SDK (compat /cgi-bin/token, gettoken): its calls pass without a lookup. */
function knowServed(deps: EdgeDeps, app: HubApp, s: Served): void {
  const now = deps.clock.now();
  remember(memoryOf(deps).known, tokenHash(s.value), { app: app.name, until: Math.min(now + KNOWN_FOR_MS, s.expiresAt) });
}

/**
 * The compat app whose current (or overlapping previous) token this is (of `platform`, when given):
 * first match. Junk is refused without a read; a token this container knows, or knows to be no
 * app's of that platform, costs no read; other tokens are looked up within the bucket.
 */
async function appOf(deps: EdgeDeps, token: string, platform?: Platform): Promise<HubApp | undefined> {
  if (!CREDENTIAL_SHAPE.test(token)) return undefined;
  const now = deps.clock.now();
  const m = memoryOf(deps);
  const hash = tokenHash(token);
  const known = m.known.get(hash);
  if (known && known.until > now) {
    const app = deps.refresher.hasApp(known.app) ? deps.refresher.app(known.app) : undefined;
    if (app?.compat) return onPlatform(app, platform) ? app : undefined;
  }
  const missKey = `${platform ?? 'any'}:${hash}`;
  if ((m.unknown.get(missKey) ?? 0) > now || (m.unknown.get(`any:${hash}`) ?? 0) > now) return undefined;
  // Past the bucket: refused without a read, and not remembered (it may be a good token).
  if (!takeLookup(m, now)) return undefined;
  for (const app of compatApps(deps)) {
    if (!onPlatform(app, platform)) continue;
    if (await deps.refresher.recognizes(app.name, token)) {
      remember(m.known, hash, { app: app.name, until: now + KNOWN_FOR_MS });
      return app;
    }
  }
  remember(m.unknown, missKey, now + UNKNOWN_FOR_MS);
  return undefined;
}

/** A body past what the compat paths take, answered as WeChat answers one (the local server's limit). */
export function compatBodyTooLarge(): HttpResult {
  return answer(new WeChatAnswer(47001, 'data format error: body too large'));
}

/**
 * Whether a request to the pass-through carries a token the hub serves (the local server reads a
 * large body only then). The same lookup the handler makes: a token it refuses costs nothing more.
 */
export async function compatTokenKnown(deps: EdgeDeps, event: HttpEvent): Promise<boolean> {
  const token = new URLSearchParams(event.rawQueryString ?? '').get('access_token');
  if (!token) return false;
  try {
    return (await appOf(deps, token)) !== undefined;
  } catch {
    return false; // the handler meets the same failure and answers it
  }
}

function compatApps(deps: EdgeDeps): HubApp[] {
  return deps.refresher.appNames.map((n) => deps.refresher.app(n)).filter((a) => a.compat);
}

async function grantOf(deps: EdgeDeps, key: string): Promise<Grant | undefined> {
  if (key.length > 256) return undefined;
  const auth = await deps.keyring();
  return auth.lookup?.(key);
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


function tokenAnswer(s: Served, deps: EdgeDeps, app: HubApp): HttpResult {
  knowServed(deps, app, s);
  const token = { access_token: s.value, expires_in: servedSeconds(s, deps.clock.now()) };
  return json(app.type === 'wecom' ? { errcode: 0, errmsg: 'ok', ...token } : token);
}

function ticketAnswer(s: Served, deps: EdgeDeps): HttpResult {
  return json({ errcode: 0, errmsg: 'ok', ticket: s.value, expires_in: servedSeconds(s, deps.clock.now()) });
}

/** What the hub's own failures look like to an SDK: WeChat's codes, with the hub's reason. */
function asWeChat(error: unknown, deps: EdgeDeps): WeChatAnswer {
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

function answer(e: WeChatAnswer): HttpResult {
  return json({ errcode: e.errcode, errmsg: e.errmsg });
}

function json(body: unknown): HttpResult {
  return { statusCode: 200, headers: { 'content-type': 'application/json; encoding=utf-8', 'cache-control': 'no-store', ...NOSNIFF }, body: JSON.stringify(body) };
}
