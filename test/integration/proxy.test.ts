import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { captureOutput } from '../support/capture.js';
import { listen, type Listening } from '../support/listen.js';
import { closeSharedDynalite, httpEvent, json, PROXY_KEY, READ_KEY, startWorld, type World } from '../support/world.js';

/**
 * The token-injecting proxy against the simulator (token checks, 40001 healing) and against a
 * hand-written upstream that echoes what reached it (method, query, body and content type as sent).
 */
const OA = 'wx_oa_0001';
let world: World;
let echo: Listening;
let echoBase: string;
let stableCalls = 0;
let received: { method?: string; path: string; query: Record<string, string>; contentType?: string; sha256: string; length: number }[];

beforeEach(async () => {
  world = await startWorld();
  received = [];
  echo = await listen(createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://x');
    res.setHeader('content-type', 'application/json; encoding=utf-8');
    if (url.pathname === '/cgi-bin/token') return res.end(JSON.stringify({ access_token: 'echo_token_0000000000', expires_in: 7200 }));
    if (url.pathname === '/cgi-bin/stable_token') return (stableCalls++, res.end(JSON.stringify({ access_token: `echo_stable_${stableCalls}_00000000`, expires_in: 7200 })));
    received.push({ method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), contentType: req.headers['content-type'], sha256: createHash('sha256').update(body).digest('hex'), length: body.length });
    if (url.pathname === '/cgi-bin/get_api_domain_ip') return res.end(JSON.stringify({ ip_list: ['127.0.0.1'] })); // the Mini Program probe: the token is good
    if (url.pathname === '/wxa/fake40001') return res.end(JSON.stringify({ errcode: 40001, errmsg: 'invalid credential' }));
    if (url.pathname === '/cgi-bin/media/fake40001') {
      res.setHeader('content-type', 'image/jpeg');
      return res.end('{"errcode":40001}');
    }
    if (url.pathname === '/cgi-bin/media/huge') {
      res.setHeader('content-type', 'application/octet-stream');
      return res.end(Buffer.alloc(5 * 1024 * 1024));
    }
    if (url.pathname === '/cgi-bin/media/get') {
      res.setHeader('content-type', 'image/jpeg');
      res.setHeader('content-disposition', 'attachment; filename="a.jpg"');
      return res.end(Buffer.from([0xff, 0xd8, 0xff, 0x00, 0x01, 0x02]));
    }
    res.end(JSON.stringify({ errcode: 0, errmsg: 'ok', media_id: 'm1' }));
  }));
  echoBase = echo.url;
});
afterEach(async () => {
  await echo.close();
  await world.close();
});
afterAll(closeSharedDynalite);

const proxyEvent = (o: { app?: string; path: string; method?: string; query?: string; key?: string; body?: string; base64?: boolean; contentType?: string }) => {
  const app = o.app ?? 'oa';
  const e = httpEvent({
    method: o.method ?? 'GET',
    app,
    key: o.key ?? PROXY_KEY,
    path: `/v1/apps/${app}/wechat${o.path}`,
    routeKey: 'ANY /v1/apps/{app}/wechat/{path+}',
    pathParameters: { app, path: o.path.slice(1) },
    query: o.query,
    body: o.body,
    contentType: o.contentType,
  });
  return { ...e, isBase64Encoded: o.base64 ?? false };
};

describe('the token-injecting proxy', () => {
  it('calls WeChat with the hub\'s token, and answers as WeChat answered', async () => {
    const hub = world.container();
    const res = await hub.proxy(proxyEvent({ path: '/cgi-bin/getcallbackip' }));
    expect(res.statusCode).toBe(200);
    expect(json(res).ip_list.length).toBeGreaterThan(0);
    expect(world.sim.calls(OA, 'getcallbackip')).toBe(1);
    expect(res.headers?.['cache-control']).toBe('no-store');
  });

  it('heals a token WeChat rejects: one forced refresh with the used token as the stale one, one retry', async () => {
    const hub = world.container();
    await hub.proxy(proxyEvent({ path: '/cgi-bin/getcallbackip' }));
    world.sim.revokeTokens(OA);
    world.clock.advance(11_000);
    const res = await hub.proxy(proxyEvent({ path: '/cgi-bin/getcallbackip' }));
    expect(res.statusCode).toBe(200);
    expect(json(res).ip_list.length).toBeGreaterThan(0);
    expect(world.sim.calls(OA)).toBe(2); // exactly one new token
  });

  it('passes method, query, JSON and multipart bodies and content type through, and binary answers back', async () => {
    const hub = world.container({ WECHAT_API_BASE: echoBase });
    const jsonBody = JSON.stringify({ touser: 'o1', msgtype: 'text', text: { content: '你好' } });
    const a = await hub.proxy(proxyEvent({ method: 'POST', path: '/cgi-bin/message/custom/send', query: 'x=1&access_token=CALLERS_OWN', body: jsonBody, contentType: 'application/json' }));
    expect(json(a)).toEqual({ errcode: 0, errmsg: 'ok', media_id: 'm1' });
    expect(received[0]).toMatchObject({ method: 'POST', path: '/cgi-bin/message/custom/send', query: { x: '1', access_token: 'echo_token_0000000000' }, contentType: 'application/json' });
    expect(received[0]!.sha256).toBe(createHash('sha256').update(jsonBody).digest('hex'));

    const boundary = '----hub';
    const file = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="media"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`), Buffer.from([0, 1, 2, 255, 254]), Buffer.from(`\r\n--${boundary}--\r\n`)]);
    await hub.proxy(proxyEvent({ method: 'POST', path: '/cgi-bin/media/upload', query: 'type=image', body: file.toString('base64'), base64: true, contentType: `multipart/form-data; boundary=${boundary}` }));
    expect(received[1]).toMatchObject({ path: '/cgi-bin/media/upload', contentType: `multipart/form-data; boundary=${boundary}`, length: file.length });
    expect(received[1]!.sha256).toBe(createHash('sha256').update(file).digest('hex'));

    const media = await hub.proxy(proxyEvent({ path: '/cgi-bin/media/get', query: 'media_id=m1' }));
    expect(media.isBase64Encoded).toBe(true);
    expect(Buffer.from(media.body!, 'base64')).toEqual(Buffer.from([0xff, 0xd8, 0xff, 0x00, 0x01, 0x02]));
    expect(media.headers).toMatchObject({ 'content-type': 'image/jpeg', 'content-disposition': 'attachment; filename="a.jpg"' });
  });

  it('forwards only allowed paths of the app to the configured host, with the proxy scope', async () => {
    const hub = world.container({ WECHAT_API_BASE: echoBase });
    const cases: [Parameters<typeof proxyEvent>[0], number, string][] = [
      [{ path: '/sns/oauth2/access_token' }, 403, 'path_not_allowed'],
      [{ path: '/cgi-bin/token' }, 403, 'path_not_allowed'],
      [{ path: '/cgi-bin/ticket/getticket' }, 403, 'path_not_allowed'],
      [{ path: '/cgi-bin/clear_quota' }, 403, 'path_not_allowed'],
      [{ path: '/cgi-bin/../sns/x' }, 400, 'invalid_path'],
      [{ path: '/cgi-bin/%2e%2e/x' }, 400, 'invalid_path'],
      [{ path: '//evil.example/cgi-bin/x' }, 400, 'invalid_path'],
      [{ path: '/cgi-bin/x', method: 'DELETE' }, 405, 'method_not_allowed'],
      [{ path: '/cgi-bin/x', key: READ_KEY }, 403, 'forbidden'],
      [{ path: '/cgi-bin/x', app: 'other' }, 403, 'forbidden'],
    ];
    for (const [o, status, code] of cases) {
      const res = await hub.proxy(proxyEvent(o));
      expect(res.statusCode, o.path).toBe(status);
      expect(json(res).error.code, o.path).toBe(code);
    }
    expect(received).toHaveLength(0);
    const apps = (await import('../support/world.js')).APPS.map((a) => (a.name === 'oa' ? { ...a, proxyPaths: ['/wxa/'] } : a));
    const custom = world.container({ WECHAT_API_BASE: echoBase, HUB_APPS: JSON.stringify(apps) });
    expect((await custom.proxy(proxyEvent({ path: '/cgi-bin/getcallbackip' }))).statusCode).toBe(403);
    expect((await custom.proxy(proxyEvent({ path: '/wxa/getwxacode' }))).statusCode).toBe(200);
    expect(received.map((r) => r.path)).toEqual(['/wxa/getwxacode']);
  });

  it('logs method, path, errcode and latency, never a query value, a body or a token', async () => {
    const { lines } = await captureOutput(async () => {
      const logger = new Logger({ serviceName: 'proxy', logLevel: 'DEBUG' });
      const hub = world.container({ WECHAT_API_BASE: echoBase }, { logger });
      await hub.proxy(proxyEvent({ method: 'POST', path: '/cgi-bin/message/custom/send', query: 'openid=SECRET_OPENID_VALUE', body: '{"text":"BODY_SECRET"}', contentType: 'application/json' }));
    });
    const proxied = lines.map((l) => JSON.parse(l)).find((l) => l.message === 'proxied');
    expect(proxied).toMatchObject({ method: 'POST', path: '/cgi-bin/message/custom/send', status: 200, errcode: 0, retried: false });
    expect(typeof proxied.ms).toBe('number');
    const text = lines.join('');
    for (const v of ['SECRET_OPENID_VALUE', 'BODY_SECRET', 'echo_token_0000000000', PROXY_KEY]) expect(text).not.toContain(v);
  });
});

describe('what the review found (proxy and compat pass-through)', () => {
  it('a 40001 inside a file, or for a token WeChat still accepts, rotates nothing', async () => {
    const hub = world.container({ WECHAT_API_BASE: echoBase });
    // mp is a Mini Program: probed with get_api_domain_ip, which says the token is good, so the proxy does not rotate it on an answer's word.
    const res = await hub.proxy(proxyEvent({ app: 'mp', path: '/wxa/fake40001' }));
    expect(res.statusCode).toBe(200);
    expect(json(res).errcode).toBe(40001); // WeChat's answer, as it came
    expect(stableCalls).toBe(1); // the first fetch only: no forced rotation
    // A file whose bytes happen to read {"errcode":40001} is not an answer about the token.
    const oa = await hub.proxy(proxyEvent({ path: '/cgi-bin/media/fake40001' }));
    expect(oa.statusCode).toBe(200);
    expect(received.filter((r) => r.path === '/cgi-bin/media/fake40001')).toHaveLength(1); // not retried
  });

  it('never forwards quota resets, whatever the case; drops a GET body; refuses an answer too large to pass back', async () => {
    const hub = world.container({ WECHAT_API_BASE: echoBase });
    for (const path of ['/cgi-bin/openapi/quota/clear', '/cgi-bin/Ticket/GetTicket', '/cgi-bin/CLEAR_QUOTA']) {
      expect(json(await hub.proxy(proxyEvent({ method: 'POST', path, body: '{}', contentType: 'application/json' }))).error.code, path).toBe('path_not_allowed');
    }
    const withBody = await hub.proxy(proxyEvent({ method: 'GET', path: '/cgi-bin/user/get', body: 'x=1', contentType: 'text/plain' }));
    expect(withBody.statusCode).toBe(200);
    expect(received.at(-1)).toMatchObject({ method: 'GET', length: 0 });
    const big = await hub.proxy(proxyEvent({ path: '/cgi-bin/media/huge' }));
    expect(big.statusCode).toBe(502);
    expect(json(big).error.message).toContain('larger than');
  });

  it('the compat pass-through sends only the token it checked', async () => {
    const apps = (await import('../support/world.js')).APPS.map((a) => (a.name === 'oa' ? { ...a, compat: true } : a));
    const hub = world.container({ WECHAT_API_BASE: echoBase, HUB_APPS: JSON.stringify(apps) });
    const token = json(await hub.getToken(httpEvent({ key: (await import('../support/world.js')).READ_KEY }))).access_token;
    const res = await hub.compat(httpEvent({ method: 'GET', path: '/cgi-bin/user/get', routeKey: 'ANY /{path+}', pathParameters: { path: 'cgi-bin/user/get' }, query: `access_token=${token}&access_token=someone_elses_token` }));
    expect(res.statusCode).toBe(200);
    expect(received.at(-1)?.query.access_token).toBe(token);
    expect(JSON.stringify(received.at(-1)?.query)).not.toContain('someone_elses_token');
  });
});
