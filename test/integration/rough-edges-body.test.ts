import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../lib/http/edge.js';
import { createLocalServer } from '../../lib/http/local-server.js';
import type { Hub } from '../../lib/hub.js';
import { closeSharedDynalite, COMPAT_APPS, httpEvent, json, PROXY_KEY, READ_KEY, REFRESH_KEY, startWorld, ticketEvent, type World } from '../support/world.js';

let world: World;
let hub: Hub;
beforeAll(async () => {
  world = await startWorld({ env: { HUB_APPS: JSON.stringify(COMPAT_APPS) } });
  hub = world.container();
});
afterAll(async () => {
  await world.close();
  await closeSharedDynalite();
});

async function refusal(res: Promise<{ statusCode?: number; body?: string }>): Promise<[number | undefined, string]> {
  const r = await res;
  return [r.statusCode, json(r as never).error?.message];
}

describe('body messages say exactly what is wrong, naming the field once', () => {
  it.each([
    ['a number', { stale_token: 123 }, 'stale_token: must be a string'],
    ['null', { stale_token: null }, 'stale_token: must be a string'],
    ['an object', { stale_token: { a: 1 } }, 'stale_token: must be a string'],
    ['an empty string', { stale_token: '' }, 'stale_token: must not be empty'],
    ['no field', {}, 'stale_token: is required'],
    ['a token too long', { stale_token: 'x'.repeat(1025) }, 'stale_token: is longer than any access_token'],
    ['spaces', { stale_token: 'a b' }, 'stale_token: contains characters an access_token never has'],
  ])('stale_token as %s', async (_label, body, message) => {
    expect(await refusal(hub.forceRefresh(httpEvent({ key: REFRESH_KEY, body })))).toEqual([400, message]);
  });

  it.each([
    ['a number', { stale_ticket: 7 }, 'stale_ticket: must be a string'],
    ['an empty string', { stale_ticket: '' }, 'stale_ticket: must not be empty'],
    ['no field', {}, 'stale_ticket: is required'],
  ])('stale_ticket as %s', async (_label, body, message) => {
    expect(await refusal(hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: REFRESH_KEY, body })))).toEqual([400, message]);
  });

  it.each([
    ['a number', { url: 42 }, 'url: must be a string'],
    ['no field', {}, 'url: is required'],
    ['a relative URL', { url: '/page' }, "url: must be an absolute http(s) URL (the page's location.href)"],
  ])('url as %s', async (_label, body, message) => {
    expect(await refusal(hub.tickets(ticketEvent({ app: 'oa', key: READ_KEY, body })))).toEqual([400, message]);
  });

  it('a body over the limit gets the same 413 message from the handler and from the local server, each with its own limit', async () => {
    const handler = await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, body: { stale_token: 'x'.repeat(MAX_BODY_BYTES) } }));
    expect([handler.statusCode, json(handler).error]).toEqual([413, { code: 'body_too_large', message: `the body is larger than ${MAX_BODY_BYTES} bytes` }]);

    const server = createLocalServer(hub);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/apps/oa/access-token/refresh`;
      const headers = { authorization: `Bearer ${REFRESH_KEY}`, 'content-type': 'application/json' };
      const small = await request(url, { method: 'POST', headers, body: JSON.stringify({ stale_token: 'x'.repeat(MAX_BODY_BYTES) }) });
      expect([small.statusCode, ((await small.body.json()) as any).error.message]).toEqual([413, `the body is larger than ${MAX_BODY_BYTES} bytes`]);
      // The local server reads no more than the route's own limit: 4 KiB here, whatever the size sent.
      const huge = await request(url, { method: 'POST', headers, body: Buffer.alloc(6 * 1024 * 1024 + 1, 'x') });
      expect([huge.statusCode, ((await huge.body.json()) as any).error.message]).toEqual([413, `the body is larger than ${MAX_BODY_BYTES} bytes`]);
      // Only the proxy, for a caller with the proxy scope, takes up to Lambda's 6 MB.
      const proxyUrl = url.replace('/access-token/refresh', '/wechat/cgi-bin/media/upload');
      const proxied = await request(proxyUrl, { method: 'POST', headers: { authorization: `Bearer ${PROXY_KEY}`, 'content-type': 'application/octet-stream' }, body: Buffer.alloc(6 * 1024 * 1024 + 1, 'x') });
      expect([proxied.statusCode, ((await proxied.body.json()) as any).error.message]).toEqual([413, `the body is larger than ${6 * 1024 * 1024} bytes`]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
