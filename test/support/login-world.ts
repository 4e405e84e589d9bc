import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { HubDeps } from '../../lib/hub.js';
import { hashApiKey } from '../../lib/http/auth.js';
import { listen, type Listening } from './listen.js';
import { ADMIN_KEY, APPS, OTHER_APP_KEY, READ_KEY, REFRESH_KEY, type World } from './world.js';

/**
 * The logins' test setup on top of a world (test/support/world.ts): the world's apps with the
 * WeChat-compatible paths on, plus a website app (Open Platform, login only), and keys with the
 * `login` scope. The website app is added to the simulator and its secret to the secret store.
 */

export const LOGIN_KEY = `test_login_${'l'.repeat(24)}`;
/** `login` on every app. */
export const EVERY_LOGIN_KEY = `test_everylogin_${'e'.repeat(24)}`;
/** A key with every scope but `login` on the same apps. */
export const NO_LOGIN_KEY = `test_nologin_${'n'.repeat(24)}`;
export const OA = 'wx_oa_0001';
export const MP = 'wx_mp_0002';
export const SITE = 'wx_site_0004';

export const LOGIN_APPS = [
  ...APPS.map((a) => ({ ...a, compat: a.name !== 'other' })),
  { name: 'site', appid: SITE, type: 'website', secret: { env: 'SECRET_SITE' }, compat: true },
];

export const LOGIN_KEYS = [
  { name: 'login', sha256: hashApiKey(LOGIN_KEY), apps: ['oa', 'mp', 'site', 'crm'], scopes: ['login'] },
  { name: 'every-login', sha256: hashApiKey(EVERY_LOGIN_KEY), apps: ['*'], scopes: ['login'] },
  { name: 'no-login', sha256: hashApiKey(NO_LOGIN_KEY), apps: ['*'], scopes: ['read', 'refresh', 'proxy', 'admin'] },
  { name: 'reader', sha256: hashApiKey(READ_KEY), apps: ['oa', 'mp', 'crm', 'site'], scopes: ['read'] },
  { name: 'refresher', sha256: hashApiKey(REFRESH_KEY), apps: ['oa', 'mp', 'crm'], scopes: ['read', 'refresh'] },
  { name: 'other-only', sha256: hashApiKey(OTHER_APP_KEY), apps: ['other'], scopes: ['read', 'refresh', 'login'] },
  { name: 'operator', sha256: hashApiKey(ADMIN_KEY), apps: ['*'], scopes: ['admin'] },
];

/** The website app's AppSecret, at the simulator and in the hub's secret store. */
export function addWebsite(world: World): string {
  const secret = randomBytes(16).toString('hex');
  world.sim.addApp({ appid: SITE, secret });
  world.setSecret('SECRET_SITE', secret);
  world.secrets.SECRET_SITE = secret; // in the list of values no answer or log may hold
  return secret;
}

/** A container (a hub) with the login apps and keys; addWebsite() first. */
export function loginContainer(world: World, env: Record<string, string> = {}, deps: Partial<HubDeps> = {}) {
  return world.container({ HUB_APPS: JSON.stringify(LOGIN_APPS), HUB_API_KEYS: JSON.stringify(LOGIN_KEYS), SECRET_SITE: world.secrets.SECRET_SITE ?? 'unset', ...env }, deps);
}

/** A recording stand-in for WeChat's host: every request line the hub sent, passed on to the simulator. */
export async function recordingUpstream(target: string): Promise<Listening & { urls: string[] }> {
  const urls: string[] = [];
  const server = createServer(async (req, res) => {
    urls.push(req.url ?? '');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const up = await fetch(`${target}${req.url}`, { method: req.method, body: chunks.length && req.method !== 'GET' ? Buffer.concat(chunks) : undefined, headers: { 'content-type': req.headers['content-type'] ?? 'application/json' } });
    res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await up.arrayBuffer()));
  });
  return { ...(await listen(server)), urls };
}
