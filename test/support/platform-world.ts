import { hashApiKey } from '../../lib/http/auth.js';
import { createLocalServer } from '../../lib/http/local-server.js';
import type { Hub } from '../../lib/hub.js';
import { MsgCrypt } from '../../lib/platform/msg-crypt.js';
import { listen } from './listen.js';
import { ADMIN_KEY, APPS, httpEvent, READ_KEY, type World } from './world.js';

/** A third-party platform in a test world: its configuration, its keys, and the hub behind a local server WeChat pushes to. */
export const COMPONENT = 'wx_component_01';
export const PLATFORM_NAME = 'shop-platform';
export const PLATFORM_AES = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
export const PLATFORM_TOKEN = 'platform-msg-token';
export const PLATFORM_SECRET = 'component-secret-0001';
/** A key for the platform's authorizers (`shop-platform/*`), read and refresh. */
export const AUTHORIZERS_KEY = `test_authz_${'z'.repeat(24)}`;
/** A key for one authorizer only. */
export const ONE_AUTHORIZER_KEY = `test_one_${'q'.repeat(24)}`;
export const PLATFORM_ADMIN_KEY = `test_padmin_${'k'.repeat(24)}`;

export const PLATFORM = { name: PLATFORM_NAME, type: 'platform', appid: COMPONENT, secret: { env: 'P_SECRET' }, token: { env: 'P_TOKEN' }, aesKey: { env: 'P_AES' }, compat: true };

export function platformEnv(extraKeys: object[] = []): Record<string, string> {
  return {
    HUB_APPS: JSON.stringify([...APPS, PLATFORM]),
    HUB_API_KEYS: JSON.stringify([
      { name: 'authorizers', sha256: hashApiKey(AUTHORIZERS_KEY), apps: [`${PLATFORM_NAME}/*`], scopes: ['read', 'refresh', 'proxy'] },
      { name: 'one-authorizer', sha256: hashApiKey(ONE_AUTHORIZER_KEY), apps: [`${PLATFORM_NAME}/wx_auth_0001`], scopes: ['read'] },
      { name: 'platform-admin', sha256: hashApiKey(PLATFORM_ADMIN_KEY), apps: [PLATFORM_NAME, `${PLATFORM_NAME}/*`], scopes: ['admin'] },
      { name: 'operator', sha256: hashApiKey(ADMIN_KEY), apps: ['*'], scopes: ['admin'] },
      { name: 'reader', sha256: hashApiKey(READ_KEY), apps: ['oa', 'mp', 'crm'], scopes: ['read'] },
      ...extraKeys,
    ]),
    P_SECRET: PLATFORM_SECRET,
    P_TOKEN: PLATFORM_TOKEN,
    P_AES: PLATFORM_AES,
  };
}

export interface PlatformWorld {
  hub: Hub;
  url: string;
  close(): Promise<void>;
}

/**
 * The platform in the simulator, a hub container behind a local server as WeChat's event URL, and
 * the first ticket pushed (the component token is fetched from it on first use).
 */
export async function startPlatform(world: World, options: { ticket?: boolean; env?: Record<string, string> } = {}): Promise<PlatformWorld> {
  world.sim.addPlatform({ appid: COMPONENT, secret: PLATFORM_SECRET, token: PLATFORM_TOKEN, aesKey: PLATFORM_AES });
  for (const [k, v] of Object.entries({ P_SECRET: PLATFORM_SECRET, P_TOKEN: PLATFORM_TOKEN, P_AES: PLATFORM_AES })) world.setSecret(k, v);
  const hub = world.container({ ...platformEnv(), ...options.env });
  const server = await listen(createLocalServer(hub));
  world.sim.setEventUrl(COMPONENT, `${server.url}/v1/platforms/${PLATFORM_NAME}/events`);
  if (options.ticket !== false) {
    const pushed = await world.sim.pushTicket(COMPONENT);
    if (pushed.status !== 200) throw new Error(`the hub did not take the ticket: ${pushed.status}`);
  }
  return { hub, url: server.url, close: () => server.close() };
}

/** An authorizer route's event (`/v1/platforms/shop-platform/authorizers/{appid}/…`). */
export function authorizerEvent(appid: string, rest: string, routeRest: string, options: { key?: string; method?: string; body?: unknown; query?: string; extra?: Record<string, string> } = {}) {
  const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
  return httpEvent({
    method,
    path: `/v1/platforms/${PLATFORM_NAME}/authorizers/${appid}${rest}`,
    routeKey: `${method} /v1/platforms/{name}/authorizers/{appid}${routeRest}`,
    pathParameters: { name: PLATFORM_NAME, appid, ...options.extra },
    ...(options.key ? { key: options.key } : {}),
    ...(options.body === undefined ? {} : { body: options.body }),
    ...(options.query ? { query: options.query } : {}),
  });
}

/**
 * A push to the platform's event URL as WeChat makes it: `inner` encrypted and signed by the hub's
 * own MsgCrypt (the simulator has its own), with `token` (default the platform's), at `at`.
 */
export function signedPush(inner: string, o: { at: number; token?: string; nonce?: string }) {
  const crypt = new MsgCrypt({ token: o.token ?? PLATFORM_TOKEN, encodingAesKey: PLATFORM_AES, receiveId: COMPONENT });
  const timestamp = String(Math.floor(o.at / 1000));
  const nonce = o.nonce ?? 'n0nce';
  const encrypt = crypt.encrypt(inner);
  const query = `signature=x&timestamp=${timestamp}&nonce=${nonce}&encrypt_type=aes&msg_signature=${crypt.sign(timestamp, nonce, encrypt)}`;
  return {
    ...httpEvent({ method: 'POST', path: `/v1/platforms/${PLATFORM_NAME}/events`, routeKey: 'POST /v1/platforms/{name}/events', pathParameters: { name: PLATFORM_NAME }, query }),
    body: `<xml><AppId><![CDATA[${COMPONENT}]]></AppId><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`,
    isBase64Encoded: false,
  };
}
