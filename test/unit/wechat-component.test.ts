import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ComponentApi } from '../../lib/wechat/component.js';
import { WeChatClient } from '../../lib/wechat/client.js';
import { UpstreamError } from '../../lib/wechat/errors.js';
import { WeChatSimulator } from '../../lib/simulator/wechat-simulator.js';
import { ManualClock } from '../support/manual-clock.js';

/** The component API client (lib/wechat/component.ts) against the simulator's platform. */
const COMPONENT = 'wx_component_01';
const SECRET = 'component-secret-0001';
const ACCOUNT = 'wx_authorizer_01';

let clock: ManualClock;
let sim: WeChatSimulator;
let api: ComponentApi;

beforeEach(async () => {
  clock = new ManualClock();
  sim = new WeChatSimulator({ now: () => clock.now(), platforms: [{ appid: COMPONENT, secret: SECRET, token: 'msg-token', aesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG' }] });
  const base = await sim.listen();
  api = new ComponentApi(new WeChatClient({ baseUrl: base, clock }));
});
afterEach(async () => {
  await sim.close();
});

/** A component token, with the ticket the simulator pushed (to no URL: it is kept all the same). */
async function componentToken(): Promise<string> {
  const { ticket } = await sim.pushTicket(COMPONENT);
  return (await api.componentToken({ appid: COMPONENT, secret: SECRET, ticket })).accessToken;
}

describe('the component API', () => {
  it('a component token with the pushed ticket; a made-up ticket is 61006, a wrong secret 40125', async () => {
    const token = await componentToken();
    expect(token).toBe(sim.platformState(COMPONENT).componentToken);
    await expect(api.componentToken({ appid: COMPONENT, secret: SECRET, ticket: 'not-a-ticket' })).rejects.toMatchObject({ errcode: 61006 });
    const { ticket } = await sim.pushTicket(COMPONENT);
    await expect(api.componentToken({ appid: COMPONENT, secret: 'wrong', ticket })).rejects.toMatchObject({ errcode: 40125 });
  });

  it('an authorization: pre_auth_code, query_auth with the code, the authorizer token with its refresh token, the list', async () => {
    const componentAccess = await componentToken();
    const pre = await api.preAuthCode({ appid: COMPONENT, componentToken: componentAccess });
    expect(pre.preAuthCode).toEqual(expect.any(String));
    const { code, refreshToken } = await sim.authorize(COMPONENT, ACCOUNT);
    const auth = await api.queryAuth({ appid: COMPONENT, componentToken: componentAccess, code });
    expect(auth).toMatchObject({ authorizerAppid: ACCOUNT, refreshToken, expiresIn: 7200 });
    expect(sim.isValid(auth.accessToken)).toBe(true);
    // A code is good once.
    await expect(api.queryAuth({ appid: COMPONENT, componentToken: componentAccess, code })).rejects.toBeInstanceOf(UpstreamError);
    const refreshed = await api.authorizerToken({ appid: COMPONENT, componentToken: componentAccess, authorizerAppid: ACCOUNT, refreshToken });
    expect(refreshed.refreshToken).toBe(refreshToken); // what WeChat returned (the same here), stored every time
    expect(sim.isValid(refreshed.accessToken)).toBe(true);
    expect(await api.authorizerList({ appid: COMPONENT, componentToken: componentAccess, offset: 0, count: 500 })).toEqual({ total: 1, list: [{ authorizerAppid: ACCOUNT, refreshToken, authTime: Math.floor(clock.now() / 1000) }] });
  });

  it('after a re-authorization the old refresh token is 61023, and the list gives the current one (the way back)', async () => {
    const componentAccess = await componentToken();
    const first = await sim.authorize(COMPONENT, ACCOUNT);
    const again = await sim.authorize(COMPONENT, ACCOUNT); // updateauthorized: a new refresh token
    expect(again.refreshToken).not.toBe(first.refreshToken);
    await expect(api.authorizerToken({ appid: COMPONENT, componentToken: componentAccess, authorizerAppid: ACCOUNT, refreshToken: first.refreshToken })).rejects.toMatchObject({ errcode: 61023 });
    const { list } = await api.authorizerList({ appid: COMPONENT, componentToken: componentAccess, offset: 0, count: 10 });
    expect(list).toEqual([{ authorizerAppid: ACCOUNT, refreshToken: again.refreshToken, authTime: expect.any(Number) }]);
    expect((await api.authorizerToken({ appid: COMPONENT, componentToken: componentAccess, authorizerAppid: ACCOUNT, refreshToken: again.refreshToken })).accessToken).toEqual(expect.any(String));
  });

  it('api_start_push_ticket makes WeChat push a ticket; -1 is retried within the deadline', async () => {
    await api.startPushTicket({ appid: COMPONENT, secret: SECRET });
    await sim.pushesSettled();
    expect(sim.calls(COMPONENT, 'start_push_ticket')).toBe(1);
    expect(sim.platformState(COMPONENT).ticket).toEqual(expect.any(String));
    sim.failNext({ kind: 'errcode', errcode: -1 }, 1, COMPONENT, ['component_token']);
    expect(await componentToken()).toEqual(expect.any(String));
    expect(sim.calls(COMPONENT, 'component_token')).toBe(2);
  });
});
