import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { createLocalServer } from '../../lib/http/local-server.js';
import { listen } from '../support/listen.js';
import { useWorld } from '../support/use-world.js';
import { COMPAT_APPS, httpEvent, json, PROXY_KEY, READ_KEY, REFRESH_KEY, ticketEvent } from '../support/world.js';

/**
 * Security review, finding i (headers): every answer carries X-Content-Type-Options: nosniff, so
 * that no browser takes a JSON answer (or WeChat's answer passed on) for something it would run.
 */
const OA = 'wx_oa_0001';
const world = useWorld(() => ({ env: { HUB_APPS: JSON.stringify(COMPAT_APPS) } }));
const compat = (path: string, query = '') => httpEvent({ method: 'GET', path, routeKey: 'ANY /{path+}', pathParameters: { path: path.slice(1) }, query });
const proxy = (path: string) => httpEvent({ method: 'GET', app: 'oa', key: PROXY_KEY, path: `/v1/apps/oa/wechat${path}`, routeKey: 'ANY /v1/apps/{app}/wechat/{path+}', pathParameters: { app: 'oa', path: path.slice(1) } });
const status = (path: string, key?: string) => httpEvent({ method: 'GET', key, path, routeKey: `GET ${path}`, pathParameters: {} });

describe('X-Content-Type-Options: nosniff on every answer', () => {
  it('the handlers\' answers (as Lambda returns them): native JSON, errors, compat answers and errors, the proxy and the pass-through', async () => {
    const hub = world.container();
    await hub.tick();
    const token = world.sim.currentToken(OA)!;
    const answers = {
      'token read': await hub.getToken(httpEvent({ key: READ_KEY })),
      'token read, no key': await hub.getToken(httpEvent({})),
      'forced refresh': await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, body: { stale_token: 'made_up_token_0000' } })),
      'ticket': await hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY })),
      'signature, bad body': await hub.tickets(ticketEvent({ app: 'oa', key: READ_KEY, body: { url: 1 } })),
      'health': await hub.status(status('/v1/health')),
      'status, no key': await hub.status(status('/v1/status')),
      'compat token': await hub.compat(compat('/cgi-bin/token', `grant_type=client_credential&appid=${OA}&secret=${READ_KEY}`)),
      'compat refusal': await hub.compat(compat('/cgi-bin/token', 'grant_type=client_credential&appid=wx_nope&secret=x')),
      'compat pass-through': await hub.compat(compat('/cgi-bin/getcallbackip', `access_token=${token}`)),
      'not routed': await hub.compat(compat('/v2/nothing')),
      'proxy': await hub.proxy(proxy('/cgi-bin/getcallbackip')),
      'proxy refusal': await hub.proxy(proxy('/cgi-bin/token')),
    };
    expect(json(answers['compat pass-through']).ip_list.length).toBeGreaterThan(0);
    expect(json(answers.proxy).ip_list.length).toBeGreaterThan(0);
    for (const [label, res] of Object.entries(answers)) expect(res.headers?.['x-content-type-options'], label).toBe('nosniff');
  });

  it('the local server\'s own answers too: 404, 405, 413, and everything it passes on', async () => {
    const hub = world.container();
    const server = await listen(createLocalServer(hub));
    try {
      const cases: [string, string, Record<string, string>, string | Buffer | undefined][] = [
        ['GET', '/v2/nothing', {}, undefined],
        ['DELETE', '/v1/apps/oa/access-token', { authorization: `Bearer ${READ_KEY}` }, undefined],
        ['POST', '/v1/apps/oa/access-token/refresh', { authorization: `Bearer ${REFRESH_KEY}`, 'content-type': 'application/json' }, Buffer.alloc(8192, 'x')],
        ['POST', '/v1/apps/oa/access-token/refresh', { 'content-type': 'application/json' }, '{}'],
        ['GET', '/v1/apps/oa/access-token', { authorization: `Bearer ${READ_KEY}` }, undefined],
        ['GET', '/v1/health', {}, undefined],
        ['GET', '/cgi-bin/user/get?access_token=made_up_token_0000', {}, undefined],
      ];
      for (const [method, path, headers, body] of cases) {
        const res = await request(`${server.url}${path}`, { method: method as 'GET', headers, body });
        await res.body.dump();
        expect(res.headers['x-content-type-options'], `${method} ${path}`).toBe('nosniff');
      }
    } finally {
      await server.close();
    }
  });
});
