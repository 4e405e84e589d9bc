import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createLocalServer } from '../../lib/http/local-server.js';
import { closedPort, listen } from '../support/listen.js';
import { quotaDay } from '../../lib/quota/periods.js';
import { ADMIN_KEY, httpEvent, json, PROXY_KEY, READ_KEY, ticketEvent } from '../support/world.js';
import { useWorld } from '../support/use-world.js';

/**
 * The disaster-recovery base wired into a hub (a container): WECHAT_API_BASES with a primary that
 * refuses connections and the simulator after it; the status view's `upstream`.
 */
const OA = 'wx_oa_0001';
const world = useWorld();

/** A container whose WeChat bases are a dead primary and the simulator (WECHAT_API_BASE of the world dropped: one of the two). */
async function failoverContainer() {
  const env = { WECHAT_API_BASE: undefined, WECHAT_API_BASES: `${await closedPort()},${world.wechatBase}` } as unknown as Record<string, string>;
  return world.container(env);
}

const statusEvent = () => httpEvent({ method: 'GET', key: ADMIN_KEY, path: '/v1/status', routeKey: 'GET /v1/status', pathParameters: {} });
const origin = (u: string) => new URL(u).origin;

describe('WECHAT_API_BASES in a hub', () => {
  it('serves a token fetched from the fallback when the primary refuses connections', async () => {
    const hub = await failoverContainer();
    const res = await hub.getToken(httpEvent({ key: READ_KEY }));
    expect(res.statusCode).toBe(200);
    expect(json(res).access_token).toBe(world.sim.currentToken(OA));
    expect(world.sim.calls(OA)).toBe(1);
  });

  it('counts in the ledger exactly the calls WeChat received: the refused request to the primary is taken back', async () => {
    const hub = await failoverContainer();
    expect((await hub.getToken(httpEvent({ key: READ_KEY }))).statusCode).toBe(200);
    expect(json(await hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY }))).ticket).toBe(world.sim.currentTicket(OA, 'jsapi'));
    const day = quotaDay(world.clock.now());
    expect((await world.store.readQuota('oa', 'token', day)).count).toBe(world.sim.calls(OA));
    expect((await world.store.readQuota('oa', 'ticket_jsapi', day)).count).toBe(world.sim.calls(OA, 'ticket_jsapi'));
    expect(world.sim.calls(OA)).toBe(1);
  });

  it('sends a proxied call to the fallback when the primary refuses connections', async () => {
    const hub = await failoverContainer();
    const res = await hub.proxy(httpEvent({
      method: 'GET', app: 'oa', key: PROXY_KEY, path: '/v1/apps/oa/wechat/cgi-bin/getcallbackip',
      routeKey: 'ANY /v1/apps/{app}/wechat/{path+}', pathParameters: { app: 'oa', path: 'cgi-bin/getcallbackip' },
    }));
    expect(res.statusCode).toBe(200);
    expect(json(res).ip_list.length).toBeGreaterThan(0);
    expect(world.sim.calls(OA, 'getcallbackip')).toBe(1);
  });

  it('GET /v1/status shows per platform which base answered last and since when, as this container saw it', async () => {
    const hub = await failoverContainer();
    expect(json(await hub.status(statusEvent())).upstream).toEqual({
      scope: 'this container',
      wechat: { lastBase: null, since: null },
      wecom: { lastBase: null, since: null },
    });
    const at = new Date(world.clock.now()).toISOString();
    await hub.getToken(httpEvent({ key: READ_KEY }));
    world.clock.advance(5_000);
    await hub.getToken(httpEvent({ key: READ_KEY, app: 'crm' }));
    const res = await hub.status(statusEvent());
    expect(res.statusCode).toBe(200);
    expect(json(res).upstream).toEqual({
      scope: 'this container',
      wechat: { lastBase: origin(world.wechatBase), since: at },
      wecom: { lastBase: origin(world.wechatBase), since: new Date(world.clock.now()).toISOString() },
    });
    expect(res.body).not.toMatch(/cgi-bin|access_token=|secret/);
  });

  it('npm run status prints the base that answered last, per container', async () => {
    const hub = await failoverContainer();
    await hub.getToken(httpEvent({ key: READ_KEY }));
    const server = await listen(createLocalServer(hub));
    try {
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/status.ts', '--url', server.url, '--key', ADMIN_KEY], { env: { ...process.env, NO_COLOR: '1' } });
      const line = stdout.split('\n').find((l) => l.startsWith('API base that answered last'));
      expect(line).toBe(`API base that answered last (this container): wechat ${origin(world.wechatBase)} (since ${new Date(world.clock.now()).toISOString().slice(11, 19)}), wecom not called yet`);
    } finally {
      await server.close();
    }
  });
});
