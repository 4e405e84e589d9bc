import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Hub } from '../../lib/hub.js';
import { addWebsite, EVERY_LOGIN_KEY, LOGIN_KEY, loginContainer, MP, NO_LOGIN_KEY, OA, SITE } from '../support/login-world.js';
import { MINUTE } from '../support/manual-clock.js';
import { useWorld } from '../support/use-world.js';
import { ADMIN_KEY, httpEvent, json, OTHER_APP_KEY, READ_KEY, sharedDynalite, ticketEvent } from '../support/world.js';

/**
 * The hub's own login routes: a Mini Program's code2Session (POST /v1/apps/{app}/login) and web
 * authorization (POST /v1/apps/{app}/oauth/token) for Official Accounts and website apps, against
 * the simulator over HTTP and dynalite.
 */
const world = useWorld();
let hub: Hub;
beforeEach(() => {
  addWebsite(world);
  hub = loginContainer(world);
});

const login = (app: string, body: unknown, key = LOGIN_KEY) =>
  hub.login(httpEvent({ method: 'POST', app, key, path: `/v1/apps/${app}/login`, routeKey: 'POST /v1/apps/{app}/login', body }));
const oauth = (app: string, body: unknown, key = LOGIN_KEY) =>
  hub.login(httpEvent({ method: 'POST', app, key, path: `/v1/apps/${app}/oauth/token`, routeKey: 'POST /v1/apps/{app}/oauth/token', body }));
const refusal = async (res: ReturnType<typeof login>) => {
  const r = await res;
  return { status: r.statusCode, ...json(r).error, retryAfter: r.headers?.['retry-after'] };
};

describe('a Mini Program login through the hub (code2Session)', () => {
  it('answers WeChat\'s openid, session_key and unionid for a code, never cached, and fetches no token for it', async () => {
    const { code, openid, unionid } = world.sim.issueLoginCode(MP);
    const r = await login('mp', { js_code: code });
    expect(r.statusCode).toBe(200);
    expect(r.headers?.['cache-control']).toBe('no-store');
    const body = json(r);
    expect(body).toEqual({ openid, session_key: expect.any(String), unionid });
    expect(world.sim.issuedLoginValues()).toContain(body.session_key);
    expect(world.sim.calls(MP, 'jscode2session')).toBe(1);
    expect(world.sim.calls(MP, 'stable_token')).toBe(0);
  });

  it('leaves unionid out when WeChat gives none', async () => {
    const body = json(await login('mp', { js_code: world.sim.issueLoginCode(MP, { unionid: false }).code }));
    expect(Object.keys(body).sort()).toEqual(['openid', 'session_key']);
  });

  it('asks WeChat for every login: two logins of one user are two calls, and nothing is written to the store', async () => {
    await login('mp', { js_code: world.sim.issueLoginCode(MP, { user: 'u1' }).code });
    const second = json(await login('mp', { js_code: world.sim.issueLoginCode(MP, { user: 'u1' }).code }));
    expect(world.sim.calls(MP, 'jscode2session')).toBe(2);
    const client = new DynamoDBClient({ endpoint: (await sharedDynalite()).endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    const items = await client.send(new ScanCommand({ TableName: world.tableName }));
    client.destroy();
    expect(JSON.stringify(items.Items ?? [])).not.toContain(second.session_key);
    expect(JSON.stringify(items.Items ?? [])).not.toContain(second.openid);
  });

  it('answers a used code 400 invalid_code with errcode 40029, without the code', async () => {
    const { code } = world.sim.issueLoginCode(MP);
    await login('mp', { js_code: code });
    const r = await login('mp', { js_code: code });
    expect(r.body).not.toContain(code);
    expect(await refusal(Promise.resolve(r))).toMatchObject({ status: 400, code: 'invalid_code', errcode: 40029 });
  });

  it('answers a code past its 5 minutes 400 invalid_code', async () => {
    const { code } = world.sim.issueLoginCode(MP);
    world.clock.advance(5 * MINUTE);
    expect(await refusal(login('mp', { js_code: code }))).toMatchObject({ status: 400, code: 'invalid_code', errcode: 40029 });
  });

  it('retries WeChat\'s -1 inside the deadline and logs the user in', async () => {
    const { code, openid } = world.sim.issueLoginCode(MP);
    world.sim.failNext({ kind: 'errcode', errcode: -1 }, 2, MP, ['jscode2session']);
    expect(json(await login('mp', { js_code: code })).openid).toBe(openid);
    expect(world.sim.calls(MP, 'jscode2session')).toBe(3);
  });

  it('answers a -1 that lasts 503 login_unavailable with Retry-After and errcode -1', async () => {
    world.sim.failNext({ kind: 'errcode', errcode: -1 }, 10, MP, ['jscode2session']);
    expect(await refusal(login('mp', { js_code: world.sim.issueLoginCode(MP).code }))).toMatchObject({ status: 503, code: 'login_unavailable', errcode: -1, retryAfter: '1' });
  });

  it('answers 503 login_unavailable when WeChat cannot be reached (connections reset)', async () => {
    world.sim.failNext({ kind: 'reset' }, 10, '*', ['jscode2session']);
    expect(await refusal(login('mp', { js_code: world.sim.issueLoginCode(MP).code }))).toMatchObject({ status: 503, code: 'login_unavailable' });
  });

  it('answers 45011 429 login_rate_limited with Retry-After 60, asking WeChat once', async () => {
    world.sim.failNext({ kind: 'errcode', errcode: 45011 }, 1, MP, ['jscode2session']);
    expect(await refusal(login('mp', { js_code: world.sim.issueLoginCode(MP).code }))).toMatchObject({ status: 429, code: 'login_rate_limited', errcode: 45011, retryAfter: '60' });
    expect(world.sim.calls(MP, 'jscode2session')).toBe(1);
  });

  it('answers a high-risk user (40226) 403 login_blocked', async () => {
    expect(await refusal(login('mp', { js_code: world.sim.issueLoginCode(MP, { risky: true }).code }))).toMatchObject({ status: 403, code: 'login_blocked', errcode: 40226 });
  });

  it('answers a secret WeChat refuses (40125) 502 wechat_error with the errcode, never the secret', async () => {
    world.setSecret('SECRET_MP', 'a-wrong-secret-value');
    const r = await login('mp', { js_code: world.sim.issueLoginCode(MP).code });
    expect(r.body).not.toContain('a-wrong-secret-value');
    expect(await refusal(Promise.resolve(r))).toMatchObject({ status: 502, code: 'wechat_error', errcode: 40125 });
  });

  it('answers 503 secret_unavailable when the secret cannot be read', async () => {
    world.setSecret('SECRET_MP', '');
    expect(await refusal(login('mp', { js_code: world.sim.issueLoginCode(MP).code }))).toMatchObject({ status: 503, code: 'secret_unavailable', retryAfter: '5' });
    expect(world.sim.calls(MP, 'jscode2session')).toBe(0);
  });
});

describe('web authorization through the hub (Official Accounts and website apps)', () => {
  it('answers an Official Account\'s user token, which then works at WeChat for userinfo', async () => {
    const { code, openid, unionid } = world.sim.issueLoginCode(OA, { scope: 'snsapi_userinfo' });
    const r = json(await oauth('oa', { code }));
    expect(r).toEqual({ access_token: expect.any(String), expires_in: 7200, refresh_token: expect.any(String), openid, scope: 'snsapi_userinfo', unionid, is_snapshotuser: 0 });
    const info = await (await fetch(`${world.wechatBase}/sns/userinfo?access_token=${r.access_token}&openid=${openid}`)).json();
    expect(info).toMatchObject({ openid });
  });

  it('logs a website user in with the website app\'s own secret', async () => {
    const { code, openid } = world.sim.issueLoginCode(SITE, { scope: 'snsapi_login' });
    expect(json(await oauth('site', { code }))).toMatchObject({ openid, scope: 'snsapi_login' });
    expect(world.sim.calls(SITE, 'oauth2_access_token')).toBe(1);
  });

  it('answers a code of another app 400 invalid_code', async () => {
    expect(await refusal(oauth('oa', { code: world.sim.issueLoginCode(SITE).code }))).toMatchObject({ status: 400, code: 'invalid_code', errcode: 40029 });
  });

  it('answers an errcode WeChat may give web authorization for a used code (40163) as invalid_code', async () => {
    world.sim.failNext({ kind: 'errcode', errcode: 40163 }, 1, OA, ['oauth2_access_token']);
    expect(await refusal(oauth('oa', { code: world.sim.issueLoginCode(OA).code }))).toMatchObject({ status: 400, code: 'invalid_code', errcode: 40163 });
  });
});

describe('who may log users in, and which app has which login', () => {
  it.each([
    ['no key', '', 401, 'unauthorized'],
    ['a key without login', NO_LOGIN_KEY, 403, 'forbidden'],
    ['a read key', READ_KEY, 403, 'forbidden'],
    ['a login key of another app', OTHER_APP_KEY, 403, 'forbidden'],
  ])('refuses %s', async (_label, key, status, code) => {
    expect(await refusal(login('mp', { js_code: world.sim.issueLoginCode(MP).code }, key))).toMatchObject({ status, code });
    expect(world.sim.calls(MP, 'jscode2session')).toBe(0);
  });

  it('a login key reads no token', async () => {
    expect(await refusal(hub.getToken(httpEvent({ key: LOGIN_KEY, app: 'mp' })))).toMatchObject({ status: 403, code: 'forbidden' });
  });

  it.each([
    ['code2Session on an Official Account', 'oa', 'login', /POST \/v1\/apps\/oa\/oauth\/token/],
    ['code2Session on a website app', 'site', 'login', /POST \/v1\/apps\/site\/oauth\/token/],
    ['web authorization on a Mini Program', 'mp', 'oauth', /POST \/v1\/apps\/mp\/login/],
    ['web authorization on a WeCom app', 'crm', 'oauth', /WeCom/],
  ])('answers %s 404 login_not_available, saying what the app has', async (_label, app, route, says) => {
    const r = await refusal(route === 'login' ? login(app, { js_code: 'abc' }) : oauth(app, { code: 'abc' }));
    expect(r).toMatchObject({ status: 404, code: 'login_not_available' });
    expect(r.message).toMatch(says);
  });

  it('the token-injecting proxy refuses WeChat\'s login calls, pointing at the login routes', async () => {
    const r = await refusal(hub.proxy(httpEvent({ method: 'GET', key: NO_LOGIN_KEY, path: '/v1/apps/mp/wechat/sns/jscode2session', routeKey: 'ANY /v1/apps/{app}/wechat/{path+}', pathParameters: { app: 'mp', path: 'sns/jscode2session' } })));
    expect(r).toMatchObject({ status: 403, code: 'path_not_allowed' });
    expect(r.message).toMatch(/\/v1\/apps\/\{app\}\/login/);
  });

  it('answers an unknown app 404 for a key of every app', async () => {
    expect(await refusal(login('ghost', { js_code: 'abc' }, EVERY_LOGIN_KEY))).toMatchObject({ status: 404, code: 'unknown_app' });
  });

  it.each([
    ['no body field', {}, 'js_code: is required'],
    ['another field', { code: 'abc' }, 'the body may only contain "js_code"'],
    ['a number', { js_code: 5 }, 'js_code: must be a string'],
    ['an empty code', { js_code: '' }, 'js_code: must not be empty'],
    ['spaces', { js_code: 'a b' }, 'js_code: contains characters a login code never has'],
    ['a code too long', { js_code: 'x'.repeat(513) }, 'js_code: is longer than any login code'],
  ])('answers a body with %s 400 invalid_body, asking WeChat nothing', async (_label, body, message) => {
    expect(await refusal(login('mp', body))).toMatchObject({ status: 400, code: 'invalid_body', message });
    expect(world.sim.calls(MP, 'jscode2session')).toBe(0);
  });
});

describe('a website app', () => {
  it('has no token or ticket: the token, ticket, signature and proxy routes say so with a 4xx, and the tick fetches nothing', async () => {
    await hub.tick();
    const token = await refusal(hub.getToken(httpEvent({ key: READ_KEY, app: 'site' })));
    expect(token).toMatchObject({ status: 404, code: 'unknown_credential' });
    expect(token.message).toMatch(/website app has no token or ticket/);
    expect(await refusal(hub.tickets(ticketEvent({ app: 'site', type: 'jsapi', key: READ_KEY })))).toMatchObject({ status: 404, code: 'unknown_credential' });
    expect(await refusal(hub.tickets(ticketEvent({ app: 'site', key: READ_KEY, url: 'https://a.example/' })))).toMatchObject({ status: 404, code: 'unknown_credential' });
    const proxied = await hub.proxy(httpEvent({ method: 'GET', key: NO_LOGIN_KEY, path: '/v1/apps/site/wechat/cgi-bin/getcallbackip', routeKey: 'ANY /v1/apps/{app}/wechat/{path+}', pathParameters: { app: 'site', path: 'cgi-bin/getcallbackip' } }));
    expect(await refusal(Promise.resolve(proxied))).toMatchObject({ status: 404, code: 'unknown_credential' });
    expect(world.sim.calls(SITE, 'token') + world.sim.calls(SITE, 'stable_token')).toBe(0);
    const status = json(await hub.status(httpEvent({ key: ADMIN_KEY, path: '/v1/status', routeKey: 'GET /v1/status' })));
    expect(status.apps.find((a: { app: string }) => a.app === 'site')).toMatchObject({ type: 'website', credentials: [] });
    const quota = json(await hub.status(httpEvent({ key: ADMIN_KEY, path: '/v1/status/site/quota', routeKey: 'GET /v1/status/{app}/quota', pathParameters: { app: 'site' } })));
    expect(quota).toMatchObject({ app: 'site', ledger: [], wechat: { note: expect.stringMatching(/no token/) } });
  });
});
