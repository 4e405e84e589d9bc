import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it, vi } from 'vitest';
import type { CredentialStore } from '../../lib/store/store.js';
import { quotaDay, quotaHour } from '../../lib/quota/periods.js';
import { captureOutput } from '../support/capture.js';
import { flakyDynamo, isValueWrite } from '../support/flaky-dynamo.js';
import { MINUTE } from '../support/manual-clock.js';
import { useWorld } from '../support/use-world.js';
import { CRM, httpEvent, json, READ_KEY, REFRESH_KEY, storePrototype, TEST_STORES, ticketEvent } from '../support/world.js';

/**
 * The refresh protocol's fault cases a review demonstrated (slow WeChat, lost DynamoDB answers,
 * skewed clocks, a failing probe), each named by what must happen.
 */
const OA = 'wx_oa_0001';
const MP = 'wx_mp_0002';
describe.each(TEST_STORES)('on the %s store', (storeKind) => {
  const world = useWorld(() => ({ store: storeKind }));
  /** The cases that fail or lose DynamoDB's requests (test/support/flaky-dynamo.ts): the wire only DynamoDB has. */
  const needsWire = storeKind === 'memory';

  const read = (hub: ReturnType<typeof world.container>, app = 'oa') => hub.getToken(httpEvent({ key: READ_KEY, app }));
  const force = (hub: ReturnType<typeof world.container>, stale: string, app = 'oa') =>
    hub.forceRefresh(httpEvent({ key: REFRESH_KEY, app, body: { stale_token: stale } }));
  const tokenKey = { app: 'oa', kind: 'access_token' };

  describe('a lease is never outlived (2a)', () => {
    it('a ticket whose token WeChat rejected is fetched with every write inside its (renewed) lease, issued once and stored as the latest', async () => {
      const hub = world.container();
      await read(hub); // the hub's token; then someone outside fetches one, and WeChat kills the hub's
      world.sim.revokeTokens(OA);
      // Slow WeChat, every call inside its deadline: under the old flow the ticket's lease (15 s) had to
      // cover a ticket call (4 s), the token's probe (3 s) and fetch (5 s) and a second ticket call (4 s).
      const delays: Record<string, number> = { '/cgi-bin/ticket/getticket': 4_000, '/cgi-bin/getcallbackip': 3_000, '/cgi-bin/token': 5_000 };
      world.sim.onRequest((path) => world.clock.advance(delays[path] ?? 0));
      const leases = new Map<string, number>();
      const late: string[] = [];
      const realAcquire = storePrototype(storeKind).acquireLease;
      const realWrite = storePrototype(storeKind).writeToken;
      vi.spyOn(storePrototype(storeKind), 'acquireLease').mockImplementation(async function (this: CredentialStore, key, req) {
        const got = await realAcquire.call(this, key, req);
        if (got) leases.set(req.owner, req.now + req.leaseMs);
        return got;
      });
      const realRenew = storePrototype(storeKind).renewLease;
      vi.spyOn(storePrototype(storeKind), 'renewLease').mockImplementation(async function (this: CredentialStore, key, owner, until) {
        const renewed = await realRenew.call(this, key, owner, until);
        if (renewed) leases.set(owner, until);
        return renewed;
      });
      vi.spyOn(storePrototype(storeKind), 'writeToken').mockImplementation(async function (this: CredentialStore, key, write) {
        if (world.clock.now() > (leases.get(write.owner) ?? -Infinity)) late.push(`${key.kind} written ${world.clock.now() - leases.get(write.owner)!} ms after its lease ended`);
        return realWrite.call(this, key, write);
      });
      const issuedBefore = world.sim.issuedTickets().length;
      try {
        const res = await hub.tickets(ticketEvent({ app: 'oa', type: 'wx_card', key: READ_KEY }));
        expect(res.statusCode, res.body).toBe(200);
        expect(late).toEqual([]);
        expect(world.sim.issuedTickets().length - issuedBefore).toBe(1);
        const latest = world.sim.currentTicket(OA, 'wx_card');
        expect(json(res).ticket).toBe(latest);
        expect((await world.store.read({ app: 'oa', kind: 'wx_card_ticket' }))?.value).toBe(latest);
      } finally {
        vi.restoreAllMocks();
        world.sim.onRequest(undefined);
      }
    });
  });

  describe('the ledger counts exactly what WeChat receives (2b, 4f)', () => {
    it('a WeCom app whose token WeChat refuses (60020) spends no ticket quota, and its tickets are not asked for again during the backoff', async () => {
      const hub = world.container();
      world.sim.failNext({ kind: 'errcode', errcode: 60020 }, 1000, CRM, ['wecom_gettoken']);
      const answers = await Promise.all(Array.from({ length: 100 }, () => hub.tickets(ticketEvent({ app: 'crm', type: 'jsapi', key: READ_KEY }))));
      expect(answers.every((r) => (r.statusCode ?? 0) >= 500)).toBe(true);
      const hour = quotaHour(world.clock.now());
      expect((await world.store.readQuota('crm', 'wecom_ticket', hour)).count).toBe(0);
      expect((await world.store.readQuota(`corp:ww_corp_0001`, 'wecom_ticket', hour)).count).toBe(0);
      expect(world.sim.calls(CRM, 'wecom_jsapi_ticket')).toBe(0);
      expect(world.sim.calls(CRM, 'wecom_gettoken')).toBe(1); // the token's configuration backoff holds every read back

      world.sim.clearFaults(); // the whitelist is fixed
      world.clock.advance(61_000);
      const ok = await hub.tickets(ticketEvent({ app: 'crm', type: 'jsapi', key: READ_KEY }));
      expect(ok.statusCode).toBe(200);
      expect((await world.store.readQuota('crm', 'wecom_ticket', quotaHour(world.clock.now()))).count).toBe(world.sim.calls(CRM, 'wecom_jsapi_ticket'));
    });

    it('20 reads of a ticket WeChat answers -1 make one attempt sequence, counted as WeChat counts it', async () => {
      const hub = world.container();
      await read(hub);
      world.sim.failNext({ kind: 'errcode', errcode: -1 }, 1000, OA, ['ticket_jsapi']);
      for (let i = 0; i < 20; i++) {
        expect((await hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY }))).statusCode).toBe(503);
      }
      const calls = world.sim.calls(OA, 'ticket_jsapi');
      expect(calls).toBeLessThanOrEqual(4); // one sequence: the client's attempts within one deadline
      expect((await world.store.readQuota('oa', 'ticket_jsapi', quotaDay(world.clock.now()))).count).toBe(calls);
      const item = await world.store.read({ app: 'oa', kind: 'jsapi_ticket' });
      expect(item?.backoffUntil).toBeGreaterThan(world.clock.now());
    });
  });

  describe('a write that fails after WeChat answered (2c)', () => {
    it.skipIf(needsWire)('is tried again with the same fence: one fetch, the value stored and served', async () => {
      const flaky = await flakyDynamo();
      const hub = world.container({}, { dynamodb: flaky.client });
      let left = 2;
      flaky.failWhen((command, input) => isValueWrite(command, input) && left-- > 0);
      const res = await read(hub);
      expect(res.statusCode).toBe(200);
      expect(flaky.failed()).toBe(2);
      expect(world.sim.calls(OA)).toBe(1);
      expect(json(res).access_token).toBe(world.sim.currentToken(OA));
      expect((await world.store.read(tokenKey))?.value).toBe(world.sim.currentToken(OA));
      flaky.client.destroy();
    });

    it.skipIf(needsWire)('whose answer was lost after it was applied counts as written: one fetch, no lease lost, the value served', async () => {
      const flaky = await flakyDynamo();
      const logger = new Logger({ serviceName: 'test', logLevel: 'WARN' });
      const hub = world.container({}, { dynamodb: flaky.client, logger });
      let left = 1;
      flaky.loseAnswersWhen((command, input) => isValueWrite(command, input) && left-- > 0);
      const { text } = await captureOutput(async () => {
        const res = await read(hub);
        expect(res.statusCode).toBe(200);
        expect(json(res).access_token).toBe(world.sim.currentToken(OA));
      });
      expect(text).not.toContain('lease lost');
      expect(world.sim.calls(OA)).toBe(1);
      expect((await world.store.read(tokenKey))?.version).toBe(1);
      flaky.client.destroy();
    });

    it.skipIf(needsWire)('that keeps failing is recorded and the lease given back: waiters report it instead of fetching again', async () => {
      const flaky = await flakyDynamo();
      const hub = world.container({}, { dynamodb: flaky.client });
      flaky.failWhen(isValueWrite);
      expect((await read(hub)).statusCode).toBe(503);
      const item = await world.store.read(tokenKey);
      expect(item?.leaseOwner).toBeUndefined();
      // Recorded in the status view's words: the hub's error code and a reason, never a class name.
      expect(item?.lastError).toMatchObject({ code: 'store_unavailable', message: expect.stringMatching(/^the credential store \(DynamoDB\) failed/) });
      // Another container asking right after does not fetch a second token for the same need.
      expect((await read(world.container())).statusCode).toBe(503);
      expect(world.sim.calls(OA)).toBe(1);
      flaky.client.destroy();
    });
  });

  describe('clock skew (2e)', () => {
    it('with 5 s of skew between containers, a slow fetch is still one fetch and every container gets its token', async () => {
      const a = world.container();
      const ahead = { now: () => world.clock.now() + 5_000, sleep: (ms: number) => world.clock.sleep(ms) };
      const b = world.container({}, { clock: ahead });
      // A's token call takes 12 s on the hub's clock; B arrives while WeChat still has it, with its clock
      // 5 s ahead, so A's 15 s lease reads to B as lapsed 2 s ago. WeChat answers A once B has looked twice.
      const reads = vi.spyOn(storePrototype(storeKind), 'read');
      let rb: ReturnType<typeof read> | undefined;
      world.sim.onRequest(async (path) => {
        if (path !== '/cgi-bin/token' || rb) return;
        world.clock.advance(12_000);
        const seen = reads.mock.calls.length;
        rb = read(b);
        for (let i = 0; i < 10_000 && reads.mock.calls.length < seen + 2; i++) await new Promise((r) => setImmediate(r));
      });
      const ra = await read(a);
      await rb;
      world.sim.onRequest(undefined);
      vi.restoreAllMocks();
      expect(world.sim.calls(OA)).toBe(1);
      expect(json(ra).access_token).toBe(world.sim.currentToken(OA));
      expect(json((await rb)!).access_token).toBe(world.sim.currentToken(OA));
    });
  });

  describe('stale-if-error (2f)', () => {
    it.skipIf(needsWire)('does not serve a token of a replaced AppSecret while the store is down', async () => {
      const flaky = await flakyDynamo();
      const hub = world.container({}, { dynamodb: flaky.client });
      expect((await read(hub)).statusCode).toBe(200);
      world.setSecret('SECRET_OA', 'reset-secret-0000000000000000');
      world.sim.setSecret(OA, 'reset-secret-0000000000000000');
      world.clock.advance(61 * MINUTE);
      flaky.failWhen(() => true);
      expect((await read(hub)).statusCode).toBe(503);
      flaky.client.destroy();
    });

    it.skipIf(needsWire)('a reported value is served neither from the cache nor stale-if-error', async () => {
      const flaky = await flakyDynamo();
      const hub = world.container({}, { dynamodb: flaky.client });
      const token = json(await read(hub)).access_token;
      flaky.failWhen(() => true);
      expect((await force(hub, token)).statusCode).toBe(503); // cannot be refreshed now…
      const after = await read(hub);
      expect(after.statusCode).toBe(503); // …and is not handed out again
      expect(after.body).not.toContain(token);
      flaky.client.destroy();
    });
  });

  describe('forced refreshes (2g, 2h, 2i, 4b, 4e)', () => {
    it('a made-up stale token when nothing servable is stored is a plain fetch: no stable_token force spent', async () => {
      const hub = world.container();
      await read(hub, 'mp');
      world.clock.advance(7201_000); // the stored token has expired
      const res = await force(hub, 'made_up_token_0000000000000', 'mp');
      expect(res.statusCode).toBe(200);
      expect(world.sim.calls(MP, 'stable_token_force')).toBe(0);
      expect(world.sim.calls(MP, 'stable_token')).toBe(2);
    });

    it('a rotation caused by rejection keeps no previous value (it is remembered only as replaced)', async () => {
      const hub = world.container();
      const old = json(await read(hub)).access_token;
      world.sim.revokeTokens(OA);
      expect(json(await force(hub, old)).refreshed).toBe(true);
      const item = await world.store.read(tokenKey);
      expect(item?.previousValue).toBeUndefined();
      expect(item?.replacedValue).toBe(old);
      expect(await hub.refresher.identify('oa', old)).toBe('replaced');
    });

    it('a 40001 the hub saw with its own token is probed again within PROBE_TTL, and the ticket is fetched with the new token', async () => {
      const hub = world.container();
      const token = json(await read(hub)).access_token;
      expect(json(await force(hub, token)).refreshed).toBe(false); // WeChat said valid: PROBE_TTL (10 s) starts
      world.sim.revokeTokens(OA);
      world.clock.advance(2_000);
      const ticket = await hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY }));
      expect(ticket.statusCode).toBe(200);
      expect(json(ticket).ticket).toBe(world.sim.currentTicket(OA, 'jsapi'));
      expect(world.sim.calls(OA)).toBe(2);
    });

    it('a Mini Program\'s valid token is probed (get_api_domain_ip), not rotated, however often it is reported', async () => {
      const hub = world.container();
      const token = json(await read(hub, 'mp')).access_token;
      const answers = await Promise.all(Array.from({ length: 5 }, () => force(hub, token, 'mp')));
      for (const r of answers) expect(json(r)).toMatchObject({ refreshed: false, changed: false });
      expect(world.sim.calls(MP, 'stable_token') + world.sim.calls(MP, 'stable_token_force')).toBe(1);
      expect(world.sim.calls(MP, 'get_api_domain_ip')).toBe(1);
    });

    it('with the probe failing, a report rotates a token at most once and not within a minute of its fetch', async () => {
      const hub = world.container();
      const token = json(await read(hub)).access_token;
      world.sim.failNext({ kind: 'errcode', errcode: -1 }, 1000, OA, ['getcallbackip']);
      const young = await force(hub, token);
      expect(young.statusCode).toBe(429);
      expect(Number(young.headers?.['retry-after'])).toBeGreaterThan(0);
      world.clock.advance(61_000);
      const rotated = json(await force(hub, token));
      expect(rotated.refreshed).toBe(true);
      expect((await force(hub, rotated.access_token)).statusCode).toBe(429); // the new one is young
      expect(world.sim.calls(OA)).toBe(2);
    });

    it('unverified rotations (no probe, or a probe that cannot answer) stop at a small daily budget', async () => {
      const hub = world.container();
      let ticket = json(await hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY }))).ticket;
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) {
        world.clock.advance(61_000);
        const r = await hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: REFRESH_KEY, refresh: ticket }));
        statuses.push(r.statusCode ?? 0);
        if (r.statusCode === 200) ticket = json(r).ticket;
      }
      expect(statuses.filter((s) => s === 200)).toHaveLength(10);
      expect(statuses.slice(10)).toEqual([429, 429]);
      expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(11);
    });
  });
});
