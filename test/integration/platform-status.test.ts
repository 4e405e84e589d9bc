import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it, vi } from 'vitest';
import { MINUTE } from '../support/manual-clock.js';
import { useWorld } from '../support/use-world.js';
import { ADMIN_KEY, httpEvent, json } from '../support/world.js';
import { COMPONENT, PLATFORM_ADMIN_KEY, PLATFORM_NAME, platformEnv, startPlatform } from '../support/platform-world.js';

/**
 * A platform in the operator's view, against the simulator's platform: GET /v1/status shows its
 * ticket's age, its component token and its authorizers counted by state; the tick sends the
 * ticket's age per platform and the authorizers needing re-authorization (EMF), which the alarms
 * in serverless.yml read.
 */
const world = useWorld();
const statusEvent = (key: string) => httpEvent({ method: 'GET', key, path: '/v1/status', routeKey: 'GET /v1/status' });
const withEventUrl = async <T>(url: string, f: () => Promise<T>): Promise<T> => {
  // WeChat's push is lost (the event URL is down): the hub does not hear of this change.
  world.sim.setEventUrl(COMPONENT, undefined);
  try {
    return await f();
  } finally {
    world.sim.setEventUrl(COMPONENT, url);
  }
};

const FRESH = 'wx_auth_fresh';
const REAUTH = 'wx_auth_reauth';
const FAILING = 'wx_auth_failing';
const REVOKED = 'wx_auth_revoked';

/** Captures the EMF lines (Powertools writes them to stdout) of what runs in `f`. */
async function emf(f: () => Promise<void>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => (lines.push(String(chunk)), true));
  try {
    await f();
  } finally {
    out.mockRestore();
  }
  return lines.flatMap((l) => l.split('\n')).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((m) => '_aws' in m);
}

describe("a platform's status, gauges and alarms' metrics", () => {
  it('GET /v1/status: the ticket\'s age, the component token, and the authorizers counted by state (fresh, failing, needs_reauthorization, revoked)', async () => {
    const p = await startPlatform(world, { env: { PLATFORM_ROSTER_INTERVAL: '0' } }); // FAILING's lost withdrawal stays unknown (the roster check would mark it revoked)
    const eventUrl = `${p.url}/v1/platforms/${PLATFORM_NAME}/events`;
    try {
      for (const a of [FRESH, REAUTH, FAILING, REVOKED]) expect((await world.sim.authorize(COMPONENT, a)).push.status).toBe(200);
      expect((await world.sim.unauthorize(COMPONENT, REVOKED)).status).toBe(200);
      // WeChat refuses REAUTH's refresh token (61023) and api_get_authorizer_list has no other one.
      world.sim.breakRefreshToken(COMPONENT, REAUTH);
      // FAILING withdrew its authorization while the hub heard nothing: its refresh is refused (61003).
      await withEventUrl(eventUrl, () => world.sim.unauthorize(COMPONENT, FAILING));

      world.clock.advance(101 * MINUTE); // every authorizer's token is due (and the component token)
      const outcomes = await p.hub.tick();
      const of = (appid: string) => outcomes.find((o) => o.app === `${PLATFORM_NAME}/${appid}` && o.kind === 'access_token');
      expect(of(FRESH)).toMatchObject({ outcome: 'refreshed' });
      expect(of(REAUTH)).toMatchObject({ outcome: 'failed', code: 'upstream:61023' });
      expect(of(FAILING)).toMatchObject({ outcome: 'failed' });
      expect(of(FAILING)).not.toMatchObject({ code: 'upstream:61023' });
      expect(world.sim.calls(COMPONENT, 'authorizer_list')).toBeGreaterThan(0);

      // A new ticket 4 minutes ago (WeChat's CreateTime), then the view.
      await world.sim.pushTicket(COMPONENT);
      world.clock.advance(4 * MINUTE);
      const res = await p.hub.status(statusEvent(PLATFORM_ADMIN_KEY));
      expect(res.statusCode).toBe(200);
      const body = json(res);
      const platform = body.apps.find((a: { app: string }) => a.app === PLATFORM_NAME);
      expect(platform.platform).toEqual({
        ticket: { state: 'ok', ageSeconds: 240, secondsLeft: 12 * 3600 - 240 },
        componentToken: { state: 'ok', secondsLeft: expect.any(Number) },
        authorizers: { fresh: 1, failing: 1, needs_reauthorization: 1, revoked: 1, counted: 4, complete: true, list: `/v1/platforms/${PLATFORM_NAME}/authorizers` },
      });
      expect(platform.platform.componentToken.secondsLeft).toBeGreaterThan(60 * 60);
      // The counts agree with the list route's states.
      const list = json(await p.hub.platform(httpEvent({ method: 'GET', key: PLATFORM_ADMIN_KEY, path: `/v1/platforms/${PLATFORM_NAME}/authorizers`, routeKey: 'GET /v1/platforms/{name}/authorizers', pathParameters: { name: PLATFORM_NAME } })));
      expect(Object.fromEntries(list.authorizers.map((a: { appid: string; state: string }) => [a.appid, a.state]))).toEqual({
        [FRESH]: 'fresh',
        [REAUTH]: 'needs_reauthorization',
        [FAILING]: 'failing',
        [REVOKED]: 'revoked',
      });
      // An app's entry has no platform section; nothing secret is shown.
      expect(body.apps.find((a: { app: string }) => a.app === 'oa')).toBeUndefined(); // this key sees the platform only
      const all = json(await p.hub.status(statusEvent(ADMIN_KEY)));
      expect(all.apps.find((a: { app: string }) => a.app === 'oa').platform).toBeUndefined();
      for (const v of [...world.sim.issuedTokens(), ...world.sim.issuedPlatformValues()]) expect(res.body).not.toContain(v);
      // npm run status prints the platform as a row of its own, marked: an authorizer to authorize again.
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/status.ts', '--url', p.url, '--key', PLATFORM_ADMIN_KEY], { env: { ...process.env, NO_COLOR: '1' } });
      const row = stdout.split('\n').find((l) => l.includes(PLATFORM_NAME) && l.includes('AUTH') === false && /\bok\b/.test(l) && l.startsWith('!'));
      expect(stdout).toContain('NEEDS RE-AUTH');
      expect(row?.split(/\s+/).slice(1)).toEqual([PLATFORM_NAME, 'ok', '4m00s', 'ok', expect.stringMatching(/^\dh\d\dm$/), '4', '1', '1', '1', '1']);
      for (const v of [...world.sim.issuedTokens(), ...world.sim.issuedPlatformValues()]) expect(stdout).not.toContain(v);
    } finally {
      await p.close();
    }
  });

  it('a platform with no ticket yet shows it missing; its authorizers are counted as none, completely', async () => {
    const p = await startPlatform(world, { ticket: false });
    try {
      const body = json(await p.hub.status(statusEvent(PLATFORM_ADMIN_KEY)));
      const platform = body.apps.find((a: { app: string }) => a.app === PLATFORM_NAME);
      expect(platform.platform).toMatchObject({
        ticket: { state: 'missing' },
        componentToken: { state: 'missing' },
        authorizers: { fresh: 0, failing: 0, needs_reauthorization: 0, revoked: 0, counted: 0, complete: true },
      });
    } finally {
      await p.close();
    }
  });

  it('the tick sends ComponentVerifyTicketAgeSeconds per platform (the scheduled tick only) and AuthorizersNeedingReauthorization from every invocation, until the account authorizes again', async () => {
    const p = await startPlatform(world);
    const eventUrl = `${p.url}/v1/platforms/${PLATFORM_NAME}/events`;
    try {
      const hub = world.container(platformEnv(), { metrics: new Metrics({ namespace: 'WechatTokenHubTest', serviceName: 'hub' }) });
      await world.sim.authorize(COMPONENT, REAUTH);
      // WeChat refuses its refresh token (61023) and the list has no other one: the 61023 stands.
      world.sim.breakRefreshToken(COMPONENT, REAUTH);
      world.clock.advance(101 * MINUTE);
      const first = await emf(async () => void (await hub.tick()));
      expect(first).toContainEqual(expect.objectContaining({ platform: PLATFORM_NAME, ComponentVerifyTicketAgeSeconds: 101 * 60 }));
      expect(first).toContainEqual(expect.objectContaining({ MaxComponentVerifyTicketAgeSeconds: 101 * 60 }));
      expect(first.filter((m) => 'AuthorizersNeedingReauthorization' in m).map((m) => m.AuthorizersNeedingReauthorization)).toEqual([1]);
      // An authorizer is counted per kind and hub-wide, never under its own name (a metric each).
      const failed = first.filter((m) => m.TokenRefreshFailed === 1);
      expect(failed.length).toBeGreaterThan(0);
      expect(failed.every((m) => m.app === undefined)).toBe(true);

      // Five minutes on: the tick asked again, still 61023, counted again; a dispatched shard sends no ticket age.
      world.clock.advance(5 * MINUTE);
      const again = await emf(async () => void (await hub.tick()));
      expect(again.filter((m) => 'AuthorizersNeedingReauthorization' in m).map((m) => m.AuthorizersNeedingReauthorization)).toEqual([1]);
      const shard = await emf(async () => void (await hub.tick({ shards: [0] })));
      expect(shard.some((m) => 'ComponentVerifyTicketAgeSeconds' in m || 'MaxComponentVerifyTicketAgeSeconds' in m)).toBe(false);
      expect(shard.filter((m) => 'AuthorizersNeedingReauthorization' in m)).toHaveLength(1);

      // The administrator authorizes again (the push reaches the hub), during the refused refresh's
      // backoff, which holds no pushed value back: stored at once, and the next tick counts 0.
      const key = { app: `${PLATFORM_NAME}/${REAUTH}`, kind: 'access_token' };
      expect((await world.store.read(key))!.backoffUntil).toBeGreaterThan(world.clock.now());
      const reauthorized = await world.sim.authorize(COMPONENT, REAUTH);
      expect(reauthorized.push.status).toBe(200);
      expect((await world.store.read(key))!.state).toEqual({ refreshToken: reauthorized.refreshToken });
      await world.sim.pushTicket(COMPONENT);
      world.clock.advance(5 * MINUTE);
      const after = await emf(async () => void (await hub.tick()));
      expect(after.filter((m) => 'AuthorizersNeedingReauthorization' in m).map((m) => m.AuthorizersNeedingReauthorization)).toEqual([0]);
      expect(after).toContainEqual(expect.objectContaining({ platform: PLATFORM_NAME, ComponentVerifyTicketAgeSeconds: 5 * 60 }));
      const text = JSON.stringify([first, again, after]);
      for (const v of [...world.sim.issuedTokens(), ...world.sim.issuedPlatformValues()]) expect(text).not.toContain(v);
    } finally {
      await p.close();
    }
  });

  it('a platform with no ticket at all reports the age of a dead one (12 hours), so that the alarm fires; a hub without platforms sends neither gauge', async () => {
    const p = await startPlatform(world, { ticket: false });
    try {
      world.sim.setEventUrl(COMPONENT, undefined); // api_start_push_ticket's push never arrives
      const hub = world.container(platformEnv(), { metrics: new Metrics({ namespace: 'WechatTokenHubTest', serviceName: 'hub' }) });
      const lines = await emf(async () => void (await hub.tick()));
      expect(lines).toContainEqual(expect.objectContaining({ platform: PLATFORM_NAME, ComponentVerifyTicketAgeSeconds: 12 * 3600 }));
      expect(world.sim.calls(COMPONENT, 'start_push_ticket')).toBeGreaterThan(0);
      const plain = world.container({}, { metrics: new Metrics({ namespace: 'WechatTokenHubTest', serviceName: 'hub' }) });
      const none = await emf(async () => void (await plain.tick()));
      expect(none.some((m) => 'ComponentVerifyTicketAgeSeconds' in m || 'AuthorizersNeedingReauthorization' in m)).toBe(false);
      expect(none.length).toBeGreaterThan(0); // it did send its other gauges
    } finally {
      await p.close();
    }
  });
});
