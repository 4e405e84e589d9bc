import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WeChatSimulator } from '../../lib/simulator/wechat-simulator.js';
import { ManualClock, MINUTE } from '../support/manual-clock.js';

const APPID = 'wx_sim_login';
const SECRET = 'sim-login-secret';
const OTHER = 'wx_sim_other';
let clock: ManualClock;
let sim: WeChatSimulator;
let base: string;

beforeEach(async () => {
  clock = new ManualClock();
  sim = new WeChatSimulator({ now: () => clock.now(), apps: [{ appid: APPID, secret: SECRET }, { appid: OTHER, secret: 'other-secret' }] });
  base = await sim.listen();
});
afterEach(() => sim.close());

async function get(path: string): Promise<any> {
  return (await request(`${base}${path}`)).body.json();
}
const session = (code: string, appid = APPID, secret = SECRET) => get(`/sns/jscode2session?appid=${appid}&secret=${secret}&js_code=${code}&grant_type=authorization_code`);
const oauth = (code: string) => get(`/sns/oauth2/access_token?appid=${APPID}&secret=${SECRET}&code=${code}&grant_type=authorization_code`);

describe('the simulator\'s login calls', () => {
  it('a code it issued is exchanged once for an openid, a session_key and a unionid; the second time is 40029', async () => {
    const { code, openid } = sim.issueLoginCode(APPID, { user: 'alice' });
    const first = await session(code);
    expect(first.openid).toBe(openid);
    expect(first.session_key).toMatch(/^[A-Za-z0-9+/=]{24}$/);
    expect(first.unionid).toMatch(/^u/);
    expect(await session(code)).toMatchObject({ errcode: 40029 });
    expect(sim.calls(APPID, 'jscode2session')).toBe(2);
  });

  it('a code lives 5 minutes', async () => {
    const late = sim.issueLoginCode(APPID).code;
    const inTime = sim.issueLoginCode(APPID).code;
    clock.advance(5 * MINUTE - 1);
    expect((await session(inTime)).openid).toBeDefined();
    clock.advance(1);
    expect(await session(late)).toMatchObject({ errcode: 40029 });
  });

  it('a code of another app, a made-up code, a wrong secret and a missing code are each refused with WeChat\'s errcode', async () => {
    const mine = sim.issueLoginCode(APPID).code;
    expect(await session(mine, OTHER, 'other-secret')).toMatchObject({ errcode: 40029 });
    expect(await session('made-up-code')).toMatchObject({ errcode: 40029 });
    expect(await session(sim.issueLoginCode(APPID).code, APPID, 'wrong')).toMatchObject({ errcode: 40125 });
    expect(await get(`/sns/jscode2session?appid=${APPID}&secret=${SECRET}&grant_type=authorization_code`)).toMatchObject({ errcode: 41008 });
    expect(await get(`/sns/jscode2session?appid=wx_nobody&secret=x&js_code=y&grant_type=authorization_code`)).toMatchObject({ errcode: 40013 });
  });

  it('the same user has one openid per app and one unionid across apps; without a unionid there is none', async () => {
    const a = await session(sim.issueLoginCode(APPID, { user: 'bob' }).code);
    const b = await session(sim.issueLoginCode(OTHER, { user: 'bob' }).code, OTHER, 'other-secret');
    expect(a.openid).not.toBe(b.openid);
    expect(a.unionid).toBe(b.unionid);
    expect((await session(sim.issueLoginCode(APPID, { unionid: false }).code)).unionid).toBeUndefined();
  });

  it('a high-risk user is 40226', async () => {
    expect(await session(sim.issueLoginCode(APPID, { risky: true }).code)).toMatchObject({ errcode: 40226 });
  });

  it('web authorization gives a user token whose refresh, userinfo and auth work without the secret', async () => {
    const { code, openid } = sim.issueLoginCode(APPID, { scope: 'snsapi_userinfo' });
    const t = await oauth(code);
    expect(t).toMatchObject({ expires_in: 7200, openid, scope: 'snsapi_userinfo', is_snapshotuser: 0 });
    expect(await oauth(code)).toMatchObject({ errcode: 40029 });
    expect(await get(`/sns/auth?access_token=${t.access_token}&openid=${openid}`)).toEqual({ errcode: 0, errmsg: 'ok' });
    expect((await get(`/sns/userinfo?access_token=${t.access_token}&openid=${openid}&lang=zh_CN`)).openid).toBe(openid);
    expect(await get(`/sns/userinfo?access_token=${t.access_token}&openid=someone-else`)).toMatchObject({ errcode: 40003 });
    const r = await get(`/sns/oauth2/refresh_token?appid=${APPID}&grant_type=refresh_token&refresh_token=${t.refresh_token}`);
    expect(r.access_token).not.toBe(t.access_token);
    expect(r.refresh_token).toBe(t.refresh_token);
    expect(await get(`/sns/oauth2/refresh_token?appid=${APPID}&grant_type=refresh_token&refresh_token=nope`)).toMatchObject({ errcode: 40030 });
    clock.advance(7200_000);
    expect(await get(`/sns/auth?access_token=${t.access_token}&openid=${openid}`)).toMatchObject({ errcode: 40001 });
    expect(sim.issuedLoginValues()).toEqual(expect.arrayContaining([code, t.access_token, t.refresh_token, r.access_token]));
  });

  it('a snsapi_base token may not read userinfo (48001)', async () => {
    const { code, openid } = sim.issueLoginCode(APPID);
    const t = await oauth(code);
    expect(await get(`/sns/userinfo?access_token=${t.access_token}&openid=${openid}`)).toMatchObject({ errcode: 48001 });
  });

  it('the control route issues codes, and faults reach the login endpoints', async () => {
    const made = await (await request(`${base}/__sim/login-code`, { method: 'POST', body: JSON.stringify({ appid: APPID, user: 'carol' }) })).body.json() as any;
    expect(made).toMatchObject({ errcode: 0, code: expect.any(String), openid: expect.any(String) });
    expect(await (await request(`${base}/__sim/login-code`, { method: 'POST', body: '{"appid":"wx_nobody"}' })).body.json()).toMatchObject({ errcode: 40013 });
    await request(`${base}/__sim/fail`, { method: 'POST', body: JSON.stringify({ appid: APPID, errcode: 45011, endpoints: ['jscode2session'] }) });
    expect(await session(made.code)).toMatchObject({ errcode: 45011 });
    expect((await session(made.code)).openid).toBe(made.openid); // the fault answered before the code was looked at
  });
});
