import API from 'co-wechat-api';
import { MiniApp, OfficialAccount } from 'node-easywechat';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalServer } from '../../lib/http/local-server.js';
import { addWebsite, LOGIN_KEY, loginContainer, MP, NO_LOGIN_KEY, OA, recordingUpstream, SITE } from '../support/login-world.js';
import { listen, type Listening } from '../support/listen.js';
import { useWorld } from '../support/use-world.js';
import { READ_KEY } from '../support/world.js';

/**
 * WeChat's login paths on the WeChat-compatible API: an unmodified SDK (node-easywechat, with a hub
 * key as its secret and the hub as its base URL) logs users in; the hub sends the code on with the
 * real AppSecret and passes the user token's own calls (refresh, userinfo, auth) on as they are.
 * WeChat is the simulator behind a recording stand-in that keeps every request line the hub sent.
 */
const world = useWorld();
let server: Listening;
let upstream: Awaited<ReturnType<typeof recordingUpstream>>;
let base: string;

beforeEach(async () => {
  addWebsite(world);
  upstream = await recordingUpstream(world.wechatBase);
  const hub = loginContainer(world, { WECHAT_API_BASE: upstream.url });
  server = await listen(createLocalServer(hub));
  base = server.url;
});
afterEach(async () => {
  await server.close();
  await upstream.close();
});

async function get(path: string): Promise<any> {
  return (await request(`${base}${path}`)).body.json();
}
const jscode2session = (query: string) => get(`/sns/jscode2session?${query}`);

/** What WeChat received: every request line the hub sent upstream. */
const sentToWeChat = () => upstream.urls.join('\n');

describe('an unmodified SDK (node-easywechat) logs users in through the hub', () => {
  it('a Mini Program\'s codeToSession gets WeChat\'s session; WeChat got the real AppSecret, never the hub key', async () => {
    const app = new MiniApp({ app_id: MP, secret: LOGIN_KEY, token: '', aes_key: '', http: { baseURL: `${base}/` } } as any);
    const { code, openid, unionid } = world.sim.issueLoginCode(MP);
    const session = await app.getUtils().codeToSession(code);
    expect(session).toMatchObject({ openid, unionid, session_key: expect.any(String) });
    expect(world.sim.issuedLoginValues()).toContain(session.session_key);
    expect(sentToWeChat()).toContain(`secret=${world.secrets.SECRET_MP}`);
    expect(sentToWeChat()).not.toContain(LOGIN_KEY);
  });

  it('co-wechat-api\'s code2Session, its snsPrefix set to the hub, gets WeChat\'s session', async () => {
    const api = new API(MP, LOGIN_KEY, async () => null, async () => undefined);
    api.snsPrefix = `${base}/sns/`;
    const { code, openid } = world.sim.issueLoginCode(MP);
    expect(await api.code2Session(code)).toMatchObject({ openid, session_key: expect.any(String) });
    expect(sentToWeChat()).not.toContain(LOGIN_KEY);
  });

  it('a Mini Program\'s codeToSession with a key that may not log in fails with WeChat\'s 40125', async () => {
    const app = new MiniApp({ app_id: MP, secret: READ_KEY, token: '', aes_key: '', http: { baseURL: `${base}/` } } as any);
    await expect(app.getUtils().codeToSession(world.sim.issueLoginCode(MP).code)).rejects.toThrow(/"errcode":40125/);
    expect(upstream.urls).toEqual([]);
  });

  it('an Official Account\'s OAuth (userFromCode, snsapi_userinfo) gets the user\'s profile, via the token exchange and userinfo', async () => {
    const app = new OfficialAccount({ app_id: OA, secret: LOGIN_KEY, token: '', aes_key: '', oauth: { scopes: ['snsapi_userinfo'], redirect_url: 'https://shop.example/cb' }, http: { baseURL: `${base}/` } } as any);
    const oauth = app.getOAuth() as any;
    oauth._baseUrl = `${base}/sns`; // node-socialite's one base for every /sns/ call (docs/sdks.md)
    const { code, openid } = world.sim.issueLoginCode(OA, { scope: 'snsapi_userinfo' });
    const user = await oauth.userFromCode(code);
    expect(user.getId()).toBe(openid);
    expect(user.getNickname()).toMatch(/^user /);
    expect(world.sim.issuedLoginValues()).toContain(user.getAccessToken());
    expect(world.sim.issuedLoginValues()).toContain(user.getRefreshToken());
    expect(sentToWeChat()).toMatch(/\/sns\/userinfo\?access_token=.+&openid=/);
    expect(sentToWeChat()).not.toContain(LOGIN_KEY);
  });

  it('a website\'s login (snsapi_login) works the same with the website app\'s appid and secret', async () => {
    const app = new OfficialAccount({ app_id: SITE, secret: LOGIN_KEY, token: '', aes_key: '', oauth: { scopes: ['snsapi_login'] }, http: { baseURL: `${base}/` } } as any);
    const oauth = app.getOAuth() as any;
    oauth._baseUrl = `${base}/sns`;
    const { code, openid } = world.sim.issueLoginCode(SITE, { scope: 'snsapi_login' });
    expect((await oauth.userFromCode(code)).getId()).toBe(openid);
    expect(sentToWeChat()).toContain(`secret=${world.secrets.SECRET_SITE}`);
  });
});

describe('the compatible login paths answer WeChat\'s way', () => {
  it.each([
    ['no appid', `secret=${LOGIN_KEY}&js_code=x&grant_type=authorization_code`, 41002],
    ['an appid the hub does not serve', `appid=wx_nobody&secret=${LOGIN_KEY}&js_code=x`, 40013],
    ['an Official Account\'s appid', `appid=${OA}&secret=${LOGIN_KEY}&js_code=x`, 40013],
    ['no secret', `appid=${MP}&js_code=x`, 41004],
    ['the real AppSecret', `appid=${MP}&secret=SECRET_MP_VALUE&js_code=x`, 40125],
    ['a key without the login scope', `appid=${MP}&secret=${NO_LOGIN_KEY}&js_code=x`, 40125],
    ['a wrong grant_type', `appid=${MP}&secret=${LOGIN_KEY}&js_code=x&grant_type=client_credential`, 40002],
    ['no code', `appid=${MP}&secret=${LOGIN_KEY}&grant_type=authorization_code`, 41008],
    ['a code no code can be', `appid=${MP}&secret=${LOGIN_KEY}&js_code=${encodeURIComponent('a b')}`, 40029],
  ])('refuses %s without asking WeChat', async (_label, query, errcode) => {
    const r = await jscode2session(query.replace('SECRET_MP_VALUE', world.secrets.SECRET_MP!));
    expect(r.errcode).toBe(errcode);
    expect(JSON.stringify(r)).not.toContain(world.secrets.SECRET_MP!);
    expect(upstream.urls).toEqual([]);
  });

  it('answers a used code with WeChat\'s own 40029', async () => {
    const { code } = world.sim.issueLoginCode(MP);
    const q = `appid=${MP}&secret=${LOGIN_KEY}&js_code=${code}&grant_type=authorization_code`;
    expect((await jscode2session(q)).openid).toBeDefined();
    expect(await jscode2session(q)).toEqual({ errcode: 40029, errmsg: 'invalid code' });
  });

  it('retries -1 and answers the session; answers 45011 as WeChat did, asking once', async () => {
    world.sim.failNext({ kind: 'errcode', errcode: -1 }, 1, MP, ['jscode2session']);
    const { code, openid } = world.sim.issueLoginCode(MP);
    expect((await jscode2session(`appid=${MP}&secret=${LOGIN_KEY}&js_code=${code}`)).openid).toBe(openid);
    world.sim.failNext({ kind: 'errcode', errcode: 45011 }, 1, MP, ['jscode2session']);
    const before = world.sim.calls(MP, 'jscode2session');
    expect((await jscode2session(`appid=${MP}&secret=${LOGIN_KEY}&js_code=${world.sim.issueLoginCode(MP).code}`)).errcode).toBe(45011);
    expect(world.sim.calls(MP, 'jscode2session')).toBe(before + 1);
  });

  it('passes the user token\'s refresh, userinfo and auth on with only WeChat\'s own parameters', async () => {
    const { code, openid } = world.sim.issueLoginCode(OA, { scope: 'snsapi_userinfo' });
    const t = await get(`/sns/oauth2/access_token?appid=${OA}&secret=${LOGIN_KEY}&code=${code}&grant_type=authorization_code`);
    expect(t).toMatchObject({ openid, expires_in: 7200, scope: 'snsapi_userinfo' });
    const refreshed = await get(`/sns/oauth2/refresh_token?appid=${OA}&grant_type=refresh_token&refresh_token=${t.refresh_token}&secret=${LOGIN_KEY}`);
    expect(refreshed).toMatchObject({ openid, refresh_token: t.refresh_token });
    expect(await get(`/sns/auth?access_token=${refreshed.access_token}&openid=${openid}&extra=1`)).toEqual({ errcode: 0, errmsg: 'ok' });
    expect((await get(`/sns/userinfo?access_token=${refreshed.access_token}&openid=${openid}&lang=en`)).openid).toBe(openid);
    expect(sentToWeChat()).not.toContain(LOGIN_KEY);
    expect(sentToWeChat()).not.toContain('extra=');
    expect(upstream.urls.filter((u) => u.includes(world.secrets.SECRET_OA!)).every((u) => u.startsWith('/sns/oauth2/access_token?'))).toBe(true);
  });

  it.each([
    ['refresh_token for an appid the hub does not serve', '/sns/oauth2/refresh_token?appid=wx_nobody&grant_type=refresh_token&refresh_token=abc', 40013],
    ['refresh_token with a wrong grant_type', `/sns/oauth2/refresh_token?appid=${OA}&grant_type=x&refresh_token=abc`, 40002],
    ['userinfo without a token', '/sns/userinfo?openid=o1', 41001],
    ['auth without an openid', '/sns/auth?access_token=abc', 40003],
    ['a /sns/ path WeChat\'s login does not have', '/sns/oauth2/component/access_token?appid=x', 48001],
  ])('refuses %s without asking WeChat', async (_label, path, errcode) => {
    expect((await get(path)).errcode).toBe(errcode);
    expect(upstream.urls).toEqual([]);
  });

  it('a website app has no token on /cgi-bin/token either (40013)', async () => {
    expect((await get(`/cgi-bin/token?grant_type=client_credential&appid=${SITE}&secret=${READ_KEY}`)).errcode).toBe(40013);
  });

  it('answers another method than GET with 43001', async () => {
    const r = await request(`${base}/sns/jscode2session?appid=${MP}&secret=${LOGIN_KEY}&js_code=x`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(((await r.body.json()) as any).errcode).toBe(43001);
  });
});

describe('without a compat app that logs users in', () => {
  it('the /sns/ paths are the hub\'s own 404', async () => {
    const plain = world.container(); // the world's apps, none with compat
    const local = await listen(createLocalServer(plain));
    try {
      const r = await request(`${local.url}/sns/jscode2session?appid=${MP}&secret=${LOGIN_KEY}&js_code=x`);
      expect(r.statusCode).toBe(404);
      expect(((await r.body.json()) as any).error.code).toBe('route_not_found');
    } finally {
      await local.close();
    }
  });
});
