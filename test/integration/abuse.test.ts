import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MINUTE } from '../support/manual-clock.js';
import { closeSharedDynalite, httpEvent, json, READ_KEY, REFRESH_KEY, startWorld, type World } from '../support/world.js';

const OA = 'wx_oa_0001';
const MP = 'wx_mp_0002';

let world: World;
beforeEach(async () => {
  world = await startWorld();
});
afterEach(async () => {
  await world.close();
});
afterAll(closeSharedDynalite);

const force = (hub: ReturnType<World['container']>, stale: string, app = 'oa') =>
  hub.forceRefresh(httpEvent({ key: REFRESH_KEY, app, body: { stale_token: stale } }));

describe('forced refresh cannot burn the quota', () => {
  it('hammering with the current, still valid token costs zero token fetches', async () => {
    const containers = [world.container(), world.container(), world.container()];
    const token = json(await containers[0]!.getToken(httpEvent({ key: READ_KEY }))).access_token;
    const before = world.sim.calls(OA);

    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => force(containers[i % 3]!, token)));
      for (const r of answers) {
        expect(r.statusCode).toBe(200);
        expect(json(r)).toMatchObject({ access_token: token, refreshed: false });
        expect(json(r).reason).toMatch(/still accepts/);
      }
      world.clock.advance(20_000);
    }
    expect(world.sim.calls(OA)).toBe(before);
    // The probe itself is rationed: one per PROBE_TTL (10 s) however hard the flood, so one a round.
    expect(world.sim.calls(OA, 'getcallbackip')).toBe(5);
  });

  it('with a truly invalid token, one fetch', async () => {
    const hub = world.container();
    const token = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token;
    world.sim.revokeTokens(OA);
    const answers = await Promise.all(Array.from({ length: 20 }, () => force(hub, token)));
    expect(world.sim.calls(OA)).toBe(2);
    expect(new Set(answers.map((r) => json(r).access_token)).size).toBe(1);
    expect(json(answers[0]!)).toMatchObject({ refreshed: true, access_token: world.sim.currentToken(OA) });
  });

  it('once WeChat stops accepting a token it confirmed, the next report after the probe age rotates it', async () => {
    const hub = world.container();
    const token = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token;
    expect(json(await force(hub, token)).refreshed).toBe(false);
    world.sim.revokeTokens(OA);
    world.clock.advance(11_000);
    expect(json(await force(hub, token)).refreshed).toBe(true);
  });

  // A Mini Program's token is probed (get_api_domain_ip): only a token WeChat no longer accepts is rotated.
  it('stable-token forced refreshes are spaced 30 s apart', async () => {
    const hub = world.container();
    const a = json(await hub.getToken(httpEvent({ key: READ_KEY, app: 'mp' }))).access_token;
    world.sim.revokeTokens(MP);
    const b = json(await force(hub, a, 'mp')).access_token;
    world.clock.advance(10_000);
    world.sim.revokeTokens(MP);
    const tooSoon = await force(hub, b, 'mp');
    expect(tooSoon.statusCode).toBe(429);
    expect(Number(tooSoon.headers?.['retry-after'])).toBe(20);
    world.clock.advance(20_000);
    expect(json(await force(hub, b, 'mp')).refreshed).toBe(true);
    expect(world.sim.calls(MP, 'stable_token_force')).toBe(2);
  });

  it('stable-token forced refreshes stop at 20 a day', async () => {
    const hub = world.container();
    let t = json(await hub.getToken(httpEvent({ key: READ_KEY, app: 'mp' }))).access_token;
    for (let i = 0; i < 20; i++) {
      world.clock.advance(31_000);
      world.sim.revokeTokens(MP);
      t = json(await force(hub, t, 'mp')).access_token;
    }
    world.clock.advance(31_000);
    world.sim.revokeTokens(MP);
    expect((await force(hub, t, 'mp')).statusCode).toBe(429);
    expect(world.sim.calls(MP, 'stable_token_force')).toBe(20);
  });
});

describe('a rotated AppSecret', () => {
  it('a token fetched with the old secret is not served once the secret has changed', async () => {
    const hub = world.container();
    const old = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token;
    world.sim.setSecret(OA, 'new-secret-0000000000000000');
    world.setSecret('SECRET_OA', 'new-secret-0000000000000000');
    world.clock.advance(MINUTE); // past the read cache
    const fresh = json(await world.container().getToken(httpEvent({ key: READ_KEY }))).access_token;
    expect(fresh).not.toBe(old);
    expect(fresh).toBe(world.sim.currentToken(OA));
    expect(world.sim.calls(OA)).toBe(2);
  });

  it('the tick refreshes a token of an old secret even when it is not due', async () => {
    const hub = world.container();
    await hub.tick();
    world.setSecret('SECRET_OA', 'another-secret-000000000000');
    world.sim.setSecret(OA, 'another-secret-000000000000');
    expect(await hub.tick()).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'refreshed' });
  });
});
