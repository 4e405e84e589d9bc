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
