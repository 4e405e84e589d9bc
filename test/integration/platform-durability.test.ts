import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { createLocalServer } from '../../lib/http/local-server.js';
import type { Hub } from '../../lib/hub.js';
import { REFRESH_TOKEN } from '../../lib/kinds/authorizer.js';
import { defaultSettings } from '../../lib/settings.js';
import { DynamoCredentialStore } from '../../lib/store/dynamodb.js';
import type { CredentialStore } from '../../lib/store/store.js';
import { captureOutput } from '../support/capture.js';
import { listen } from '../support/listen.js';
import { MINUTE } from '../support/manual-clock.js';
import { authorizerEvent, AUTHORIZERS_KEY, COMPONENT, PLATFORM_ADMIN_KEY, PLATFORM_NAME, platformEnv, startPlatform } from '../support/platform-world.js';
import { storeFaults } from '../support/store-faults.js';
import { backupTable, restoreTable } from '../support/table-backup.js';
import { useWorld } from '../support/use-world.js';
import { httpEvent, json, sharedDynalite, TEST_STORES, type TestStore } from '../support/world.js';

/**
 * The roster check (lib/platform/roster.ts) also reads api_get_authorizer_list every 6 hours: off here, so
 * that every list call these tests count is the refresh token's recovery by the authorizer kind itself.
 */
const NO_ROSTER = { PLATFORM_ROSTER_INTERVAL: '0' };

/**
 * An authorizer's refresh token is durable (docs/wechat.md §10, docs/architecture.md "Credential"):
 * it exists only in the table, written by the same fenced write as the token it came with, so that
 * no kill, lost write, outage or restore loses it; and when WeChat rotates it (UNCONFIRMED: the
 * simulator does so when told) and the hub lost the answer, api_get_authorizer_list gives it back.
 */
const LEASE_LAPSED_MS = defaultSettings.leaseMs + defaultSettings.leaseSkewMs + 1;
const AUTHORIZER_TOKEN_PATH = '/cgi-bin/component/api_authorizer_token';
/** A day of ticks on a shared 2-core machine: not a timing assertion, just room. */
const DAY_TIMEOUT_MS = 300_000;
const appids = (n: number) => Array.from({ length: n }, (_, i) => `wx_auth_${String(i + 1).padStart(4, '0')}`);
const name = (appid: string) => `${PLATFORM_NAME}/${appid}`;
const isAuthorizer = (k: { app: string }) => k.app.startsWith(`${PLATFORM_NAME}/`);

/** An authorizer's token as a service reads it from a hub: the token, or the status it got. */
async function serve(hub: Hub, appid: string): Promise<{ status: number; token?: string }> {
  const res = await hub.getToken(authorizerEvent(appid, '/access-token', '/access-token', { key: AUTHORIZERS_KEY }));
  return { status: res.statusCode ?? 0, ...(res.statusCode === 200 ? { token: json(res).access_token as string } : {}) };
}

/** The platform's authorizers as an operator sees them (GET /v1/platforms/{name}/authorizers): appid → state. */
async function states(hub: Hub): Promise<Record<string, string>> {
  const res = await hub.platform(httpEvent({ method: 'GET', path: `/v1/platforms/${PLATFORM_NAME}/authorizers`, routeKey: 'GET /v1/platforms/{name}/authorizers', pathParameters: { name: PLATFORM_NAME }, key: PLATFORM_ADMIN_KEY }));
  expect(res.statusCode, res.body).toBe(200);
  return Object.fromEntries((json(res).authorizers as { appid: string; state: string }[]).map((a) => [a.appid, a.state]));
}

describe.each(TEST_STORES)('on the %s store', (storeKind) => {
  const world = useWorld(() => ({ store: storeKind }));
  const AUTH = 'wx_auth_0001';
  const tokenKey = (appid = AUTH) => ({ app: name(appid), kind: 'access_token' });
  const storedRefreshToken = async (appid = AUTH) => (await world.store.read(tokenKey(appid)))?.state?.[REFRESH_TOKEN];
  const current = (appid = AUTH) => world.sim.platformState(COMPONENT).refreshTokens[appid];
  /** Every account works on `hub` (over `store`): its stored refresh token is WeChat's current one, the token it serves WeChat accepts, and the operator sees it fresh. */
  const expectAllWorking = async (hub: Hub, store: CredentialStore, accounts: readonly string[]) => {
    const now = world.sim.platformState(COMPONENT).refreshTokens;
    for (const a of accounts) {
      expect((await store.read(tokenKey(a)))?.state?.[REFRESH_TOKEN], a).toBe(now[a]);
      const got = await serve(hub, a);
      expect(got.token !== undefined && world.sim.isValid(got.token), a).toBe(true);
    }
    expect(Object.values(await states(hub))).toEqual(accounts.map(() => 'fresh'));
  };
  /** The authorizer's token item up to the moment its renewal is due (10 minutes before it expires). */
  const untilRenewal = async (appid = AUTH) => {
    const item = (await world.store.read(tokenKey(appid)))!;
    world.clock.advance(item.expiresAt! - world.clock.now() - 10 * 60_000);
    return item;
  };

  describe('the tick killed after WeChat answered api_authorizer_token and before the write', () => {
    it('without rotation: the next tick still refreshes with the old refresh token, and the stored refresh token is WeChat\'s current one', async () => {
      const p = await startPlatform(world, { env: NO_ROSTER });
      const faults = storeFaults(storeKind);
      try {
        await world.sim.authorize(COMPONENT, AUTH);
        const before = await untilRenewal();
        const old = before.state![REFRESH_TOKEN];
        faults.killAtWrite((k) => k.app === name(AUTH));
        expect(await p.hub.tick()).toContainEqual(expect.objectContaining({ app: name(AUTH), kind: 'access_token', outcome: 'failed' }));
        expect(faults.counts.killed).toBe(1);
        expect(world.sim.calls(COMPONENT, 'authorizer_token')).toBe(1); // WeChat answered; the hub never wrote it
        const killed = (await world.store.read(tokenKey()))!;
        expect([killed.version, killed.value]).toEqual([before.version, before.value]);
        expect(killed.leaseUntil).toBeGreaterThan(world.clock.now()); // nobody gave the lease back

        world.clock.advance(LEASE_LAPSED_MS);
        const next = world.container({ ...platformEnv(), ...NO_ROSTER }); // the killed container is gone
        expect(await next.tick()).toContainEqual({ app: name(AUTH), kind: 'access_token', outcome: 'refreshed' });
        expect(world.sim.calls(COMPONENT, 'authorizer_token')).toBe(2);
        expect(world.sim.calls(COMPONENT, 'authorizer_list')).toBe(0); // the old refresh token still worked
        expect(await storedRefreshToken()).toBe(old);
        expect(await storedRefreshToken()).toBe(current());
        const res = await next.getToken(authorizerEvent(AUTH, '/access-token', '/access-token', { key: AUTHORIZERS_KEY }));
        expect(res.statusCode).toBe(200);
        expect(world.sim.isValid(json(res).access_token)).toBe(true);
        expect(json(res).access_token).not.toBe(before.value);
      } finally {
        faults.restore();
        await p.close();
      }
    });

    it('with rotation: WeChat rotated the refresh token and the hub lost the answer; the next tick gets 61023, recovers the current refresh token from api_get_authorizer_list and refreshes', async () => {
      const p = await startPlatform(world, { env: NO_ROSTER });
      const faults = storeFaults(storeKind);
      try {
        await world.sim.authorize(COMPONENT, AUTH);
        world.sim.setRotateRefreshTokens(COMPONENT, true);
        const before = await untilRenewal();
        const old = before.state![REFRESH_TOKEN];
        faults.killAtWrite((k) => k.app === name(AUTH));
        await p.hub.tick();
        expect(faults.counts.killed).toBe(1);
        const rotated = current();
        expect(rotated).not.toBe(old); // WeChat holds a refresh token the hub never stored
        expect(await storedRefreshToken()).toBe(old);

        world.clock.advance(LEASE_LAPSED_MS);
        const next = world.container({ ...platformEnv(), ...NO_ROSTER });
        expect(await next.tick()).toContainEqual({ app: name(AUTH), kind: 'access_token', outcome: 'refreshed' });
        // 61023 with the old one, the list, then the call with the listed one (which rotated it again).
        expect(world.sim.calls(COMPONENT, 'authorizer_token')).toBe(3);
        expect(world.sim.calls(COMPONENT, 'authorizer_list')).toBe(1);
        expect(current()).not.toBe(rotated);
        expect(await storedRefreshToken()).toBe(current());
        const item = (await world.store.read(tokenKey()))!;
        expect(item.failures).toBe(0);
        expect(world.sim.isValid(item.value!)).toBe(true);
      } finally {
        faults.restore();
        await p.close();
      }
    });
  });

  it('WeChat busy (-1) on api_query_auth, api_authorizer_token and api_get_authorizer_list is retried by the client: the authorization and the recovery of a rotated refresh token both complete', async () => {
    const p = await startPlatform(world, { env: NO_ROSTER });
    const faults = storeFaults(storeKind);
    try {
      world.sim.failNext({ kind: 'errcode', errcode: -1 }, 1, COMPONENT, ['query_auth']);
      const auth = await world.sim.authorize(COMPONENT, AUTH);
      expect([auth.push.status, auth.push.body]).toEqual([200, 'success']);
      expect(world.sim.calls(COMPONENT, 'query_auth')).toBe(2);
      expect(await storedRefreshToken()).toBe(current());

      world.sim.setRotateRefreshTokens(COMPONENT, true);
      await untilRenewal();
      faults.killAtWrite(isAuthorizer);
      await p.hub.tick(); // WeChat rotated it; the table did not get it
      world.clock.advance(LEASE_LAPSED_MS);
      world.sim.failNext({ kind: 'errcode', errcode: -1 }, 1, COMPONENT, ['authorizer_token']);
      world.sim.failNext({ kind: 'errcode', errcode: -1 }, 1, COMPONENT, ['authorizer_list']);
      expect(await p.hub.tick()).toContainEqual({ app: name(AUTH), kind: 'access_token', outcome: 'refreshed' });
      // The killed call; then -1 and its retry (61023), the list's -1 and its retry, the call with the listed one.
      expect(world.sim.calls(COMPONENT, 'authorizer_token')).toBe(4);
      expect(world.sim.calls(COMPONENT, 'authorizer_list')).toBe(2);
      expect(await storedRefreshToken()).toBe(current());
      expect((await world.store.read(tokenKey()))?.failures).toBe(0);
    } finally {
      faults.restore();
      await p.close();
    }
  });

  it('0 refresh tokens lost over a compressed day with faults: every stored refresh token is WeChat\'s current one, every served token valid, none needs re-authorization', async () => {
    const p = await startPlatform(world, { env: NO_ROSTER });
    const faults = storeFaults(storeKind);
    const accounts = appids(20);
    let outageArmed = false;
    const asked = new Map<string, number>(); // over the whole day (the simulator's calls() count one China day)
    world.sim.onRequest((path) => {
      asked.set(path, (asked.get(path) ?? 0) + 1);
      // The store goes down while WeChat answers api_authorizer_token (and rotates the refresh token).
      if (outageArmed && path === AUTHORIZER_TOKEN_PATH) {
        outageArmed = false;
        faults.outage(true);
      }
    });
    try {
      for (const a of accounts) expect((await world.sim.authorize(COMPONENT, a)).push.status).toBe(200);
      world.sim.setRotateRefreshTokens(COMPONENT, true);
      const hubs = [p.hub, world.container({ ...platformEnv(), ...NO_ROSTER })]; // the tick lands in one container or another
      const rotatedBefore = refreshTokensIssued();
      const armed: Record<number, () => void | Promise<unknown>> = {
        // Each arms a fault for the next matching calls, whenever they come (the next renewal).
        10: () => world.sim.failNext({ kind: 'errcode', errcode: -1 }, 2, COMPONENT, ['authorizer_token']),
        40: () => faults.killAtWrite(isAuthorizer, 3),
        70: () => faults.loseWrite(isAuthorizer, 3),
        100: () => world.sim.failNext({ kind: 'errcode', errcode: 61023 }, 1, COMPONENT, ['authorizer_token']),
        130: () => {
          faults.killAtWrite(isAuthorizer, 1);
          world.sim.failNext({ kind: 'errcode', errcode: -1 }, 1, COMPONENT, ['authorizer_list']);
        },
        160: () => void (outageArmed = true),
        190: () => world.sim.failNext({ kind: 'reset' }, 1, COMPONENT, ['authorizer_token']),
        // A re-authorization (a new refresh token from api_query_auth, which answers -1 once).
        220: async () => {
          world.sim.failNext({ kind: 'errcode', errcode: -1 }, 1, COMPONENT, ['query_auth']);
          expect((await world.sim.authorize(COMPONENT, accounts[7]!)).push.status).toBe(200);
        },
        250: () => world.sim.failNext({ kind: 'hang' }, 1, COMPONENT, ['authorizer_token']),
      };
      const start = world.clock.now();
      const invalid: string[] = [];
      const failedReads: string[] = [];
      const behind = new Set<string>();
      for (let tick = 0; tick < 288; tick++) {
        world.clock.set(start + tick * 5 * MINUTE);
        if (tick % 2 === 0) await world.sim.pushTicket(COMPONENT); // every 10 minutes, as WeChat
        await armed[tick]?.();
        const hit = faults.counts.killed + faults.counts.refused;
        await hubs[tick % 2]!.tick();
        faults.outage(false);
        if (faults.counts.killed + faults.counts.refused > hit) {
          // A tick that died after WeChat rotated: the table is behind WeChat until the next tick.
          const current = world.sim.platformState(COMPONENT).refreshTokens;
          for (const a of accounts) if ((await storedRefreshToken(a)) !== current[a]) behind.add(`${tick}:${a}`);
        }
        if (tick % 12 !== 6) continue; // the services read every authorizer's token every hour
        for (const a of accounts) {
          const got = await serve(hubs[(tick + 1) % 2]!, a);
          if (got.token === undefined) failedReads.push(`${tick}:${a}:${got.status}`);
          else if (!world.sim.isValid(got.token)) invalid.push(`${tick}:${a}`);
        }
      }
      // Every fault was met.
      expect(faults.counts).toMatchObject({ killed: 4, lost: 3 });
      expect(faults.counts.refused).toBeGreaterThan(0);
      expect(behind.size).toBeGreaterThanOrEqual(5); // the kills' and the outage's rotations were lost by the table
      expect(asked.get('/cgi-bin/component/api_get_authorizer_list')).toBeGreaterThanOrEqual(4); // each killed rotation came back through the list
      expect(refreshTokensIssued() - rotatedBefore).toBeGreaterThan(20 * 12); // rotated at every renewal, about 14 a day each

      expect(failedReads).toEqual([]);
      expect(invalid).toEqual([]);
      await expectAllWorking(p.hub, world.store, accounts);
    } finally {
      world.sim.onRequest(undefined);
      faults.restore();
      await p.close();
    }
  }, DAY_TIMEOUT_MS);

  describe.skipIf(storeKind === 'memory')('a table restored from a backup keeps every authorizer working (a point-in-time restore of the DynamoDB table)', () => {
    /** A hub container on the restored table, with its own event URL, as the stack pointed at the restored table. */
    const onRestored = async (tableName: string, roster: Record<string, string> = NO_ROSTER) => {
      const hub = world.container({ ...platformEnv(), ...roster, TABLE_NAME: tableName });
      const server = await listen(createLocalServer(hub));
      world.sim.setEventUrl(COMPONENT, `${server.url}/v1/platforms/${PLATFORM_NAME}/events`);
      const client = new DynamoDBClient({ endpoint: (await sharedDynalite()).endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
      const store: CredentialStore = new DynamoCredentialStore({ client, tableName });
      return { hub, store, close: () => (client.destroy(), server.close()) };
    };

    it('an account that authorized after the backup is found in WeChat\'s list by the roster check on the restored table (within its 6 hours), registered and served', async () => {
      const p = await startPlatform(world);
      try {
        await world.sim.authorize(COMPONENT, 'wx_before_bak');
        await p.hub.tick(); // the roster check ran (nothing to add) and claimed the next 6 hours
        const backup = await backupTable(world.tableName);
        await world.sim.authorize(COMPONENT, 'wx_after_bak'); // only the lost table knew it
        const restored = await onRestored(await restoreTable(backup), {});
        try {
          expect((await world.sim.pushTicket(COMPONENT)).status).toBe(200);
          expect(await restored.store.getPrincipal(name('wx_after_bak'))).toBeUndefined();
          // The backup holds the roster's last claim too: the next check comes when it lapses.
          await restored.hub.tick();
          expect(await restored.store.getPrincipal(name('wx_after_bak'))).toBeUndefined();
          for (let t = 0; t < 6 * 12 + 1; t++) {
            world.clock.advance(5 * 60_000);
            await restored.hub.tick();
          }
          expect(await restored.store.getPrincipal(name('wx_after_bak'))).toMatchObject({ doc: { status: 'authorized' } });
          const got = await serve(restored.hub, 'wx_after_bak');
          expect(got.token !== undefined && world.sim.isValid(got.token)).toBe(true);
          expect((await restored.store.read({ app: name('wx_after_bak'), kind: 'access_token' }))?.state?.[REFRESH_TOKEN]).toBe(world.sim.platformState(COMPONENT).refreshTokens.wx_after_bak);
        } finally {
          await restored.close();
        }
      } finally {
        await p.close();
      }
    }, DAY_TIMEOUT_MS);

    it('without rotation: the backup\'s refresh tokens still work, and every authorizer is served and refreshed', async () => {
      const p = await startPlatform(world, { env: NO_ROSTER });
      const accounts = appids(3);
      try {
        for (const a of accounts) await world.sim.authorize(COMPONENT, a);
        await untilRenewal(accounts[0]);
        await p.hub.tick();
        const backup = await backupTable(world.tableName);
        await untilRenewal(accounts[0]);
        await p.hub.tick(); // life goes on after the backup, then the table is lost
        const restored = await onRestored(await restoreTable(backup));
        try {
          expect((await world.sim.pushTicket(COMPONENT)).status).toBe(200);
          const listed = world.sim.calls(COMPONENT, 'authorizer_list');
          const outcomes = await restored.hub.tick();
          for (const a of accounts) expect(outcomes).toContainEqual({ app: name(a), kind: 'access_token', outcome: 'refreshed' });
          expect(world.sim.calls(COMPONENT, 'authorizer_list')).toBe(listed);
          await expectAllWorking(restored.hub, restored.store, accounts);
        } finally {
          await restored.close();
        }
      } finally {
        await p.close();
      }
    });

    it('with rotation: a backup older than the last rotation recovers every refresh token through api_get_authorizer_list, and every authorizer is served and refreshed', async () => {
      const p = await startPlatform(world, { env: NO_ROSTER });
      const accounts = appids(3);
      try {
        for (const a of accounts) await world.sim.authorize(COMPONENT, a);
        const backup = await backupTable(world.tableName);
        const inBackup = world.sim.platformState(COMPONENT).refreshTokens;
        world.sim.setRotateRefreshTokens(COMPONENT, true);
        await untilRenewal(accounts[0]);
        await p.hub.tick(); // every refresh token rotated after the backup
        for (const a of accounts) expect(world.sim.platformState(COMPONENT).refreshTokens[a]).not.toBe(inBackup[a]);
        const restored = await onRestored(await restoreTable(backup));
        try {
          for (const a of accounts) expect((await restored.store.read({ app: name(a), kind: 'access_token' }))?.state?.[REFRESH_TOKEN]).toBe(inBackup[a]);
          expect((await world.sim.pushTicket(COMPONENT)).status).toBe(200);
          const listed = world.sim.calls(COMPONENT, 'authorizer_list');
          const outcomes = await restored.hub.tick();
          for (const a of accounts) expect(outcomes).toContainEqual({ app: name(a), kind: 'access_token', outcome: 'refreshed' });
          expect(world.sim.calls(COMPONENT, 'authorizer_list') - listed).toBe(accounts.length);
          await expectAllWorking(restored.hub, restored.store, accounts);
        } finally {
          await restored.close();
        }
      } finally {
        await p.close();
      }
    });
  });

  const refreshTokensIssued = () => world.sim.issuedPlatformValues().filter((v) => v.startsWith('refreshtoken@@@')).length;
});

describe.each(TEST_STORES)('on the %s store, with every log line captured', (storeKind: TestStore) => {
  const world = useWorld(() => ({ store: storeKind, logger: new Logger({ serviceName: 'durability', logLevel: 'DEBUG' }) }));
  const AUTH = 'wx_auth_0001';
  const renewal = async () => {
    const item = (await world.store.read({ app: name(AUTH), kind: 'access_token' }))!;
    world.clock.advance(item.expiresAt! - world.clock.now() - 10 * MINUTE);
  };

  it('a refresh token never appears in a log line: an authorization, refreshes, a rotation lost and recovered through the list, a refused one, a re-authorization', async () => {
    const faults = storeFaults(storeKind);
    let outcomes: string[] = [];
    const { lines } = await captureOutput(async () => {
      const p = await startPlatform(world, { env: NO_ROSTER });
      try {
        await world.sim.authorize(COMPONENT, AUTH);
        await renewal();
        outcomes.push(...(await p.hub.tick()).map((o) => `${o.app}:${o.outcome}`));
        world.sim.setRotateRefreshTokens(COMPONENT, true);
        await renewal();
        faults.killAtWrite(isAuthorizer); // WeChat rotated it, the hub lost the answer
        await p.hub.tick();
        world.clock.advance(LEASE_LAPSED_MS);
        outcomes.push(...(await p.hub.tick()).map((o) => `${o.app}:${o.outcome}`)); // 61023, the list, the refresh
        await renewal();
        world.sim.failNext({ kind: 'errcode', errcode: 61023 }, 2, COMPONENT, ['authorizer_token']); // refused, the list has no other, refused again
        outcomes.push(...(await p.hub.tick()).map((o) => `${o.app}:${o.outcome}`));
        await world.sim.authorize(COMPONENT, AUTH); // updateauthorized: a new refresh token
      } finally {
        faults.restore();
        await p.close();
      }
    });
    outcomes = outcomes.filter((o) => o.startsWith(name(AUTH)));
    expect(outcomes).toEqual([`${name(AUTH)}:refreshed`, `${name(AUTH)}:refreshed`, `${name(AUTH)}:failed`]);
    const logged = lines.join('');
    expect(logged).toContain('an account authorized the platform');
    expect(logged).toContain('access_token refreshed');
    expect(logged).toContain('access_token refresh failed');
    const refreshTokens = world.sim.issuedPlatformValues().filter((v) => v.startsWith('refreshtoken@@@'));
    expect(refreshTokens).toHaveLength(4); // authorized, rotated by the killed tick, by the recovery, re-authorized
    expect(refreshTokens).toContain(world.sim.platformState(COMPONENT).refreshTokens[AUTH]);
    const forbidden = [...refreshTokens, ...world.sim.issuedPlatformValues(), ...world.sim.issuedTokens()];
    for (const f of forbidden) expect(logged).not.toContain(f);
    // Nor any part of one long enough to matter (a log line that cut it would still leak it).
    for (const f of refreshTokens) expect(logged).not.toContain(f.slice('refreshtoken@@@'.length, 'refreshtoken@@@'.length + 16));
  });
});
