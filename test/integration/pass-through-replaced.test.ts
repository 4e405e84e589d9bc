import { describe, expect, it } from 'vitest';
import { MINUTE } from '../support/manual-clock.js';
import { useWorld } from '../support/use-world.js';
import { COMPAT_APPS, httpEvent, json, PROXY_KEY, READ_KEY, REFRESH_KEY } from '../support/world.js';

/**
 * After the hub's own forced rotation, an SDK without 40001 handling keeps sending the token it
 * cached. The compat pass-through forwards such a call with the current token, for at most the
 * replaced token's own life; the proxy and the pass-through ask WeChat again about a token they saw
 * rejected, even within PROBE_TTL.
 */
const OA = 'wx_oa_0001';
const world = useWorld(() => ({ env: { HUB_APPS: JSON.stringify(COMPAT_APPS) } }));

const compat = (hub: ReturnType<typeof world.container>, path: string, query: string) =>
  hub.compat(httpEvent({ method: 'GET', path, routeKey: 'ANY /{path+}', pathParameters: { path: path.slice(1) }, query }));
const body = (r: { body?: string }) => JSON.parse(r.body ?? 'null');

describe('a token the hub replaced', () => {
  it('is forwarded by the compat pass-through with the current token until its own expiry, then refused as WeChat would', async () => {
    const hub = world.container();
    const t1 = body(await compat(hub, '/cgi-bin/token', `grant_type=client_credential&appid=${OA}&secret=${READ_KEY}`)).access_token;
    world.sim.revokeTokens(OA); // an outside fetch killed it; a service reports it, the hub rotates
    const t2 = json(await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, body: { stale_token: t1 } }))).access_token;
    expect(t2).not.toBe(t1);
    const fetches = world.sim.calls(OA);

    // The SDK still holds t1 (it cached it for expires_in): its calls go through.
    const viaOld = await compat(hub, '/cgi-bin/getcallbackip', `access_token=${t1}`);
    expect(body(viaOld).ip_list?.length).toBeGreaterThan(0);
    expect(world.sim.calls(OA)).toBe(fetches); // no extra fetch, no second rotation
    expect(world.sim.calls(OA, 'getcallbackip')).toBeGreaterThan(0);

    // Past t1's own life (7200 s from its fetch) it is nobody's token.
    world.clock.advance(121 * MINUTE);
    const late = await compat(world.container(), '/cgi-bin/getcallbackip', `access_token=${t1}`);
    expect(body(late).errcode).toBe(40001);
  });

  it('a 40001 the proxy met with the hub\'s own token is probed again within PROBE_TTL: rotated, and the call made once more', async () => {
    const hub = world.container();
    const token = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token;
    expect(json(await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, body: { stale_token: token } }))).refreshed).toBe(false); // WeChat: valid
    world.sim.revokeTokens(OA);
    world.clock.advance(2_000); // within PROBE_TTL (10 s) of that probe
    const res = await hub.proxy(httpEvent({
      method: 'GET', app: 'oa', key: PROXY_KEY, path: '/v1/apps/oa/wechat/cgi-bin/getcallbackip',
      routeKey: 'ANY /v1/apps/{app}/wechat/{path+}', pathParameters: { app: 'oa', path: 'cgi-bin/getcallbackip' },
    }));
    expect(res.statusCode).toBe(200);
    expect(json(res).ip_list?.length).toBeGreaterThan(0);
    expect(world.sim.calls(OA)).toBe(2);
  });
});
