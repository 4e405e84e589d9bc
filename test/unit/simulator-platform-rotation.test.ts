import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WeChatSimulator } from '../../lib/simulator/wechat-simulator.js';
import { ManualClock } from '../support/manual-clock.js';

/**
 * The simulator's refresh-token rotation (SimulatedPlatform.rotateRefreshTokens; WeChat's behaviour
 * is UNCONFIRMED, docs/wechat.md §10): each api_authorizer_token answers a new refresh token, the one
 * sent then answers 61023, and api_get_authorizer_list lists the current one.
 */
const COMPONENT = 'wx_component_01';
const SECRET = 'component-secret';
const ACCOUNTS = ['wx_authorizer_01', 'wx_authorizer_02'];

let clock: ManualClock;
let sim: WeChatSimulator;
let base: string;

const post = async (path: string, body: unknown): Promise<any> =>
  (await request(`${base}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })).body.json();
const call = (name: string, token: string, body: Record<string, unknown> = {}) =>
  post(`/cgi-bin/component/${name}?component_access_token=${encodeURIComponent(token)}`, { component_appid: COMPONENT, ...body });
const refreshWith = (ct: string, appid: string, refreshToken: string) => call('api_authorizer_token', ct, { authorizer_appid: appid, authorizer_refresh_token: refreshToken });
const listed = async (ct: string): Promise<Record<string, string>> =>
  Object.fromEntries(((await call('api_get_authorizer_list', ct, { offset: 0, count: 500 })).list as { authorizer_appid: string; refresh_token: string }[]).map((a) => [a.authorizer_appid, a.refresh_token]));

async function setUp(rotate: boolean | undefined): Promise<{ ct: string; refresh: Record<string, string> }> {
  sim = new WeChatSimulator({ now: () => clock.now(), platforms: [{ appid: COMPONENT, secret: SECRET, token: 'msg-token', aesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', ...(rotate === undefined ? {} : { rotateRefreshTokens: rotate }) }] });
  base = await sim.listen();
  const { ticket } = await sim.pushTicket(COMPONENT);
  const ct = (await post('/cgi-bin/component/api_component_token', { component_appid: COMPONENT, component_appsecret: SECRET, component_verify_ticket: ticket })).component_access_token as string;
  const refresh: Record<string, string> = {};
  for (const a of ACCOUNTS) refresh[a] = (await sim.authorize(COMPONENT, a)).refreshToken;
  return { ct, refresh };
}

beforeEach(() => {
  clock = new ManualClock();
});
afterEach(async () => {
  await sim.close();
});

describe('refresh-token rotation in the simulator', () => {
  it('off (the default): api_authorizer_token answers the refresh token sent, which keeps working', async () => {
    const { ct, refresh } = await setUp(undefined);
    const a = ACCOUNTS[0]!;
    for (let i = 0; i < 3; i++) expect((await refreshWith(ct, a, refresh[a]!)).authorizer_refresh_token).toBe(refresh[a]);
    expect(sim.platformState(COMPONENT).refreshTokens).toEqual(refresh);
    expect(await listed(ct)).toEqual(refresh);
  });

  it('on: each answer carries a new refresh token, the one sent then answers 61023, the list and platformState give the current one, other accounts keep theirs', async () => {
    const { ct, refresh } = await setUp(true);
    const [a, b] = ACCOUNTS as [string, string];
    const first = await refreshWith(ct, a, refresh[a]!);
    const rotated = first.authorizer_refresh_token as string;
    expect(rotated).toMatch(/^refreshtoken@@@/);
    expect(rotated).not.toBe(refresh[a]);
    expect(sim.isValid(first.authorizer_access_token)).toBe(true);
    expect(await refreshWith(ct, a, refresh[a]!)).toEqual({ errcode: 61023, errmsg: 'refresh_token is invalid' });
    expect(sim.platformState(COMPONENT).refreshTokens).toEqual({ [a]: rotated, [b]: refresh[b] });
    expect(await listed(ct)).toEqual({ [a]: rotated, [b]: refresh[b] });
    const second = await refreshWith(ct, a, rotated);
    expect(second.authorizer_refresh_token).not.toBe(rotated);
    expect(await refreshWith(ct, a, rotated)).toMatchObject({ errcode: 61023 });
    expect(sim.issuedPlatformValues()).toContain(second.authorizer_refresh_token);
  });

  it('can be turned on and off at run time (setRotateRefreshTokens)', async () => {
    const { ct, refresh } = await setUp(false);
    const a = ACCOUNTS[0]!;
    sim.setRotateRefreshTokens(COMPONENT, true);
    const rotated = (await refreshWith(ct, a, refresh[a]!)).authorizer_refresh_token as string;
    expect(rotated).not.toBe(refresh[a]);
    sim.setRotateRefreshTokens(COMPONENT, false);
    expect((await refreshWith(ct, a, rotated)).authorizer_refresh_token).toBe(rotated);
    expect(() => sim.setRotateRefreshTokens('wx_no_such_platform', true)).toThrow();
  });

  it('a fault on api_authorizer_token issues nothing and rotates nothing', async () => {
    const { ct, refresh } = await setUp(true);
    const a = ACCOUNTS[0]!;
    sim.failNext({ kind: 'errcode', errcode: -1 }, 1, COMPONENT, ['authorizer_token']);
    expect(await refreshWith(ct, a, refresh[a]!)).toMatchObject({ errcode: -1 });
    expect(sim.platformState(COMPONENT).refreshTokens[a]).toBe(refresh[a]);
    expect((await refreshWith(ct, a, refresh[a]!)).authorizer_refresh_token).not.toBe(refresh[a]);
  });
});
