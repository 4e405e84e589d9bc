import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalServer } from '../../lib/http/local-server.js';
import { ADMIN_KEY, closeSharedDynalite, OTHER_APP_KEY, PROXY_KEY, READ_KEY, REFRESH_KEY, startWorld, type World } from '../support/world.js';

let world: World;
let url: string;
let close: () => Promise<void>;
let token: string;

beforeAll(async () => {
  world = await startWorld();
  const server = createLocalServer(world.container());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  token = (await call('GET', '/v1/apps/oa/access-token', { key: READ_KEY })).json.access_token;
});
afterAll(async () => {
  await close();
  await world.close();
  await closeSharedDynalite();
});

async function call(method: string, path: string, o: { key?: string; body?: string; type?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...o.headers };
  if (o.key) headers.authorization = `Bearer ${o.key}`;
  if (o.type) headers['content-type'] = o.type;
  const res = await request(`${url}${path}`, { method: method as 'GET', headers, body: o.body });
  const text = await res.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

const refresh = (body: string, o: { key?: string; type?: string; app?: string } = {}) =>
  call('POST', `/v1/apps/${o.app ?? 'oa'}/access-token/refresh`, { key: o.key ?? REFRESH_KEY, body, type: o.type ?? 'application/json' });

describe('HTTP API over a real socket', () => {
  it('serves the token with no-store', async () => {
    const r = await call('GET', '/v1/apps/oa/access-token', { key: READ_KEY });
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.json.access_token).toBe(token);
  });

  it.each([
    ['no key', 'GET', '/v1/apps/oa/access-token', {}, 401, 'unauthorized'],
    ['malformed key', 'GET', '/v1/apps/oa/access-token', { headers: { authorization: 'Token abc' } }, 401, 'unauthorized'],
    ['wrong key', 'GET', '/v1/apps/oa/access-token', { key: 'wrong_key_0000000000000000' }, 401, 'unauthorized'],
    ['key for another app', 'GET', '/v1/apps/oa/access-token', { key: OTHER_APP_KEY }, 403, 'forbidden'],
    ['read key refreshing', 'POST', '/v1/apps/oa/access-token/refresh', { key: READ_KEY, body: '{"stale_token":"x"}', type: 'application/json' }, 403, 'forbidden'],
    ['unknown app', 'GET', '/v1/apps/ghost/access-token', { key: OTHER_APP_KEY }, 403, 'forbidden'],
    ['bad app name', 'GET', '/v1/apps/a%20b/access-token', { key: READ_KEY }, 400, 'invalid_app'],
    ['query string', 'GET', '/v1/apps/oa/access-token?x=1', { key: READ_KEY }, 400, 'unexpected_query'],
    ['unknown route', 'GET', '/v2/nothing', {}, 404, 'route_not_found'],
    ['wrong method', 'DELETE', '/v1/apps/oa/access-token', { key: READ_KEY }, 405, 'method_not_allowed'],
  ])('%s', async (_l, method, path, o, status, code) => {
    const r = await call(method, path, o);
    expect(r.status).toBe(status);
    expect(r.json.error.code).toBe(code);
  });

  it('a key sees every app it lists and no other', async () => {
    expect((await call('GET', '/v1/apps/mp/access-token', { key: REFRESH_KEY })).status).toBe(200);
    expect((await call('GET', '/v1/apps/other/access-token', { key: REFRESH_KEY })).status).toBe(403);
  });

  it.each([
    ['not JSON', 'stale', 'application/json', 400, 'invalid_json'],
    ['wrong type', '{"stale_token":"x"}', 'text/plain', 415, 'unsupported_media_type'],
    ['array body', '[1]', 'application/json', 400, 'invalid_body'],
    ['missing field', '{}', 'application/json', 400, 'invalid_body'],
    ['extra field', '{"stale_token":"abc","x":1}', 'application/json', 400, 'invalid_body'],
    ['number', '{"stale_token":5}', 'application/json', 400, 'invalid_body'],
    ['spaces', '{"stale_token":"a b"}', 'application/json', 400, 'invalid_body'],
    ['too long', JSON.stringify({ stale_token: 'a'.repeat(2000) }), 'application/json', 400, 'invalid_body'],
    ['too large', JSON.stringify({ stale_token: 'a'.repeat(5000) }), 'application/json', 413, 'body_too_large'],
  ])('force-refresh body: %s', async (_l, body, type, status, code) => {
    const r = await refresh(body, { type });
    expect(r.status).toBe(status);
    expect(r.json.error.code).toBe(code);
    expect(world.sim.calls('wx_oa_0001')).toBe(1);
  });

  it('arbitrary requests never get a 5xx, a stack trace, a secret or a token', async () => {
    const secrets = Object.values(world.secrets);
    const segment = fc.oneof(fc.constantFrom('v1', 'apps', 'oa', 'mp', 'crm', 'access-token', 'refresh', 'tickets', 'jsapi', 'agent_config', 'jsapi-signature', 'status', 'quota', 'health', 'principals', 'platforms', 'events', 'wechat', 'cgi-bin', 'token', '..', '%00', '%2F'), fc.string({ maxLength: 12 }).map(encodeURIComponent));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
        fc.array(segment, { maxLength: 6 }),
        fc.option(fc.constantFrom(READ_KEY, REFRESH_KEY, PROXY_KEY, ADMIN_KEY, 'x', `${READ_KEY}x`), { nil: undefined }),
        fc.option(fc.oneof(fc.string({ maxLength: 200 }), fc.json().map(String), fc.constant('{"stale_token":"abc"}')), { nil: undefined }),
        fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8', ''),
        fc.dictionary(
          fc.oneof(fc.constantFrom('x-forwarded-for', 'accept', 'content-encoding', 'x-amz-date', 'cookie'), fc.stringMatching(/^x-[a-z]{1,8}$/)),
          fc.stringMatching(/^[\x20-\x7e]{0,40}$/),
          { maxKeys: 4 },
        ),
        async (method, segs, key, body, type, headers) => {
          const r = await call(method, `/${segs.join('/')}`, { key, body: method === 'GET' ? undefined : body, type: type || undefined, headers });
          expect(r.status).toBeLessThan(500);
          expect(r.text).not.toMatch(/\bat .*\.(ts|js):\d+/);
          for (const s of secrets) expect(r.text).not.toContain(s);
          if (r.status !== 200) expect(r.text).not.toContain(token);
        },
      ),
      { numRuns: 150 },
    );
    // The only token fetch was the first read: garbage cost WeChat nothing.
    expect(world.sim.calls('wx_oa_0001')).toBe(1);
  });
});
