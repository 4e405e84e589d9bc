import { createServer, type IncomingMessage } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listen, type Listening } from '../support/listen.js';
import { useWorld } from '../support/use-world.js';
import { COMPAT_APPS, httpEvent, json, PROXY_KEY, READ_KEY } from '../support/world.js';

/**
 * Security review, finding h: credential paths spelt with a trailing dot (or in another form a
 * server may take for the same path), WeCom's corpgroup gettoken, and query parameters that spell
 * access_token differently, on the proxy and on the compat pass-through. Against a hand-written
 * upstream that records what reached it.
 */
const world = useWorld(() => ({ env: { HUB_APPS: JSON.stringify(COMPAT_APPS) } }));
let echo: Listening;
let received: { path: string; query: [string, string][] }[];
const HUB_TOKEN = 'echo_token_0000000000';

beforeEach(async () => {
  received = [];
  echo = await listen(createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    res.setHeader('content-type', 'application/json');
    if (url.pathname === '/cgi-bin/token') return res.end(JSON.stringify({ access_token: HUB_TOKEN, expires_in: 7200 }));
    if (url.pathname === '/cgi-bin/gettoken') return res.end(JSON.stringify({ errcode: 0, errmsg: 'ok', access_token: 'echo_wecom_token_00000', expires_in: 7200 }));
    received.push({ path: url.pathname, query: [...url.searchParams] });
    res.end(JSON.stringify({ errcode: 0, errmsg: 'ok' }));
  }));
});
afterEach(async () => {
  await echo.close();
});

const hubOnEcho = () => world.container({ WECHAT_API_BASE: echo.url, WECOM_API_BASE: echo.url });

const proxyEvent = (app: string, path: string, query = '') =>
  httpEvent({ method: 'GET', app, key: PROXY_KEY, path: `/v1/apps/${app}/wechat${path}`, routeKey: 'ANY /v1/apps/{app}/wechat/{path+}', pathParameters: { app, path: path.slice(1) }, query });
const compatEvent = (path: string, query: string) =>
  httpEvent({ method: 'GET', path, routeKey: 'ANY /{path+}', pathParameters: { path: path.slice(1) }, query });

const CREDENTIAL_SPELLINGS = [
  '/cgi-bin/token.',
  '/cgi-bin/token..',
  '/cgi-bin/token./',
  '/cgi-bin/TOKEN.',
  '/cgi-bin/token.json',
  '/cgi-bin/stable_token.',
  '/cgi-bin/ticket/getticket.',
  '/cgi-bin/ticket./getticket',
  '/cgi-bin/Ticket/GetTicket./',
  '/cgi-bin/openapi/quota/clear.',
  '/cgi-bin/clear_quota.',
  '/cgi-bin/component./api_component_token',
];
const WECOM_CREDENTIAL_SPELLINGS = ['/cgi-bin/gettoken.', '/cgi-bin/get_jsapi_ticket.', '/cgi-bin/ticket/get.', '/cgi-bin/corpgroup/corp/gettoken', '/cgi-bin/corpgroup/corp/gettoken.', '/cgi-bin/CorpGroup/Corp/GetToken/'];
/** Query keys that a server may read as access_token, beside the hub's own. */
const SPELLINGS_OF_ACCESS_TOKEN = ['ACCESS_TOKEN=a1', 'Access_Token=a2', 'access_token%00=a3', 'access_token[]=a4', 'access_token%5B%5D=a5', 'access_token%20=a6', 'access%5Ftoken=a7', 'access_token%2500=a8', '%20access_token=a9', 'access_token%00x=a10'];

describe('the proxy never forwards a credential API, however it is spelt', () => {
  it.each(CREDENTIAL_SPELLINGS)('an Official Account: %s is refused 403 path_not_allowed', async (path) => {
    const res = await hubOnEcho().proxy(proxyEvent('oa', path));
    expect([res.statusCode, json(res).error.code]).toEqual([403, 'path_not_allowed']);
    expect(received).toEqual([]);
  });

  it.each(WECOM_CREDENTIAL_SPELLINGS)('a WeCom app: %s is refused 403 path_not_allowed', async (path) => {
    const res = await hubOnEcho().proxy(proxyEvent('crm', path));
    expect([res.statusCode, json(res).error.code]).toEqual([403, 'path_not_allowed']);
    expect(received).toEqual([]);
  });

  it.each(['/cgi-bin/token;x=1', '/cgi-bin/%74oken', '/cgi-bin/token%2e', '/cgi-bin/.../token', '/cgi-bin/token\\'])('%s is refused as not a plain path', async (path) => {
    const res = await hubOnEcho().proxy(proxyEvent('oa', path));
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
    expect(received).toEqual([]);
  });

  it('a plain API path is still forwarded', async () => {
    expect((await hubOnEcho().proxy(proxyEvent('oa', '/cgi-bin/user/get'))).statusCode).toBe(200);
    expect(received.map((r) => r.path)).toEqual(['/cgi-bin/user/get']);
  });
});

describe('the compat pass-through never forwards a credential API with the hub\'s token', () => {
  it.each([...CREDENTIAL_SPELLINGS, '/cgi-bin/corpgroup/corp/gettoken'])('%s is answered 48001 and not passed on', async (path) => {
    const hub = hubOnEcho();
    const token = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token as string;
    const res = await hub.compat(compatEvent(path, `access_token=${token}`));
    expect(json(res).errcode).toBe(48001);
    expect(received).toEqual([]);
  });
});

describe('access_token spelt another way is dropped, never forwarded beside the hub\'s', () => {
  it('the proxy sends one access_token, the hub\'s, and the other parameters as they came', async () => {
    const query = ['x=1', ...SPELLINGS_OF_ACCESS_TOKEN, 'access_token=callers_own', 'y=2'].join('&');
    expect((await hubOnEcho().proxy(proxyEvent('oa', '/cgi-bin/user/get', query))).statusCode).toBe(200);
    expect(received).toHaveLength(1);
    expect(received[0]!.query.filter(([k]) => k !== 'x' && k !== 'y')).toEqual([['access_token', HUB_TOKEN]]);
    expect(received[0]!.query).toContainEqual(['x', '1']);
    expect(received[0]!.query).toContainEqual(['y', '2']);
  });

  it('the compat pass-through sends one access_token, the one it checked', async () => {
    const hub = hubOnEcho();
    const token = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token as string;
    const query = [`access_token=${token}`, 'x=1', ...SPELLINGS_OF_ACCESS_TOKEN].join('&');
    expect(json(await hub.compat(compatEvent('/cgi-bin/user/get', query)))).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(received).toHaveLength(1);
    expect(received[0]!.query.filter(([k]) => k !== 'x')).toEqual([['access_token', token]]);
  });
});
