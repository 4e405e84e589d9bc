import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../lib/http/auth.js';
import { runLocal, type LocalHub } from '../../lib/local/run-local.js';

/**
 * `npm start` configured through the documented contract against a WeChat-like server that is
 * deliberately not the project's simulator: a few lines that only know GET /cgi-bin/token and the
 * getcallbackip probe.
 */
const SECRET = 'other-server-secret-123';
const KEY = 'local_hub_test_key_0123456789';
let fetches = 0;
/** Tokens this server still accepts. */
const live = new Set<string>();
let wechat: Server;
let hub: LocalHub;
const lines: string[] = [];

beforeAll(async () => {
  wechat = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    res.setHeader('content-type', 'application/json');
    if (url.pathname === '/cgi-bin/getcallbackip') {
      const ok = live.has(url.searchParams.get('access_token') ?? '');
      return res.end(JSON.stringify(ok ? { ip_list: ['127.0.0.1'] } : { errcode: 40001, errmsg: 'invalid credential' }));
    }
    if (url.pathname !== '/cgi-bin/token') return res.end(JSON.stringify({ errcode: 404, errmsg: 'no' }));
    if (url.searchParams.get('secret') !== SECRET) return res.end(JSON.stringify({ errcode: 40001, errmsg: 'invalid credential' }));
    fetches++;
    // Answer slowly, so that a burst of forced refreshes really overlaps the fetch.
    const token = `other-${fetches}-${'x'.repeat(40)}`;
    live.add(token);
    setTimeout(() => res.end(JSON.stringify({ access_token: token, expires_in: 7200 })), 50);
  });
  await new Promise<void>((r) => wechat.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(wechat.address() as AddressInfo).port}`;
  hub = await runLocal(
    {
      PORT: '0',
      WECHAT_API_BASE: base,
      SHOP_SECRET: SECRET,
      HUB_APPS: JSON.stringify([{ name: 'shop', appid: 'wx_shop_01', type: 'official_account', tokenApi: 'classic', secret: { env: 'SHOP_SECRET' } }]),
      HUB_API_KEYS: JSON.stringify([{ name: 'svc', sha256: hashApiKey(KEY), apps: ['shop'], scopes: ['read', 'refresh'] }]),
      LOG_LEVEL: 'SILENT',
    },
    (l) => lines.push(l),
  );
});
afterAll(async () => {
  await hub?.close();
  wechat?.closeAllConnections();
  await new Promise<void>((r) => wechat.close(() => r()));
});

async function call(method: 'GET' | 'POST', path: string, body?: unknown, key = KEY) {
  const res = await request(`${hub.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.statusCode, body: (await res.body.json()) as any };
}

describe('npm start with configuration', () => {
  it('prints the URL and a curl line, and uses no simulator', () => {
    expect(lines[0]).toBe(`wechat-token-hub is running at ${hub.url}`);
    expect(lines.join('\n')).not.toMatch(/simulator/i);
    expect(lines.join('\n')).toContain(`${hub.url}/v1/apps/shop/access-token`);
  });

  it('serves a token and collapses a burst of forced refreshes into one fetch', async () => {
    const first = await call('GET', '/v1/apps/shop/access-token');
    expect(first.status).toBe(200);
    const before = fetches;
    live.clear(); // WeChat no longer accepts it (as after a fetch outside the hub)
    const burst = await Promise.all(
      Array.from({ length: 50 }, () => call('POST', '/v1/apps/shop/access-token/refresh', { stale_token: first.body.access_token })),
    );
    expect(fetches).toBe(before + 1);
    const tokens = new Set(burst.map((r) => r.body.access_token));
    expect(tokens.size).toBe(1);
    expect(burst.every((r) => r.status === 200 && r.body.refreshed === true)).toBe(true);
  });

  it('answers bad requests with clear 4xx errors', async () => {
    expect((await call('GET', '/v1/apps/shop/access-token', undefined, 'nope_nope_nope_nope_nope')).status).toBe(401);
    expect((await call('GET', '/v1/apps/nothere/access-token')).status).toBe(403);
    expect((await call('POST', '/v1/apps/shop/access-token/refresh', { stale: 1 })).body.error.code).toBe('invalid_body');
  });

  it('refuses invalid configuration naming the field', async () => {
    await expect(runLocal({ PORT: '0', HUB_APPS: '[{"appid":"wx1","type":"game","secret":{"env":"X"}}]' }, () => {})).rejects.toThrow(
      /HUB_APPS\[0\]\.type/,
    );
  });
});
