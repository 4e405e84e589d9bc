import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WeChatSimulator } from '../../lib/simulator/wechat-simulator.js';
import { ManualClock, MINUTE } from '../support/manual-clock.js';

const APPID = 'wx_sim_0001';
const SECRET = 'sim-secret';
let clock: ManualClock;
let sim: WeChatSimulator;
let base: string;

beforeEach(async () => {
  clock = new ManualClock();
  sim = new WeChatSimulator({ now: () => clock.now(), apps: [{ appid: APPID, secret: SECRET, dailyQuota: 3 }] });
  base = await sim.listen();
});
afterEach(() => sim.close());

async function get(path: string): Promise<any> {
  return (await request(`${base}${path}`)).body.json();
}
async function post(path: string, body: unknown): Promise<any> {
  return (await request(`${base}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })).body.json();
}
const classic = () => get(`/cgi-bin/token?grant_type=client_credential&appid=${APPID}&secret=${SECRET}`);
const stable = (force = false) => post('/cgi-bin/stable_token', { grant_type: 'client_credential', appid: APPID, secret: SECRET, force_refresh: force });
const check = (t: string) => get(`/cgi-bin/getcallbackip?access_token=${t}`);

describe('WeChat simulator', () => {
  it('a new classic fetch invalidates the previous token 5 minutes later', async () => {
    const a = (await classic()).access_token;
    expect((await check(a)).ip_list).toBeDefined();
    const b = (await classic()).access_token;
    clock.advance(5 * MINUTE - 1);
    expect((await check(a)).ip_list).toBeDefined();
    clock.advance(1);
    expect((await check(a)).errcode).toBe(42001);
    expect((await check(b)).ip_list).toBeDefined();
    expect((await check('garbage')).errcode).toBe(40001);
  });

  it('answers 45009 past the daily quota, and counts again the next China day', async () => {
    for (let i = 0; i < 3; i++) expect((await classic()).access_token).toBeDefined();
    expect((await classic()).errcode).toBe(45009);
    clock.set(Date.UTC(2026, 10, 23, 16, 0, 0)); // midnight in Shanghai
    expect((await classic()).access_token).toBeDefined();
  });

  it('validates its input like WeChat', async () => {
    expect((await get(`/cgi-bin/token?grant_type=client_credential&appid=${APPID}&secret=wrong`)).errcode).toBe(40001);
    expect((await get(`/cgi-bin/token?grant_type=x&appid=${APPID}&secret=${SECRET}`)).errcode).toBe(40002);
    expect((await get(`/cgi-bin/token?grant_type=client_credential&appid=nope&secret=${SECRET}`)).errcode).toBe(40013);
    expect((await post('/cgi-bin/stable_token', { grant_type: 'client_credential', appid: APPID, secret: 'wrong' })).errcode).toBe(40125);
  });

  it('stable_token: same token until its last 5 minutes; force at most every 30 s', async () => {
    const a = await stable();
    expect((await stable()).access_token).toBe(a.access_token);
    clock.advance(7200_000 - 5 * MINUTE + 1);
    const b = await stable();
    expect(b.access_token).not.toBe(a.access_token);
    expect((await check(a.access_token)).ip_list).toBeDefined(); // overlap
    const c = await stable(true);
    expect(c.access_token).not.toBe(b.access_token);
    clock.advance(10_000);
    expect((await stable(true)).access_token).toBe(c.access_token); // within 30 s: no refresh
    clock.advance(20_000);
    expect((await stable(true)).access_token).not.toBe(c.access_token);
  });

  it('stable and classic tokens are isolated', async () => {
    const s = (await stable()).access_token;
    await classic();
    await classic();
    clock.advance(6 * MINUTE);
    expect((await check(s)).ip_list).toBeDefined();
  });

  it('injects faults for the next N calls, per app, also through its control endpoint', async () => {
    await post('/__sim/fail', { appid: APPID, errcode: 40164, times: 2 });
    expect((await classic()).errcode).toBe(40164);
    expect((await classic()).errcode).toBe(40164);
    expect((await classic()).access_token).toBeDefined();
    expect((await get('/__sim/stats'))[APPID].token).toBe(3);
  });
});

const ticket = (t: string | undefined, type?: string) => get(`/cgi-bin/ticket/getticket?${t === undefined ? '' : `access_token=${t}&`}${type === undefined ? '' : `type=${type}`}`);
const TICKET_SHAPE = /^[A-Za-z0-9_-]{80,90}$/;

describe('WeChat simulator: JS-SDK tickets', () => {
  it('issues a new ticket on every call; the previous one stays valid for the overlap', async () => {
    const token = (await classic()).access_token;
    const a = await ticket(token, 'jsapi');
    expect(a).toEqual({ errcode: 0, errmsg: 'ok', ticket: expect.stringMatching(TICKET_SHAPE), expires_in: 7200 });
    expect(sim.currentTicket(APPID, 'jsapi')).toBe(a.ticket);
    clock.advance(MINUTE);
    const b = await ticket(token, 'jsapi');
    expect(b.ticket).not.toBe(a.ticket);
    expect(sim.currentTicket(APPID, 'jsapi')).toBe(b.ticket);
    clock.advance(5 * MINUTE - 1);
    expect(sim.isTicketValid(a.ticket)).toBe(true);
    clock.advance(1);
    expect(sim.isTicketValid(a.ticket)).toBe(false);
    expect(sim.isTicketValid(b.ticket)).toBe(true);
    expect(sim.issuedTickets()).toEqual([a.ticket, b.ticket]);
    expect(sim.calls(APPID, 'ticket_jsapi')).toBe(2);
    clock.advance(7200_000 - 5 * MINUTE);
    expect(sim.isTicketValid(b.ticket)).toBe(false); // its own expiry
    expect(sim.currentTicket(APPID, 'jsapi')).toBeUndefined();
  });

  it('keeps jsapi and wx_card tickets apart, counted as two endpoints', async () => {
    const token = (await stable()).access_token;
    const j = (await ticket(token, 'jsapi')).ticket;
    const c = (await ticket(token, 'wx_card')).ticket;
    await ticket(token, 'wx_card');
    await ticket(token, 'wx_card');
    clock.advance(6 * MINUTE);
    expect(sim.isTicketValid(j)).toBe(true); // wx_card fetches do not rotate the jsapi ticket
    expect(sim.isTicketValid(c)).toBe(false);
    expect(sim.currentTicket(APPID, 'wx_card')).toBeDefined();
    expect(sim.currentTicket(APPID, 'agent_config')).toBeUndefined();
    expect(sim.calls(APPID, 'ticket_jsapi')).toBe(1);
    expect(sim.calls(APPID, 'ticket_wx_card')).toBe(3);
    expect((await get('/__sim/stats'))[APPID]).toMatchObject({ stable_token: 1, ticket_jsapi: 1, ticket_wx_card: 3 });
  });

  it('answers ticket errors like WeChat', async () => {
    const token = (await classic()).access_token;
    expect(await ticket(undefined, 'jsapi')).toMatchObject({ errcode: 41001 });
    expect(await ticket('garbage', 'jsapi')).toMatchObject({ errcode: 40001 });
    expect(await ticket(token)).toEqual({ errcode: 40097, errmsg: 'invalid args' });
    expect(await ticket(token, 'agent_config')).toEqual({ errcode: 40097, errmsg: 'invalid args' });
    expect(sim.issuedTickets()).toHaveLength(0);
    clock.advance(7200_000);
    expect(await ticket(token, 'jsapi')).toEqual({ errcode: 42001, errmsg: 'access_token expired' });
    sim.revokeTokens(APPID);
    expect(await ticket(token, 'jsapi')).toMatchObject({ errcode: 40001 }); // as getcallbackip: no longer the latest
    expect(sim.calls(APPID, 'ticket_jsapi')).toBe(2); // calls with this app's tokens, refused ones included
  });

  it('ticketTtlSeconds sets expires_in', async () => {
    const short = new WeChatSimulator({ now: () => clock.now(), apps: [{ appid: APPID, secret: SECRET }], ticketTtlSeconds: 600 });
    const url = await short.listen();
    try {
      const token = (await (await request(`${url}/cgi-bin/token?grant_type=client_credential&appid=${APPID}&secret=${SECRET}`)).body.json() as any).access_token;
      const t = (await (await request(`${url}/cgi-bin/ticket/getticket?access_token=${token}&type=jsapi`)).body.json()) as any;
      expect(t.expires_in).toBe(600);
      clock.advance(600_000);
      expect(short.isTicketValid(t.ticket)).toBe(false);
    } finally {
      await short.close();
    }
  });

  it('revokeTickets makes every ticket of the app invalid at once', async () => {
    const token = (await classic()).access_token;
    const a = (await ticket(token, 'jsapi')).ticket;
    const b = (await ticket(token, 'jsapi')).ticket;
    const c = (await ticket(token, 'wx_card')).ticket;
    sim.revokeTickets(APPID);
    for (const t of [a, b, c]) expect(sim.isTicketValid(t)).toBe(false);
    expect(sim.currentTicket(APPID, 'jsapi')).toBeUndefined();
    expect((await ticket(token, 'jsapi')).errcode).toBe(0);
  });

  it('injects faults on ticket endpoints, by the owner of the token presented', async () => {
    sim.addApp({ appid: 'wx_other', secret: 'other' });
    const token = (await classic()).access_token;
    const other = (await get('/cgi-bin/token?grant_type=client_credential&appid=wx_other&secret=other')).access_token;
    sim.failNext({ kind: 'errcode', errcode: 45009 }, 1, APPID, ['ticket_jsapi']);
    expect((await ticket(other, 'jsapi')).errcode).toBe(0); // another app's token
    expect((await ticket(token, 'wx_card')).errcode).toBe(0); // another endpoint
    expect(await ticket(token, 'jsapi')).toEqual({ errcode: 45009, errmsg: 'reach max api daily quota limit' });
    expect((await ticket(token, 'jsapi')).errcode).toBe(0);
    expect(sim.calls(APPID, 'ticket_jsapi')).toBe(2);

    expect(await post('/__sim/fail', { errcode: -1, endpoints: ['ticket_wx_card'] })).toEqual({ errcode: 0, errmsg: 'ok' });
    expect((await classic()).errcode).toBeUndefined(); // not a token fault
    expect(await ticket(other, 'wx_card')).toEqual({ errcode: -1, errmsg: 'system error' });
    expect((await ticket(token, 'wx_card')).errcode).toBe(0);
    expect((await post('/__sim/fail', { errcode: -1, endpoints: ['ticket_nope'] })).errcode).toBe(47001);
  });

  it('POST /__sim/revoke revokes an app\'s tokens', async () => {
    const token = (await classic()).access_token;
    expect(await post('/__sim/revoke', { appid: APPID })).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(sim.isValid(token)).toBe(false);
    expect((await check(token)).errcode).toBe(40001);
    expect((await post('/__sim/revoke', { appid: 'wx_nope' })).errcode).toBe(40013);
    expect((await post('/__sim/revoke', {})).errcode).toBe(47001);
  });
});
