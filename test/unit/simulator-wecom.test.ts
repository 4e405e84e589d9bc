import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WeChatSimulator, type SimulatorOptions } from '../../lib/simulator/wechat-simulator.js';
import { ManualClock, MINUTE } from '../support/manual-clock.js';

const CORP = 'ww_corp_0001';
const APP = { corpid: CORP, agentid: 1000002, secret: 'wecom-secret-2' };
const APP_B = { corpid: CORP, agentid: 1000003, secret: 'wecom-secret-3' };
const ID = `${CORP}/1000002`;
const ID_B = `${CORP}/1000003`;
const WX = { appid: 'wx_sim_0001', secret: 'wx-secret' };
const HOUR = 60 * MINUTE;
let clock: ManualClock;
let sim: WeChatSimulator;
let base: string;

async function start(options: SimulatorOptions = {}): Promise<void> {
  await sim?.close();
  sim = new WeChatSimulator({ now: () => clock.now(), apps: [WX], wecomApps: [APP, APP_B], ...options });
  base = await sim.listen();
}

beforeEach(async () => {
  clock = new ManualClock();
  await start();
});
afterEach(() => sim.close());

async function get(path: string): Promise<any> {
  return (await request(`${base}${path}`)).body.json();
}
async function post(path: string, body: unknown): Promise<any> {
  return (await request(`${base}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })).body.json();
}
const gettoken = (app: { corpid: string; secret: string } = APP) => get(`/cgi-bin/gettoken?corpid=${app.corpid}&corpsecret=${app.secret}`);
const token = async (app: { corpid: string; secret: string } = APP): Promise<string> => (await gettoken(app)).access_token;
const jsapi = (t: string) => get(`/cgi-bin/get_jsapi_ticket?access_token=${t}`);
const agent = (t: string, type = 'agent_config') => get(`/cgi-bin/ticket/get?access_token=${t}&type=${type}`);
const check = (t: string) => get(`/cgi-bin/getcallbackip?access_token=${t}`);

describe('WeChat simulator: WeCom gettoken', () => {
  it('issues a new token on every call; earlier ones stay valid until their own expiry', async () => {
    const a = await gettoken();
    expect(a).toEqual({ errcode: 0, errmsg: 'ok', access_token: expect.stringMatching(/^[A-Za-z0-9_-]{20,512}$/), expires_in: 7200 });
    clock.advance(HOUR);
    const b = await token();
    const c = await token();
    expect(new Set([a.access_token, b, c]).size).toBe(3);
    expect(sim.currentToken(ID)).toBe(c);
    expect(sim.issuedTokens()).toEqual([a.access_token, b, c]);
    clock.advance(HOUR - 1);
    for (const t of [a.access_token, b, c]) expect(sim.isValid(t)).toBe(true);
    clock.advance(1);
    expect(sim.isValid(a.access_token)).toBe(false);
    expect(sim.isValid(b)).toBe(true);
    expect(sim.calls(ID, 'wecom_gettoken')).toBe(3);
    expect(sim.calls(ID_B, 'wecom_gettoken')).toBe(0);
  });

  it('wecomTokenOverlapMs bounds how long earlier tokens stay valid', async () => {
    await start({ wecomTokenOverlapMs: MINUTE });
    const a = await token();
    const b = await token();
    clock.advance(MINUTE - 1);
    expect(sim.isValid(a)).toBe(true);
    clock.advance(1);
    expect(sim.isValid(a)).toBe(false);
    expect(sim.isValid(b)).toBe(true);
  });

  it('validates its input like WeCom', async () => {
    expect(await get(`/cgi-bin/gettoken?corpsecret=${APP.secret}`)).toEqual({ errcode: 41002, errmsg: 'corpid missing' });
    expect(await get(`/cgi-bin/gettoken?corpid=${CORP}`)).toEqual({ errcode: 41004, errmsg: 'corpsecret missing' });
    expect(await gettoken({ corpid: 'ww_nope', secret: APP.secret })).toEqual({ errcode: 40013, errmsg: 'invalid corpid' });
    expect(await gettoken({ corpid: CORP, secret: 'wrong' })).toEqual({ errcode: 40001, errmsg: 'invalid secret' });
    // A WeChat appid is no corp, and a WeCom corp is no WeChat app.
    expect((await gettoken({ corpid: WX.appid, secret: WX.secret })).errcode).toBe(40013);
    expect((await get(`/cgi-bin/token?grant_type=client_credential&appid=${ID}&secret=${APP.secret}`)).errcode).toBe(40013);
    sim.setSecret(ID, 'rotated');
    expect((await gettoken()).errcode).toBe(40001);
    expect((await gettoken({ corpid: CORP, secret: 'rotated' })).errcode).toBe(0);
  });

  it('injects faults by app id, also through the control endpoint', async () => {
    sim.failNext({ kind: 'errcode', errcode: 60020 }, 1, ID, ['wecom_gettoken']);
    expect((await gettoken(APP_B)).errcode).toBe(0);
    expect(await gettoken()).toEqual({ errcode: 60020, errmsg: 'not allow to access from your ip' });
    expect((await gettoken()).errcode).toBe(0);
    expect(sim.calls(ID, 'wecom_gettoken')).toBe(2);

    expect(await post('/__sim/fail', { appid: ID_B, errcode: -1, times: 2, endpoints: ['wecom_gettoken'] })).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(await gettoken(APP_B)).toEqual({ errcode: -1, errmsg: 'system busy' });
    expect((await gettoken(APP_B)).errcode).toBe(-1);
    expect((await gettoken(APP_B)).errcode).toBe(0);

    sim.failNext({ kind: 'errcode', errcode: 60020 }); // default endpoints: WeChat's token APIs only
    expect((await gettoken()).errcode).toBe(0);
  });
});

describe('WeChat simulator: WeCom tickets', () => {
  it('issues corp and app tickets that rotate with an overlap', async () => {
    const t = await token();
    const a = await jsapi(t);
    expect(a).toEqual({ errcode: 0, errmsg: 'ok', ticket: expect.stringMatching(/^[A-Za-z0-9_-]{80,90}$/), expires_in: 7200 });
    const g = await agent(t);
    expect(g).toEqual({ errcode: 0, errmsg: 'ok', ticket: expect.any(String), expires_in: 7200 });
    expect(sim.currentTicket(ID, 'jsapi')).toBe(a.ticket);
    expect(sim.currentTicket(ID, 'agent_config')).toBe(g.ticket);
    const b = await jsapi(t);
    expect(b.ticket).not.toBe(a.ticket);
    clock.advance(5 * MINUTE - 1);
    expect(sim.isTicketValid(a.ticket)).toBe(true);
    clock.advance(1);
    expect(sim.isTicketValid(a.ticket)).toBe(false);
    expect(sim.isTicketValid(b.ticket)).toBe(true);
    expect(sim.isTicketValid(g.ticket)).toBe(true); // the app ticket did not rotate
    expect(sim.calls(ID, 'wecom_jsapi_ticket')).toBe(2);
    expect(sim.calls(ID, 'wecom_agent_config')).toBe(1);
    expect(sim.issuedTickets()).toEqual([a.ticket, g.ticket, b.ticket]);
    expect(sim.currentTicket(ID_B, 'jsapi')).toBeUndefined();
  });

  it('answers token and type errors like WeCom', async () => {
    const t = await token();
    const wx = (await get(`/cgi-bin/token?grant_type=client_credential&appid=${WX.appid}&secret=${WX.secret}`)).access_token;
    expect(await get('/cgi-bin/get_jsapi_ticket')).toEqual({ errcode: 41001, errmsg: 'access_token missing' });
    expect(await get('/cgi-bin/ticket/get?type=agent_config')).toEqual({ errcode: 41001, errmsg: 'access_token missing' });
    expect(await jsapi('garbage')).toEqual({ errcode: 40014, errmsg: 'invalid access_token' });
    expect(await agent(wx)).toEqual({ errcode: 40014, errmsg: 'invalid access_token' });
    expect(await agent(t, 'jsapi')).toEqual({ errcode: 40058, errmsg: 'invalid parameter' });
    expect((await get(`/cgi-bin/ticket/getticket?access_token=${t}&type=jsapi`)).errcode).toBe(40001); // WeChat's path
    sim.revokeTokens(ID);
    expect(await jsapi(t)).toEqual({ errcode: 42001, errmsg: 'access_token expired' });
    const u = await token();
    expect(await post('/__sim/revoke', { appid: ID })).toEqual({ errcode: 0, errmsg: 'ok' });
    expect((await agent(u)).errcode).toBe(42001);
    const v = await token();
    clock.advance(7200_000);
    expect((await jsapi(v)).errcode).toBe(42001);
    expect(sim.issuedTickets()).toHaveLength(0);
  });

  it('refuses the 101st ticket of an app in any 60 minutes, and issues nothing', async () => {
    const t = await token();
    for (let i = 0; i < 50; i++) expect((await jsapi(t)).errcode).toBe(0);
    clock.advance(30 * MINUTE);
    for (let i = 0; i < 50; i++) expect((await agent(t)).errcode).toBe(0);
    const last = sim.currentTicket(ID, 'agent_config');
    expect(await agent(t)).toEqual({ errcode: 45009, errmsg: 'api freq out of limit' });
    expect(await jsapi(t)).toEqual({ errcode: 45009, errmsg: 'api freq out of limit' });
    expect(sim.currentTicket(ID, 'agent_config')).toBe(last);
    expect(sim.issuedTickets()).toHaveLength(100);
    expect(sim.calls(ID, 'wecom_agent_config') + sim.calls(ID, 'wecom_jsapi_ticket')).toBe(102); // refused calls count
    expect((await jsapi(await token(APP_B))).errcode).toBe(0); // another app of the corp has its own 100
    clock.advance(30 * MINUTE - 1);
    expect((await jsapi(t)).errcode).toBe(45009);
    clock.advance(1); // the first 50 slide out of the window
    for (let i = 0; i < 50; i++) expect((await jsapi(t)).errcode).toBe(0);
    expect((await jsapi(t)).errcode).toBe(45009);
  });

  it('refuses the 401st ticket of a corp in 60 minutes across its apps', async () => {
    const apps = [1, 2, 3, 4, 5].map((n) => ({ corpid: 'ww_big', agentid: 1000000 + n, secret: `big-${n}` }));
    const other = { corpid: 'ww_small', agentid: 1000001, secret: 'small' };
    for (const app of [...apps, other]) sim.addWeComApp(app);
    const tokens = await Promise.all(apps.map((a) => token(a)));
    for (const [n, t] of tokens.entries()) for (let i = 0; i < 80; i++) expect((await (n % 2 ? jsapi(t) : agent(t))).errcode).toBe(0);
    for (const t of tokens) expect(await jsapi(t)).toEqual({ errcode: 45009, errmsg: 'api freq out of limit' });
    expect((await jsapi(await token(other))).errcode).toBe(0);
    clock.advance(HOUR);
    expect((await agent(tokens[0]!)).errcode).toBe(0);
  });

  it('takes its hourly limits from options', async () => {
    await start({ wecomTicketHourlyPerApp: 2, wecomTicketHourlyPerCorp: 3 });
    const [a, b] = [await token(), await token(APP_B)];
    expect((await jsapi(a)).errcode).toBe(0);
    expect((await agent(a)).errcode).toBe(0);
    expect((await jsapi(a)).errcode).toBe(45009);
    expect((await jsapi(b)).errcode).toBe(0);
    expect((await jsapi(b)).errcode).toBe(45009); // the corp's third was the last
  });

  it('injects faults on the ticket endpoints, and revokeTickets invalidates both kinds', async () => {
    const t = await token();
    sim.failNext({ kind: 'errcode', errcode: 45009 }, 1, ID, ['wecom_agent_config']);
    sim.failNext({ kind: 'reset' }, 1, '*', ['wecom_jsapi_ticket']);
    await expect(request(`${base}/cgi-bin/get_jsapi_ticket?access_token=${t}`)).rejects.toThrow();
    expect(await agent(t)).toEqual({ errcode: 45009, errmsg: 'api freq out of limit' });
    const j = (await jsapi(t)).ticket;
    const g = (await agent(t)).ticket;
    sim.revokeTickets(ID);
    expect(sim.isTicketValid(j)).toBe(false);
    expect(sim.isTicketValid(g)).toBe(false);
    expect(sim.currentTicket(ID, 'agent_config')).toBeUndefined();
    expect(sim.isValid(t)).toBe(true); // tokens are untouched
  });
});

describe('WeChat simulator: getcallbackip with WeCom tokens', () => {
  it('answers with WeCom\'s shapes, counted apart from WeChat\'s', async () => {
    const t = await token();
    const wx = (await get(`/cgi-bin/token?grant_type=client_credential&appid=${WX.appid}&secret=${WX.secret}`)).access_token;
    const ok = await check(t);
    expect(ok).toEqual({ ip_list: expect.any(Array), errcode: 0, errmsg: 'ok' });
    expect(ok.ip_list.length).toBeGreaterThan(0);
    expect(await check(wx)).toEqual({ ip_list: expect.any(Array) }); // WeChat's shape: no errcode
    sim.revokeTokens(ID);
    expect(await check(t)).toEqual({ ip_list: [], errcode: 42001, errmsg: 'access_token expired' });
    const u = await token();
    clock.advance(7200_000);
    expect(await check(u)).toEqual({ ip_list: [], errcode: 42001, errmsg: 'access_token expired' });
    expect(sim.calls(ID, 'wecom_getcallbackip')).toBe(3);
    expect(sim.calls(ID, 'getcallbackip')).toBe(0);
    expect(sim.calls(WX.appid, 'getcallbackip')).toBe(1);
    sim.failNext({ kind: 'errcode', errcode: -1 }, 1, ID, ['wecom_getcallbackip']);
    expect(await check(u)).toEqual({ errcode: -1, errmsg: 'system busy' });
    const stats = await get('/__sim/stats');
    expect(stats[ID]).toEqual({ wecom_gettoken: 2, wecom_getcallbackip: 4 });
    expect(stats[ID_B]).toEqual({});
    expect(stats[WX.appid]).toEqual({ token: 1, getcallbackip: 1 });
  });
});
