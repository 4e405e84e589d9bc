import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WeChatSimulator } from '../../lib/simulator/wechat-simulator.js';
import { WeChatClient } from '../../lib/wechat/client.js';
import { RetryLaterError, UpstreamError } from '../../lib/wechat/errors.js';
import { LoginRefusedError } from '../../lib/wechat/login.js';
import { closedPort } from '../support/listen.js';
import { ManualClock } from '../support/manual-clock.js';

const APPID = 'wx_unit_login';
const SECRET = 'unit-login-secret-0123456789';

let clock: ManualClock;
let sim: WeChatSimulator;
let client: WeChatClient;
let base: string;

beforeEach(async () => {
  clock = new ManualClock();
  sim = new WeChatSimulator({ now: () => clock.now(), apps: [{ appid: APPID, secret: SECRET }] });
  base = await sim.listen();
  client = new WeChatClient({ baseUrl: base, clock, attemptTimeoutMs: 200 });
});
afterEach(() => sim.close());

const session = (code: string, deadline?: number) => client.exchangeCode({ flow: 'code2session', appid: APPID, secret: SECRET, code, deadline });

describe('WeChatClient.exchangeCode', () => {
  it('exchanges a Mini Program\'s code for WeChat\'s session answer', async () => {
    const { code, openid, unionid } = sim.issueLoginCode(APPID);
    const s = await session(code);
    expect(s).toMatchObject({ openid, unionid, session_key: expect.any(String) });
    expect(sim.issuedLoginValues()).toContain(s.session_key);
  });

  it('exchanges a web authorization code for the user token with every field WeChat gave', async () => {
    const { code, openid } = sim.issueLoginCode(APPID, { scope: 'snsapi_userinfo' });
    const t = await client.exchangeCode({ flow: 'oauth', appid: APPID, secret: SECRET, code });
    expect(t).toMatchObject({ expires_in: 7200, openid, scope: 'snsapi_userinfo', is_snapshotuser: 0, refresh_token: expect.any(String), access_token: expect.any(String) });
  });

  it('retries -1 inside the deadline and then succeeds, the code still good', async () => {
    const { code, openid } = sim.issueLoginCode(APPID);
    sim.failNext({ kind: 'errcode', errcode: -1 }, 2, APPID, ['jscode2session']);
    expect((await session(code)).openid).toBe(openid);
    expect(sim.calls(APPID, 'jscode2session')).toBe(3);
  });

  it('gives up on a -1 that lasts, as a RetryLaterError, after at most four attempts', async () => {
    sim.failNext({ kind: 'errcode', errcode: -1 }, 10, APPID, ['jscode2session']);
    const error = await session(sim.issueLoginCode(APPID).code).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryLaterError);
    expect((error as RetryLaterError).errcode).toBe(-1);
    expect(sim.calls(APPID, 'jscode2session')).toBe(4);
  });

  it('starts no attempt after the deadline', async () => {
    sim.failNext({ kind: 'errcode', errcode: -1 }, 10, APPID, ['jscode2session']);
    const error = await session(sim.issueLoginCode(APPID).code, clock.now() + 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryLaterError);
    expect(sim.calls(APPID, 'jscode2session')).toBeLessThanOrEqual(2);
  });

  it.each([
    [40029, 'an invalid code'],
    [45011, 'too many logins of this user'],
    [40226, 'a high-risk user'],
    [40125, 'a wrong secret'],
  ])('never retries %i (%s): one call, a LoginRefusedError that holds neither the code, the secret nor the URL', async (errcode) => {
    const { code } = sim.issueLoginCode(APPID);
    sim.failNext({ kind: 'errcode', errcode }, 1, APPID, ['jscode2session']);
    const error = await session(code).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoginRefusedError);
    expect((error as LoginRefusedError).errcode).toBe(errcode);
    expect(`${(error as Error).message} ${(error as Error).stack}`).not.toMatch(new RegExp(`${code}|${SECRET}|jscode2session|js_code|secret=`));
    expect(sim.calls(APPID, 'jscode2session')).toBe(1);
  });

  it('a used code is 40029 from the simulator, a LoginRefusedError', async () => {
    const { code } = sim.issueLoginCode(APPID);
    await session(code);
    await expect(session(code)).rejects.toMatchObject({ name: 'LoginRefusedError', errcode: 40029 });
  });

  it('an answer with neither a session nor an errcode is an UpstreamError, not retried', async () => {
    sim.failNext({ kind: 'errcode', errcode: 0 }, 1, APPID, ['jscode2session']);
    const error = await session(sim.issueLoginCode(APPID).code).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(sim.calls(APPID, 'jscode2session')).toBe(1);
  });

  it('fails over to the next base when the first cannot be reached', async () => {
    const failover = new WeChatClient({ baseUrl: [await closedPort(), base], clock, attemptTimeoutMs: 200 });
    const { code, openid } = sim.issueLoginCode(APPID);
    expect((await failover.exchangeCode({ flow: 'code2session', appid: APPID, secret: SECRET, code })).openid).toBe(openid);
    expect(failover.lastBase).toBe(new URL(base).origin);
  });
});
