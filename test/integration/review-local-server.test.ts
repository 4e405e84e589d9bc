import { request as httpRequest } from 'node:http';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../lib/http/edge.js';
import { createLocalServer } from '../../lib/http/local-server.js';
import type { Hub } from '../../lib/hub.js';
import { listen, type Listening } from '../support/listen.js';
import { useWorld } from '../support/use-world.js';
import { COMPAT_APPS, httpEvent, json, PROXY_KEY, READ_KEY, REFRESH_KEY } from '../support/world.js';

/**
 * Security review, finding i (local server): it read up to 6 MB of any request's body before any
 * handler looked at the caller. Now it checks the Authorization header first (a key valid for some
 * scope) and reads at most the route's own limit. Each request below sends part of a body and never
 * ends it: only a server that answers without reading the whole body answers at all.
 */
const world = useWorld(() => ({ env: { HUB_APPS: JSON.stringify(COMPAT_APPS) } }));
let hub: Hub;
let server: Listening;

beforeEach(async () => {
  hub = world.container();
  await hub.tick();
  server = await listen(createLocalServer(hub));
});
afterEach(async () => {
  await server.close();
});

/** Send the headers and `bytes` of body, never ending it; resolve with the answer the server gives anyway. */
function unfinished(method: string, path: string, headers: Record<string, string>, bytes: number): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const url = new URL(`${server.url}${path}`);
    const req = httpRequest({ host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, method, headers: { 'transfer-encoding': 'chunked', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      });
      res.on('error', reject);
    });
    req.on('error', () => undefined); // destroyed after the answer
    req.write(Buffer.alloc(bytes, 'x'));
  });
}

const REFRESH = '/v1/apps/oa/access-token/refresh';
const PROXY = '/v1/apps/oa/wechat/cgi-bin/getcallbackip';
const json_ = { 'content-type': 'application/json' };

describe('the local server checks the caller before it reads a body, and reads at most the route\'s limit', () => {
  it.each([
    ['no Authorization header', REFRESH, {}],
    ['a key that is no key', REFRESH, { authorization: 'Bearer not_a_key_0000000000000000' }],
    ['a malformed header', REFRESH, { authorization: 'Basic abc' }],
    ['the proxy, no key', PROXY, {}],
  ])('%s: 401 at once, the body unread', async (_label, path, headers) => {
    const res = await unfinished('POST', path, { ...json_, ...headers }, 64 * 1024);
    expect([res.status, res.body.error.code]).toEqual([401, 'unauthorized']);
  }, 10_000);

  it('a valid key on a JSON route: 413 once the body passes the route\'s 4 KiB, without reading on', async () => {
    const res = await unfinished('POST', REFRESH, { ...json_, authorization: `Bearer ${REFRESH_KEY}` }, MAX_BODY_BYTES + 1024);
    expect([res.status, res.body.error]).toEqual([413, { code: 'body_too_large', message: `the body is larger than ${MAX_BODY_BYTES} bytes` }]);
  }, 10_000);

  it('the proxy with a key that lacks the proxy scope: the handler\'s 403, the body unread', async () => {
    const res = await unfinished('POST', PROXY, { ...json_, authorization: `Bearer ${READ_KEY}` }, 64 * 1024);
    expect([res.status, res.body.error.code]).toEqual([403, 'forbidden']);
  }, 10_000);

  it('the proxy with the proxy scope takes a body past 4 KiB (up to its 6 MB)', async () => {
    const res = await request(`${server.url}${PROXY}`, { method: 'POST', headers: { authorization: `Bearer ${PROXY_KEY}`, 'content-type': 'application/octet-stream' }, body: Buffer.alloc(1024 * 1024, 'x') });
    const body = (await res.body.json()) as any;
    expect(res.statusCode).toBe(200);
    expect(body.ip_list.length).toBeGreaterThan(0);
  });

  it('compat stable_token: WeChat\'s 47001 once the body passes 4 KiB, without reading on', async () => {
    const res = await unfinished('POST', '/cgi-bin/stable_token', json_, MAX_BODY_BYTES + 1024);
    expect(res).toEqual({ status: 200, body: { errcode: 47001, errmsg: expect.stringMatching(/body too large/) } });
  }, 10_000);

  it('compat pass-through with a token the hub does not serve: 40001 at once, the body unread', async () => {
    const res = await unfinished('POST', '/cgi-bin/message/custom/send?access_token=made_up_token_000000', json_, 64 * 1024);
    expect(res).toEqual({ status: 200, body: { errcode: 40001, errmsg: expect.any(String) } });
  }, 10_000);

  it('compat pass-through with the hub\'s token takes a body past 4 KiB', async () => {
    const token = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token as string;
    const res = await request(`${server.url}/cgi-bin/getcallbackip?access_token=${token}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(256 * 1024, 'x') });
    expect(((await res.body.json()) as any).ip_list.length).toBeGreaterThan(0);
  });
});
