import type { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { describe, expect, it, vi } from 'vitest';
import { quotaDay, quotaHour } from '../../lib/quota/periods.js';
import { MINUTE } from '../support/manual-clock.js';
import { useWorld } from '../support/use-world.js';
import { APPS, CRM, httpEvent, json, READ_KEY, REFRESH_KEY, storePrototype, TEST_STORES, ticketEvent } from '../support/world.js';

/**
 * What a review of the reworked protocol found (the dependency step, budgets and counts), each named
 * by what must happen; the issue's own fault cases are in protocol-faults.test.ts.
 */
const OA = 'wx_oa_0001';
describe.each(TEST_STORES)('on the %s store', (storeKind) => {
  const world = useWorld(() => ({ store: storeKind }));

  const read = (hub: ReturnType<typeof world.container>, app = 'oa') => hub.getToken(httpEvent({ key: READ_KEY, app }));
  const force = (hub: ReturnType<typeof world.container>, stale: string, app = 'oa') =>
    hub.forceRefresh(httpEvent({ key: REFRESH_KEY, app, body: { stale_token: stale } }));
  const tokenKey = { app: 'oa', kind: 'access_token' };

  describe('a ticket whose token WeChat rejected (review of the dependency step)', () => {
    const jsapi = (hub: ReturnType<typeof world.container>) => hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY }));

    it('four containers each holding the dead token read the ticket: the holder keeps its lease while it heals the token, one ticket is issued, all four get it', async () => {
      const hubs = Array.from({ length: 4 }, () => world.container());
      for (const hub of hubs) await read(hub); // each caches the token
      world.sim.revokeTokens(OA);
      const answers = await Promise.all(hubs.map(jsapi));
      expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 200]);
      expect(new Set(answers.map((a) => json(a).ticket))).toEqual(new Set([world.sim.currentTicket(OA, 'jsapi')]));
      expect(world.sim.issuedTickets().length).toBe(1);
      expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(2); // one refused with the dead token, one issued
    });

    it('rejected again after the token was healed, the failure is recorded and the lease given back (with a backoff)', async () => {
      const hub = world.container();
      await read(hub);
      world.sim.revokeTokens(OA);
      world.sim.failNext({ kind: 'errcode', errcode: 40001 }, 2, OA, ['ticket_jsapi']);
      expect((await jsapi(hub)).statusCode).toBeGreaterThanOrEqual(500);
      const item = await world.store.read({ app: 'oa', kind: 'jsapi_ticket' });
      expect(item?.leaseOwner).toBeUndefined();
      expect(item?.lastError?.code).toBe('access_token_rejected');
      expect(item?.lastError?.message).toMatch(/errcode 40001/);
      expect(item?.backoffUntil).toBeGreaterThan(world.clock.now());
    });

    it('when WeChat still accepts the token but the ticket call is refused 40001, reads back off: no ticket call per read', async () => {
      const hub = world.container();
      await read(hub);
      world.sim.failNext({ kind: 'errcode', errcode: 40001 }, 1000, OA, ['ticket_jsapi']);
      for (let i = 0; i < 5; i++) {
        await jsapi(hub);
        world.clock.advance(2_000);
      }
      expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(2); // at 0 s, then after the first 5 s backoff (the second one is 10 s)
    });

    it('a ticket read that first waited for its token takes the ticket\'s lease and deadline from then', async () => {
      const moving = { now: () => world.clock.now(), sleep: async (ms: number) => { world.clock.advance(ms); await new Promise((r) => setImmediate(r)); } };
      const hub = world.container({}, { clock: moving });
      // A container took the token's lease and died: the read waits the lease (and the skew) out, then fetches.
      expect(await world.store.acquireLease(tokenKey, { owner: 'dead-container', seenVersion: 0, now: world.clock.now(), leaseMs: 15_000 })).toBe(true);
      const res = await jsapi(hub);
      expect(res.statusCode, res.body).toBe(200);
      expect(json(res).ticket).toBe(world.sim.currentTicket(OA, 'jsapi'));
    });
  });

  describe('budgets and counts (review)', () => {
    it('rotations WeChat confirmed do not spend the day\'s unverified budget: after 11 of them, a report during a probe outage still rotates', async () => {
      const hub = world.container();
      let token = json(await read(hub)).access_token;
      for (let i = 0; i < 11; i++) {
        world.sim.revokeTokens(OA);
        token = json(await force(hub, token)).access_token;
      }
      world.sim.failNext({ kind: 'errcode', errcode: -1 }, 1000, OA, ['getcallbackip']);
      world.clock.advance(61_000);
      const res = await force(hub, token);
      expect(res.statusCode, res.body).toBe(200);
      expect(json(res).refreshed).toBe(true);
    });

    it('a retry does not pass WeCom\'s hourly ticket limit: at 99 of 100, a -1 is not retried', async () => {
      const hub = world.container();
      const hour = quotaHour(world.clock.now());
      for (let i = 0; i < 99; i++) await world.store.countUpstreamCall({ app: 'crm', api: 'wecom_ticket', period: hour, ttl: 0 });
      world.sim.failNext({ kind: 'errcode', errcode: -1 }, 5, CRM, ['wecom_jsapi_ticket']);
      await hub.tickets(ticketEvent({ app: 'crm', type: 'jsapi', key: READ_KEY }));
      expect(world.sim.calls(CRM, 'wecom_jsapi_ticket')).toBe(1);
      expect((await world.store.readQuota('crm', 'wecom_ticket', hour)).count).toBe(100);
    });

    it('a secret that cannot be read costs no quota: the call counted for it was never made', async () => {
      // SSM is throttling: the secret cannot be read.
      const ssm = { get: async () => { throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }); } } as unknown as SSMProvider;
      const hub = world.container({ HUB_APPS: JSON.stringify(SSM_SECRET_APP) }, { ssm });
      expect((await read(hub)).statusCode).toBeGreaterThanOrEqual(500);
      expect((await world.store.readQuota('oa', 'token', quotaDay(world.clock.now()))).count).toBe(0);
      expect(world.sim.calls(OA)).toBe(0);
    });

    it('a tick that lost the lease to a forced refresh whose probe said "valid" still replaces the due token', async () => {
      const a = world.container();
      const b = world.container();
      const token = json(await read(a)).access_token;
      world.clock.advance(101 * MINUTE); // due
      let tick: ReturnType<typeof b.tick> | undefined;
      const reads = vi.spyOn(storePrototype(storeKind), 'read');
      world.sim.onRequest(async (path) => {
        if (path !== '/cgi-bin/getcallbackip' || tick) return;
        const seen = reads.mock.calls.length;
        tick = b.tick(); // arrives while the forced refresh holds the lease for its probe
        for (let i = 0; i < 10_000 && reads.mock.calls.length < seen + 2; i++) await new Promise((r) => setImmediate(r));
      });
      expect(json(await force(a, token)).refreshed).toBe(false); // WeChat still accepts it
      const outcomes = await tick!;
      world.sim.onRequest(undefined);
      vi.restoreAllMocks();
      expect(outcomes).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'refreshed' });
    });
  });

  const SSM_SECRET_APP = APPS.map((a) => (a.name === 'oa' ? { ...a, secret: { ssm: '/wechat-token-hub/test/oa' } } : a));
});
