import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WeChatStandIn } from '../support/standin.js';

/** The SDK tests' independent WeChat stand-in holds to WeChat's rules as docs/wechat.md states them. */
const APPID = 'wx_unit_standin';
const SECRET = 'unit-standin-secret';
let now = Date.UTC(2026, 10, 23, 2, 0, 0);
let standin: WeChatStandIn;
let base: string;

beforeEach(async () => {
  now = Date.UTC(2026, 10, 23, 2, 0, 0);
  standin = new WeChatStandIn({ apps: [{ appid: APPID, secret: SECRET }], now: () => now });
  base = await standin.listen();
});
afterEach(() => standin.close());

async function get(path: string): Promise<Record<string, unknown>> {
  return (await (await fetch(`${base}${path}`)).json()) as Record<string, unknown>;
}
const fetchToken = async () => (await get(`/cgi-bin/token?grant_type=client_credential&appid=${APPID}&secret=${SECRET}`)).access_token as string;
const user = (token: string) => get(`/cgi-bin/user/info?access_token=${token}&openid=o_1`);
const sign = (ticket: string, nonceStr: string, timestamp: number, url: string) =>
  createHash('sha1').update(`jsapi_ticket=${ticket}&noncestr=${nonceStr}&timestamp=${timestamp}&url=${url}`).digest('hex');

describe('the WeChat stand-in', () => {
  it('answers the token API as WeChat does, and refuses a wrong secret, appid or grant_type', async () => {
    expect(await get(`/cgi-bin/token?grant_type=client_credential&appid=${APPID}&secret=${SECRET}`)).toEqual({ access_token: expect.any(String), expires_in: 7200 });
    expect(await get(`/cgi-bin/token?grant_type=client_credential&appid=${APPID}&secret=wrong`)).toMatchObject({ errcode: 40001 });
    expect(await get(`/cgi-bin/token?grant_type=client_credential&appid=wx_nope&secret=${SECRET}`)).toMatchObject({ errcode: 40013 });
    expect(await get(`/cgi-bin/token?grant_type=password&appid=${APPID}&secret=${SECRET}`)).toMatchObject({ errcode: 40002 });
    expect(standin.counts(APPID)).toEqual({ tokenFetches: 1, outsideFetches: 0, ticketFetches: 0 });
  });

  it('a new token kills the previous one 5 minutes later, not before; an expired one is 42001', async () => {
    const first = await fetchToken();
    expect(await user(first)).toMatchObject({ subscribe: 1, openid: 'o_1' });
    now += 60_000;
    const second = await fetchToken();
    now += 5 * 60_000 - 1;
    expect(await user(first)).toMatchObject({ subscribe: 1 });
    now += 1;
    expect(await user(first)).toMatchObject({ errcode: 40001 });
    expect(await get(`/cgi-bin/getcallbackip?access_token=${first}`)).toMatchObject({ errcode: 40001 });
    expect(await get(`/cgi-bin/getcallbackip?access_token=${second}`)).toEqual({ ip_list: expect.any(Array) });
    now += 7200_000;
    expect(await user(second)).toMatchObject({ errcode: 42001 });
    expect(await get('/cgi-bin/menu/get')).toMatchObject({ errcode: 41001 });
    expect(standin.calls({ kind: 'api' }).map((c) => c.errcode)).toEqual([0, 0, 40001, 42001, 41001]);
  });

  it('an outside fetch is counted apart and kills the token in use 5 minutes later', async () => {
    const hubs = await fetchToken();
    standin.outsideFetch(APPID);
    expect(standin.isValid(hubs)).toBe(true);
    now += 5 * 60_000;
    expect(standin.isValid(hubs)).toBe(false);
    expect(standin.counts(APPID)).toEqual({ tokenFetches: 1, outsideFetches: 1, ticketFetches: 0 });
  });

  it('a new jsapi_ticket replaces the old one at once: only a signature made with the latest is good', async () => {
    const token = await fetchToken();
    const old = (await get(`/cgi-bin/ticket/getticket?access_token=${token}&type=jsapi`)).ticket as string;
    const url = 'https://shop.example/p?id=1';
    expect(standin.verifySignature(APPID, { url: `${url}#frag`, nonceStr: 'n0nce', timestamp: 1795400000, signature: sign(old, 'n0nce', 1795400000, url) })).toBe('latest');
    const latest = (await get(`/cgi-bin/ticket/getticket?access_token=${token}&type=jsapi`)) as { ticket: string; expires_in: number; errcode: number };
    expect(latest).toMatchObject({ errcode: 0, errmsg: 'ok', expires_in: 7200 });
    expect(standin.latestTicket(APPID)).toBe(latest.ticket);
    expect(standin.verifySignature(APPID, { url, nonceStr: 'n0nce', timestamp: 1795400000, signature: sign(old, 'n0nce', 1795400000, url) })).toBe('replaced');
    expect(standin.verifySignature(APPID, { url, nonceStr: 'n0nce', timestamp: '1795400000', signature: sign(latest.ticket, 'n0nce', 1795400000, url) })).toBe('latest');
    expect(standin.verifySignature(APPID, { url, nonceStr: 'n0nce', timestamp: 1795400000, signature: sign('made-up', 'n0nce', 1795400000, url) })).toBe('unknown');
    expect(await get('/cgi-bin/ticket/getticket?access_token=made_up&type=jsapi')).toMatchObject({ errcode: 40001 });
    now += 7200_000;
    expect(standin.verifySignature(APPID, { url, nonceStr: 'n0nce', timestamp: 1795400000, signature: sign(latest.ticket, 'n0nce', 1795400000, url) })).toBe('unknown');
    expect(standin.counts(APPID).ticketFetches).toBe(2);
  });
});
