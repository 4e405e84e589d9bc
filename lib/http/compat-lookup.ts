import type { HubApp } from '../apps.js';
import { DEFAULT_PROXY_PATHS } from '../config.js';
import { tokenHash } from '../identify.js';
import type { Served } from '../refresher.js';
import type { Grant } from './auth.js';
import { CREDENTIAL_SHAPE, type EdgeDeps, type HttpEvent } from './edge.js';

/**
 * How the WeChat-compatible paths (lib/http/compat-routes.ts) find the compat app (or the platform's
 * authorizer, in platform mode: docs/compat.md) of a token an SDK sends, and whether a component
 * token is the hub's: the container's memory of tokens it handed out or found (keyed by the token's
 * SHA-256), of tokens found to be no app's (keyed by that hash and the platform looked up), and the
 * token bucket that bounds the store reads of tokens in neither.
 */

type Platform = 'wechat' | 'wecom';

/**
 * What one container (one hub) remembers about tokens SDKs sent, so that junk costs the store little:
 * tokens found to be an app's (`known`), tokens found to be no app's for what was looked up
 * (`unknown`, keyed by the platform looked up: an Official Account token sent to a WeCom path is no
 * WeCom app's, and stays an Official Account's), and a token bucket for lookups of tokens in
 * neither (each reads the store once: the token-hash index). Tokens are held as their SHA-256, never as
 * they are.
 */
interface TokenMemory {
  known: Map<string, { app: string; until: number }>;
  unknown: Map<string, number>;
  bucket: { tokens: number; at: number };
}
// Lookups of tokens in neither cost one store read each (the token-hash index), whatever the number of apps.
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
export function knowServed(deps: EdgeDeps, app: HubApp, s: Served): void {
  const now = deps.clock.now();
  remember(memoryOf(deps).known, tokenHash(s.value), { app: app.name, until: Math.min(now + KNOWN_FOR_MS, s.expiresAt) });
  // Every value is indexed as it is written; one written before the index existed is indexed here.
  void deps.refresher.tokens.ensureIndexed(app.name, 'access_token', s).catch(() => undefined);
}

/** A token WeChat refused: no longer known, so it is looked up again next time. */
export function forgetKnown(deps: EdgeDeps, token: string): void {
  memoryOf(deps).known.delete(tokenHash(token));
}

/**
 * The compat app whose current (or overlapping previous) token this is (of `platform`, when given):
 * first match. Junk is refused without a read; a token this container knows, or knows to be no
 * app's of that platform, costs no read; other tokens are looked up within the bucket.
 */
export async function appOf(deps: EdgeDeps, token: string, platform?: Platform): Promise<HubApp | undefined> {
  if (!CREDENTIAL_SHAPE.test(token)) return undefined;
  const now = deps.clock.now();
  const m = memoryOf(deps);
  const hash = tokenHash(token);
  const known = m.known.get(hash);
  if (known && known.until > now) {
    const app = await servedOnCompat(deps, known.app);
    if (app) return onPlatform(app, platform) ? app : undefined;
  }
  const missKey = `${platform ?? 'any'}:${hash}`;
  if ((m.unknown.get(missKey) ?? 0) > now || (m.unknown.get(`any:${hash}`) ?? 0) > now) return undefined;
  // Past the bucket: refused without a read, and not remembered (it may be a good token).
  if (!takeLookup(m, now)) return undefined;
  // The token-hash index says which credential issued it (one read); that credential confirms it
  // is still its current value, or its previous one in the overlap, or one it replaced.
  const issuer = await deps.refresher.tokens.issuerOf(token);
  const app = issuer?.kind === 'access_token' ? await servedOnCompat(deps, issuer.app) : undefined;
  if (app && onPlatform(app, platform) && (await deps.refresher.recognizes(app.name, token))) {
    remember(m.known, hash, { app: app.name, until: now + KNOWN_FOR_MS });
    return app;
  }
  remember(m.unknown, missKey, now + UNKNOWN_FOR_MS);
  return undefined;
}

/**
 * Whether `token` is a component token the hub issued to this platform (current, previous in its
 * overlap, or replaced within its life): api_authorizer_token's check (lib/http/compat-component.ts),
 * remembered and bounded as appOf's lookups are, so that junk costs the store as little.
 */
export async function isComponentToken(deps: EdgeDeps, platform: string, token: string): Promise<boolean> {
  if (!CREDENTIAL_SHAPE.test(token)) return false;
  const now = deps.clock.now();
  const m = memoryOf(deps);
  const key = componentKey(platform, token);
  const known = m.known.get(key);
  if (known && known.until > now) return true;
  if ((m.unknown.get(key) ?? 0) > now || !takeLookup(m, now)) return false;
  if (await deps.refresher.recognizes(platform, token, 'component_access_token')) {
    remember(m.known, key, { app: platform, until: now + KNOWN_FOR_MS });
    return true;
  }
  remember(m.unknown, key, now + UNKNOWN_FOR_MS);
  return false;
}

/** A component token the hub just handed an SDK (api_component_token): its api_authorizer_token calls pass without a lookup. */
export function knowComponentToken(deps: EdgeDeps, platform: string, s: Served): void {
  remember(memoryOf(deps).known, componentKey(platform, s.value), { app: platform, until: Math.min(deps.clock.now() + KNOWN_FOR_MS, s.expiresAt) });
}

const componentKey = (platform: string, token: string) => `component:${platform}:${tokenHash(token)}`;

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

/**
 * The principal of this name if its tokens are taken on WeChat's own paths: a compat app, or a
 * platform's authorizer whose authorization stands (platform mode: its SDK got the token from
 * api_authorizer_token, lib/http/compat-component.ts). An authorizer is read from its row (cached).
 */
async function servedOnCompat(deps: EdgeDeps, name: string): Promise<HubApp | undefined> {
  const app = await deps.refresher.load(name);
  return app?.compat && (app.type !== 'authorizer' || app.status === 'authorized') ? app : undefined;
}

/** Whether a path outside /cgi-bin/ may be a pass-through call: in a compat app's proxy paths, or an authorizer's (when a platform is configured). */
export function passOnPath(deps: EdgeDeps, path: string): boolean {
  const apps = deps.refresher.appNames.map((n) => deps.refresher.app(n));
  const prefixes = apps.flatMap((a) => (a.compat ? (a.type === 'platform' ? DEFAULT_PROXY_PATHS.wechat : a.proxyPaths) : []));
  return prefixes.some((p) => path.startsWith(p));
}

/** The hub's apps that answer on WeChat's own paths (`"compat": true`). */
export function compatApps(deps: EdgeDeps): HubApp[] {
  return deps.refresher.appNames.map((n) => deps.refresher.app(n)).filter((a) => a.compat);
}

/** The grant of a hub key an SDK sends as its `secret` (or `corpsecret`), if it is one. */
export async function grantOf(deps: EdgeDeps, key: string): Promise<Grant | undefined> {
  if (key.length > 256) return undefined;
  const auth = await deps.keyring();
  return auth.lookup?.(key);
}
