import { createServer, type Server } from 'node:http';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decryptMessage, encryptMessage, sha1Signature, xmlField } from '../../lib/simulator/msg-crypt.js';
import { WeChatSimulator } from '../../lib/simulator/wechat-simulator.js';
import { ManualClock, MINUTE } from '../support/manual-clock.js';

const COMPONENT = 'wx_component_01';
const SECRET = 'component-secret';
const TOKEN = 'msg-token';
const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const ACCOUNT = 'wx_authorizer_01';
const HOUR = 60 * MINUTE;

interface Received {
  query: URLSearchParams;
  body: string;
  inner: string;
}

let clock: ManualClock;
let sim: WeChatSimulator;
let base: string;
let receiver: Server;
let received: Received[];
let answer: string;

beforeEach(async () => {
  clock = new ManualClock();
  sim = new WeChatSimulator({ now: () => clock.now(), platforms: [{ appid: COMPONENT, secret: SECRET, token: TOKEN, aesKey: AES_KEY }] });
  base = await sim.listen();
  received = [];
  answer = 'success';
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      const body = Buffer.concat(chunks).toString('utf8');
      const encrypt = xmlField(body, 'Encrypt') ?? '';
      // The receiving side's checks, done with the simulator's own code path.
      expect(query.get('encrypt_type')).toBe('aes');
      expect(query.get('signature')).toBe(sha1Signature(TOKEN, query.get('timestamp')!, query.get('nonce')!));
      expect(query.get('msg_signature')).toBe(sha1Signature(TOKEN, query.get('timestamp')!, query.get('nonce')!, encrypt));
      const { message, receiveId } = decryptMessage(AES_KEY, encrypt);
      expect(receiveId).toBe(COMPONENT);
      received.push({ query, body, inner: message });
      res.end(answer);
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const addr = receiver.address() as { port: number };
  sim.setEventUrl(COMPONENT, `http://127.0.0.1:${addr.port}/events`);
});
afterEach(async () => {
  await sim.close();
  await new Promise<void>((r) => receiver.close(() => r()));
});

async function post(path: string, body: unknown): Promise<any> {
  return (await request(`${base}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })).body.json();
}
const componentToken = (ticket: string, secret = SECRET, appid = COMPONENT) =>
  post('/cgi-bin/component/api_component_token', { component_appid: appid, component_appsecret: secret, component_verify_ticket: ticket });
const call = (name: string, token: string, body: Record<string, unknown> = {}, param = 'component_access_token') =>
  post(`/cgi-bin/component/${name}?${param}=${encodeURIComponent(token)}`, { component_appid: COMPONENT, ...body });
const check = async (t: string): Promise<any> => (await request(`${base}/cgi-bin/getcallbackip?access_token=${encodeURIComponent(t)}`)).body.json();

async function tokenNow(): Promise<string> {
  const { ticket } = await sim.pushTicket(COMPONENT);
  return (await componentToken(ticket)).component_access_token as string;
}

/** Authorize ACCOUNT and exchange its code: the first authorizer token and the refresh token. */
async function authorized(ct: string, funcs?: number[]) {
  const { code } = await sim.authorize(COMPONENT, ACCOUNT, { funcs });
  return (await call('api_query_auth', ct, { authorization_code: code })).authorization_info;
}

describe('WXBizMsgCrypt in the simulator', () => {
  it('matches the published vector, and decrypts it back', () => {
    const e = encryptMessage(AES_KEY, 'wxb11529c136998cb6', '我是中文abcd123', Buffer.from('aaaabbbbccccdddd'));
    expect(e).toBe('jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==');
    expect(decryptMessage(AES_KEY, e)).toEqual({ message: '我是中文abcd123', receiveId: 'wxb11529c136998cb6' });
  });
});

describe('the simulator\'s third-party platforms', () => {
  it('pushes an encrypted, signed ticket event, and records the answer', async () => {
    const push = await sim.pushTicket(COMPONENT);
    expect(push).toMatchObject({ status: 200, body: 'success', infoType: 'component_verify_ticket', at: clock.now() });
    expect(received).toHaveLength(1);
    const { query, body, inner } = received[0]!;
    expect(body).toMatch(/^<xml><AppId><!\[CDATA\[wx_component_01\]\]><\/AppId><Encrypt><!\[CDATA\[[A-Za-z0-9+/=]+\]\]><\/Encrypt><\/xml>$/);
    expect(query.get('timestamp')).toBe(String(Math.floor(clock.now() / 1000)));
    expect(xmlField(inner, 'AppId')).toBe(COMPONENT);
    expect(xmlField(inner, 'CreateTime')).toBe(String(Math.floor(clock.now() / 1000)));
    expect(xmlField(inner, 'InfoType')).toBe('component_verify_ticket');
    expect(xmlField(inner, 'ComponentVerifyTicket')).toBe(push.ticket);
    answer = 'not success';
    await sim.pushTicket(COMPONENT);
    sim.setEventUrl(COMPONENT, 'http://127.0.0.1:1/nothing');
    await sim.pushTicket(COMPONENT);
    expect(sim.pushes(COMPONENT).map((p) => [p.status, p.body.slice(0, 11)])).toEqual([[200, 'success'], [200, 'not success'], [0, expect.any(String)]]);
  });

  it('api_component_token: only the latest or previous ticket, for 12 h; wrong appid, secret, method', async () => {
    const t1 = (await sim.pushTicket(COMPONENT)).ticket;
    const first = await componentToken(t1);
    expect(first).toEqual({ component_access_token: expect.any(String), expires_in: 7200 });
    const t2 = (await sim.pushTicket(COMPONENT)).ticket;
    expect((await componentToken(t1)).component_access_token).toBeDefined(); // the previous one
    await sim.pushTicket(COMPONENT);
    expect((await componentToken(t1)).errcode).toBe(61006); // older than the previous
    expect((await componentToken('ticket@@@nope')).errcode).toBe(61006);
    expect((await componentToken(t2, 'wrong')).errcode).toBe(40125);
    expect((await componentToken(t2, SECRET, 'wx_unknown')).errcode).toBe(40013);
    expect((await post('/cgi-bin/component/api_component_token', { component_appsecret: SECRET })).errcode).toBe(41002);
    expect((await (await request(`${base}/cgi-bin/component/api_component_token`)).body.json() as any).errcode).toBe(43002);
    clock.advance(12 * HOUR);
    expect((await componentToken(t2)).errcode).toBe(61005);
    // Calls naming no known platform (no appid, an unknown one, a GET with no body) are nobody's.
    expect(sim.calls(COMPONENT, 'component_token')).toBe(6);
  });

  it('a component token: the previous one lives 5 more minutes; an unknown one 40001, an expired one 42001', async () => {
    const a = await tokenNow();
    expect((await call('api_create_preauthcode', a)).pre_auth_code).toMatch(/^preauthcode@@@/);
    const b = await tokenNow();
    clock.advance(5 * MINUTE - 1);
    expect((await call('api_create_preauthcode', a, {}, 'access_token')).expires_in).toBe(1800);
    clock.advance(1);
    expect((await call('api_create_preauthcode', a)).errcode).toBe(42001);
    expect((await call('api_create_preauthcode', 'garbage')).errcode).toBe(40001);
    expect((await post('/cgi-bin/component/api_create_preauthcode', { component_appid: COMPONENT })).errcode).toBe(41001);
    expect((await call('api_create_preauthcode', b, { component_appid: 'wx_other' })).errcode).toBe(61011);
    clock.advance(2 * HOUR);
    expect((await call('api_create_preauthcode', b)).errcode).toBe(42001);
    expect(sim.platformState(COMPONENT).componentToken).toBeUndefined();
  });

  it('authorize pushes `authorized`; the code gives tokens once, within 10 minutes; the token works on business calls', async () => {
    const ct = await tokenNow();
    const pre = (await call('api_create_preauthcode', ct)).pre_auth_code;
    const r = await sim.authorize(COMPONENT, ACCOUNT, { funcs: [1, 15], redirectUri: 'https://platform.example/back' });
    expect(r.redirectUrl).toBe(`https://platform.example/back?auth_code=${encodeURIComponent(r.code)}&expires_in=600`);
    const inner = received.at(-1)!.inner;
    expect(xmlField(inner, 'InfoType')).toBe('authorized');
    expect(xmlField(inner, 'AuthorizerAppid')).toBe(ACCOUNT);
    expect(xmlField(inner, 'AuthorizationCode')).toBe(r.code);
    expect(xmlField(inner, 'AuthorizationCodeExpiredTime')).toBe(String(Math.floor(clock.now() / 1000) + 600));
    expect(xmlField(inner, 'PreAuthCode')).toBe(pre);
    const info = (await call('api_query_auth', ct, { authorization_code: r.code })).authorization_info;
    expect(info).toEqual({
      authorizer_appid: ACCOUNT,
      authorizer_access_token: expect.any(String),
      expires_in: 7200,
      authorizer_refresh_token: r.refreshToken,
      func_info: [{ funcscope_category: { id: 1 } }, { funcscope_category: { id: 15 } }],
    });
    expect((await call('api_query_auth', ct, { authorization_code: r.code })).errcode).toBe(61010); // used
    expect((await call('api_query_auth', ct, { authorization_code: 'queryauthcode@@@nope' })).errcode).toBe(61009);
    // The authorizer access token is accepted like the account's own.
    const at = info.authorizer_access_token as string;
    expect((await check(at)).ip_list).toBeDefined();
    const ticket = (await (await request(`${base}/cgi-bin/ticket/getticket?access_token=${encodeURIComponent(at)}&type=jsapi`)).body.json()) as any;
    expect(ticket).toMatchObject({ errcode: 0, expires_in: 7200 });
    expect(sim.calls(ACCOUNT, 'getcallbackip')).toBe(1);
    expect(sim.calls(ACCOUNT, 'ticket_jsapi')).toBe(1);
    const late = (await sim.authorize(COMPONENT, ACCOUNT)).code;
    clock.advance(10 * MINUTE);
    expect((await call('api_query_auth', ct, { authorization_code: late })).errcode).toBe(61010); // expired
    expect(sim.calls(COMPONENT, 'query_auth')).toBe(4);
  });

  it('api_authorizer_token keeps the refresh token; re-authorization rotates it (61023), the list gives the new one', async () => {
    const ct = await tokenNow();
    const info = await authorized(ct);
    const refresh = info.authorizer_refresh_token as string;
    const again = await call('api_authorizer_token', ct, { authorizer_appid: ACCOUNT, authorizer_refresh_token: refresh });
    expect(again).toEqual({ authorizer_access_token: expect.any(String), expires_in: 7200, authorizer_refresh_token: refresh });
    expect(again.authorizer_access_token).not.toBe(info.authorizer_access_token);
    expect((await check(info.authorizer_access_token)).ip_list).toBeDefined(); // the previous: 5 more minutes
    const second = await sim.authorize(COMPONENT, ACCOUNT);
    expect(xmlField(received.at(-1)!.inner, 'InfoType')).toBe('updateauthorized');
    expect(second.refreshToken).not.toBe(refresh);
    expect((await call('api_authorizer_token', ct, { authorizer_appid: ACCOUNT, authorizer_refresh_token: refresh })).errcode).toBe(61023);
    const list = await call('api_get_authorizer_list', ct, { offset: 0, count: 500 });
    expect(list).toEqual({ errcode: 0, errmsg: 'ok', total_count: 1, list: [{ authorizer_appid: ACCOUNT, refresh_token: second.refreshToken, auth_time: Math.floor(clock.now() / 1000) }] });
    expect((await call('api_authorizer_token', ct, { authorizer_appid: ACCOUNT, authorizer_refresh_token: second.refreshToken })).authorizer_refresh_token).toBe(second.refreshToken);
    // The old access token lives at most 5 minutes after the re-authorization.
    clock.advance(5 * MINUTE);
    expect((await check(again.authorizer_access_token)).errcode).toBe(42001);
    expect((await call('api_authorizer_token', ct, { authorizer_appid: 'wx_never', authorizer_refresh_token: refresh })).errcode).toBe(61003);
    expect(sim.calls(COMPONENT, 'authorizer_token')).toBe(4);
  });

  it('api_get_authorizer_list pages; count above 500 is refused', async () => {
    const ct = await tokenNow();
    for (const id of ['wx_a', 'wx_b', 'wx_c']) {
      await sim.authorize(COMPONENT, id);
      clock.advance(1000);
    }
    const page = await call('api_get_authorizer_list', ct, { offset: 1, count: 1 });
    expect(page.total_count).toBe(3);
    expect(page.list.map((a: any) => a.authorizer_appid)).toEqual(['wx_b']);
    expect((await call('api_get_authorizer_list', ct, { offset: 0, count: 501 })).errcode).toBe(40097);
    expect(sim.calls(COMPONENT, 'authorizer_list')).toBe(2);
  });

  it('unauthorize pushes `unauthorized` and kills its tokens', async () => {
    const ct = await tokenNow();
    const info = await authorized(ct);
    await sim.unauthorize(COMPONENT, ACCOUNT);
    expect(xmlField(received.at(-1)!.inner, 'InfoType')).toBe('unauthorized');
    expect(xmlField(received.at(-1)!.inner, 'AuthorizerAppid')).toBe(ACCOUNT);
    expect((await check(info.authorizer_access_token)).errcode).toBe(40001);
    expect((await call('api_authorizer_token', ct, { authorizer_appid: ACCOUNT, authorizer_refresh_token: info.authorizer_refresh_token })).errcode).toBe(61003);
    expect((await call('api_get_authorizer_list', ct, { count: 10 })).total_count).toBe(0);
  });

  it('api_start_push_ticket checks the secret and pushes a ticket at once', async () => {
    expect((await post('/cgi-bin/component/api_start_push_ticket', { component_appid: COMPONENT, component_secret: 'wrong' })).errcode).toBe(40125);
    expect(await post('/cgi-bin/component/api_start_push_ticket', { component_appid: COMPONENT, component_secret: SECRET })).toEqual({ errcode: 0, errmsg: 'ok' });
    await sim.pushesSettled();
    expect(received).toHaveLength(1);
    const ticket = xmlField(received[0]!.inner, 'ComponentVerifyTicket')!;
    expect((await componentToken(ticket)).component_access_token).toBeDefined();
    expect(sim.calls(COMPONENT, 'start_push_ticket')).toBe(2);
  });

  it('the ticket timer pushes every interval until stopped (real time: npm start)', async () => {
    sim.startTicketTimer(20);
    await expect.poll(() => received.length, { timeout: 2000, interval: 10 }).toBeGreaterThanOrEqual(2);
    sim.stopTicketTimer();
    await sim.pushesSettled();
    const seen = received.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(received.length).toBe(seen);
    expect(sim.pushes(COMPONENT).every((p) => p.infoType === 'component_verify_ticket' && p.body === 'success')).toBe(true);
  });

  it('failNext works for the platform calls: errcodes, reset and hang', async () => {
    const ct = await tokenNow();
    const info = await authorized(ct);
    const refresh = { authorizer_appid: ACCOUNT, authorizer_refresh_token: info.authorizer_refresh_token };
    const ticket = sim.platformState(COMPONENT).ticket!;
    sim.failNext({ kind: 'errcode', errcode: 61005 }, 1, COMPONENT, ['component_token']);
    sim.failNext({ kind: 'errcode', errcode: 61023 }, 1, COMPONENT, ['authorizer_token']);
    sim.failNext({ kind: 'errcode', errcode: -1 }, 1, 'wx_other', ['preauthcode']);
    expect((await componentToken(ticket)).errcode).toBe(61005);
    expect((await componentToken(ticket)).component_access_token).toBeDefined();
    expect(await call('api_authorizer_token', ct, refresh)).toEqual({ errcode: 61023, errmsg: 'refresh_token is invalid' });
    expect((await call('api_create_preauthcode', ct)).pre_auth_code).toBeDefined(); // another app's fault
    expect(await post('/__sim/fail', { appid: COMPONENT, errcode: 61006, endpoints: ['component_token'] })).toMatchObject({ errcode: 0 });
    expect((await componentToken(ticket)).errcode).toBe(61006);
    sim.failNext({ kind: 'reset' }, 1, COMPONENT, ['authorizer_list']);
    await expect(call('api_get_authorizer_list', ct, { count: 1 })).rejects.toThrow();
    sim.failNext({ kind: 'hang' }, 1, '*', ['query_auth']);
    const hung = request(`${base}/cgi-bin/component/api_query_auth?component_access_token=${ct}`, { method: 'POST', body: '{}', headersTimeout: 200 });
    await expect(hung).rejects.toThrow();
  });

  it('control routes: event URL, push-ticket, authorize, unauthorize; stats', async () => {
    const ct = await tokenNow();
    const pushed = await post('/__sim/push-ticket', { component_appid: COMPONENT });
    expect(pushed).toMatchObject({ errcode: 0, ticket: expect.stringMatching(/^ticket@@@/), push: { status: 200, body: 'success' } });
    const auth = await post('/__sim/authorize', { component_appid: COMPONENT, authorizer_appid: ACCOUNT, funcs: [3], redirect_uri: 'https://x.example/cb' });
    expect(auth).toMatchObject({ errcode: 0, expires_in: 600, redirect_url: expect.stringContaining('auth_code=') });
    expect((await call('api_query_auth', ct, { authorization_code: auth.authorization_code })).authorization_info.func_info).toEqual([{ funcscope_category: { id: 3 } }]);
    expect(await post('/__sim/unauthorize', { component_appid: COMPONENT, authorizer_appid: ACCOUNT })).toMatchObject({ errcode: 0, push: { infoType: 'unauthorized' } });
    expect((await post('/__sim/unauthorize', { component_appid: COMPONENT, authorizer_appid: ACCOUNT })).errcode).toBe(40013);
    expect((await post('/__sim/authorize', { component_appid: 'wx_nope', authorizer_appid: ACCOUNT })).errcode).toBe(40013);
    expect(await post('/__sim/event-url', { component_appid: COMPONENT, url: 'http://127.0.0.1:1/x' })).toMatchObject({ errcode: 0 });
    expect((await post('/__sim/push-ticket', { component_appid: COMPONENT })).push.status).toBe(0);
    const stats = (await (await request(`${base}/__sim/stats`)).body.json()) as any;
    expect(stats[COMPONENT]).toMatchObject({ component_token: 1, query_auth: 1 });
    expect(sim.issuedPlatformValues()).toContain(pushed.ticket);
  });
});
