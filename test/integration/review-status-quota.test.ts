import { describe, expect, it, vi } from 'vitest';
import { QUOTA_CACHE_MS } from '../../lib/http/status-routes.js';
import { useWorld } from '../support/use-world.js';
import { ADMIN_KEY, httpEvent, json } from '../support/world.js';

/**
 * Security review, finding i (status): GET /v1/status/{app}/quota asked WeChat (openapi/quota/get)
 * on every request; WeChat's answer is now kept per app for a minute.
 */
const OA = 'wx_oa_0001';
const world = useWorld();
const quotaEvent = (app: string) => httpEvent({ method: 'GET', key: ADMIN_KEY, path: `/v1/status/${app}/quota`, routeKey: 'GET /v1/status/{app}/quota', pathParameters: { app } });

describe('the quota route asks WeChat at most once a minute per app', () => {
  it('20 requests within a minute (10 of them at once) cost one openapi/quota/get per app; a minute later, one more', async () => {
    const hub = world.container();
    await hub.tick();
    const asked = vi.spyOn(hub.wechat, 'getApiQuota');
    const first = json(await hub.status(quotaEvent('oa')));
    expect(first.wechat).toEqual({ cgi_path: '/cgi-bin/token', daily_limit: 2000, used: world.sim.calls(OA), remain: 2000 - world.sim.calls(OA) });
    await Promise.all(Array.from({ length: 10 }, () => hub.status(quotaEvent('oa'))));
    for (let i = 0; i < 9; i++) {
      world.clock.advance(5_000);
      expect(json(await hub.status(quotaEvent('oa'))).wechat).toEqual(first.wechat);
    }
    expect(asked).toHaveBeenCalledTimes(1);
    // Another app has its own answer.
    await hub.status(quotaEvent('other'));
    expect(asked).toHaveBeenCalledTimes(2);
    world.clock.advance(QUOTA_CACHE_MS - 45_000 + 1);
    await hub.status(quotaEvent('oa'));
    expect(asked).toHaveBeenCalledTimes(3);
  });

  it('says how old WeChat\'s count is', async () => {
    const hub = world.container();
    await hub.tick();
    const asOf = new Date(world.clock.now()).toISOString();
    expect(json(await hub.status(quotaEvent('oa'))).wechatAsOf).toBe(asOf);
    world.clock.advance(30_000);
    expect(json(await hub.status(quotaEvent('oa'))).wechatAsOf).toBe(asOf);
  });

  it('an app segment that does not decode (no path parameters, as a bare event) is a 404, not a 500', async () => {
    const res = await world.container().status(httpEvent({ method: 'GET', key: ADMIN_KEY, path: '/v1/status/%E0/quota', routeKey: 'GET /v1/status/{app}/quota' }));
    expect([res.statusCode, json(res).error.code]).toEqual([404, 'unknown_app']);
  });
});
