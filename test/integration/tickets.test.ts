import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsapiSignature } from '../../lib/jssdk.js';
import { quotaHour } from '../../lib/quota/periods.js';
import { MINUTE } from '../support/manual-clock.js';
import { CRM, httpEvent, json, READ_KEY, REFRESH_KEY, TEST_STORES, ticketEvent } from '../support/world.js';
import { useWorld } from '../support/use-world.js';

const OA = 'wx_oa_0001';

describe.each(TEST_STORES)('on the %s store', (storeKind) => {
  const world = useWorld(() => ({ store: storeKind }));

  describe('Official Account tickets', () => {
    it('are fetched lazily with the hub\'s token, then served from the store', async () => {
      const hub = world.container();
      const res = await hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY }));
      expect(res.statusCode).toBe(200);
      expect(res.headers?.['cache-control']).toBe('no-store');
      const body = json(res);
      expect(body.ticket).toBe(world.sim.currentTicket(OA, 'jsapi'));
      expect(body.expires_in).toBe(7200 - 1200); // until the hub replaces it

      expect(new Date(body.expires_at).getTime()).toBe(world.clock.now() + 7200_000);
      expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(1);
      expect(world.sim.calls(OA, 'token')).toBe(1); // the ticket needed a token: one fetch, through the hub

      world.clock.advance(10 * MINUTE);
      const again = json(await world.container().tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY })));
      expect(again.ticket).toBe(body.ticket);
      expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(1);
      // The card ticket is a kind of its own.
      const card = json(await hub.tickets(ticketEvent({ app: 'oa', type: 'wx_card', key: READ_KEY })));
      expect(card.ticket).toBe(world.sim.currentTicket(OA, 'wx_card'));
      expect(card.ticket).not.toBe(body.ticket);
    });

    it('the tick refreshes a ticket after its token, at ~100 minutes, and leaves unused tickets alone', async () => {
      const hub = world.container();
      const first = await hub.tick();
      expect(first).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'refreshed' });
      // A ticket nobody asked for is not in the due index: the tick does not even look at it.
      expect(first.filter((o) => o.kind !== 'access_token')).toEqual([]);
      expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(0);

      await hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY }));
      world.clock.advance(95 * MINUTE);
      expect(await hub.tick()).not.toContainEqual({ app: 'oa', kind: 'jsapi_ticket', outcome: 'refreshed' });
      expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(1);

      world.clock.advance(5 * MINUTE);
      const old = world.sim.currentTicket(OA, 'jsapi')!;
      const outcomes = await hub.tick();
      const oa = outcomes.filter((o) => o.app === 'oa').map((o) => `${o.kind}:${o.outcome}`);
      expect(oa).toEqual(['access_token:refreshed', 'jsapi_ticket:refreshed']); // the card ticket, never asked for, is not looked at
      expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(2);
      const served = json(await world.container().tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY })));
      expect(served.ticket).toBe(world.sim.currentTicket(OA, 'jsapi'));
      expect(served.ticket).not.toBe(old);
      expect(world.sim.isTicketValid(old)).toBe(true); // the overlap
    });

    it('an app can ask the tick to keep a ticket fresh from the start', async () => {
      const apps = JSON.parse(JSON.stringify((await import('../support/world.js')).APPS));
      apps[0].tickets = ['jsapi'];
      const outcomes = await world.container({ HUB_APPS: JSON.stringify(apps) }).tick();
      expect(outcomes).toContainEqual({ app: 'oa', kind: 'jsapi_ticket', outcome: 'refreshed' });
      expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(1);
    });

    it('a ticket fetch that meets 40001 refreshes the token once, then gets the ticket', async () => {
      const hub = world.container();
      const token = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token;
      world.sim.revokeTokens(OA); // someone else fetched with the secret: the hub's token is dead
      world.clock.advance(11_000);
      const res = await world.container().tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY }));
      expect(res.statusCode).toBe(200);
      expect(json(res).ticket).toBe(world.sim.currentTicket(OA, 'jsapi'));
      expect(world.sim.calls(OA, 'token')).toBe(2); // exactly one token refresh
      expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(2); // the rejected fetch and the retry
      const now = json(await world.container().getToken(httpEvent({ key: READ_KEY }))).access_token;
      expect(now).not.toBe(token);
      expect(now).toBe(world.sim.currentToken(OA));
    });

    it('100 concurrent forced refreshes of the same ticket over 5 containers cost one ticket fetch', async () => {
      const containers = Array.from({ length: 5 }, () => world.container());
      const stale = json(await containers[0]!.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY }))).ticket;
      expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(1);
      world.clock.advance(61_000); // WeChat cannot be asked about a ticket: a report rotates one at least a minute old
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, i) => containers[i % 5]!.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: REFRESH_KEY, refresh: stale }))),
      );
      expect(answers.map((a) => a.statusCode)).toEqual(Array(100).fill(200));
      expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(2);
      const fresh = world.sim.currentTicket(OA, 'jsapi');
      expect(new Set(answers.map((a) => json(a).ticket))).toEqual(new Set([fresh]));
      expect(answers.every((a) => json(a).refreshed === true)).toBe(true);
      // A stale ticket that was already replaced costs nothing.
      const late = json(await world.container().tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: REFRESH_KEY, refresh: stale })));
      expect(late.ticket).toBe(fresh);
      expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(2);
    });

    it('a failed ticket fetch keeps the ticket we have, and stops neither the token nor another app', async () => {
      const hub = world.container();
      const ticket = json(await hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY }))).ticket;
      world.clock.advance(101 * MINUTE);
      world.sim.failNext({ kind: 'errcode', errcode: 48001 }, 1, OA, ['ticket_jsapi']);
      const outcomes = await hub.tick();
      expect(outcomes).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'refreshed' });
      expect(outcomes).toContainEqual({ app: 'oa', kind: 'jsapi_ticket', outcome: 'failed', code: 'configuration:48001' });
      expect(outcomes).toContainEqual({ app: 'other', kind: 'access_token', outcome: 'refreshed' });
      const served = json(await world.container().tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY })));
      expect(served.ticket).toBe(ticket);
      const item = await world.store.read({ app: 'oa', kind: 'jsapi_ticket' });
      expect(item?.failures).toBe(1);
      expect(item?.lastError?.code).toBe('configuration:48001');
    });
  });

  describe('routes', () => {
    it('refuse what an app does not have with a clear 404, and check scopes as the token routes do', async () => {
      const hub = world.container();
      const agentOnOa = await hub.tickets(ticketEvent({ app: 'oa', type: 'agent_config', key: READ_KEY }));
      expect(agentOnOa.statusCode).toBe(404);
      expect(json(agentOnOa).error.code).toBe('unknown_credential');
      expect(json(agentOnOa).error.message).toContain('jsapi and wx_card');
      const mp = await hub.tickets(ticketEvent({ app: 'mp', type: 'jsapi', key: READ_KEY }));
      expect(mp.statusCode).toBe(404);
      const mpSig = await hub.tickets(ticketEvent({ app: 'mp', key: READ_KEY, url: 'https://a.example/' }));
      expect(mpSig.statusCode).toBe(404);
      const unknown = await hub.tickets(ticketEvent({ app: 'oa', type: 'nope', key: READ_KEY }));
      expect(json(unknown).error.code).toBe('unknown_ticket_type');
      expect((await hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi' }))).statusCode).toBe(401);
      expect((await hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY, refresh: 'x' }))).statusCode).toBe(403);
      expect((await hub.tickets(ticketEvent({ app: 'other', type: 'jsapi', key: READ_KEY }))).statusCode).toBe(403);
      const badBody = await hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: REFRESH_KEY, body: { stale_token: 'x' } }));
      expect(badBody.statusCode).toBe(400);
      expect(json(badBody).error.message).toBe('the body may only contain "stale_ticket"');
      expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(0);
    });

    it('sign a page for wx.config with the served jsapi ticket, the fragment dropped', async () => {
      const hub = world.container();
      const url = 'https://shop.example/pay?order=42&x=%E4%B8%AD#/step/2';
      const res = await hub.tickets(ticketEvent({ app: 'oa', key: READ_KEY, url }));
      expect(res.statusCode).toBe(200);
      const sig = json(res);
      expect(Object.keys(sig).sort()).toEqual(['appId', 'nonceStr', 'signature', 'timestamp']);
      expect(sig.appId).toBe(OA);
      expect(sig.timestamp).toBe(Math.floor(world.clock.now() / 1000));
      const ticket = world.sim.currentTicket(OA, 'jsapi')!;
      expect(sig.signature).toBe(jsapiSignature({ ticket, nonceStr: sig.nonceStr, timestamp: sig.timestamp, url: 'https://shop.example/pay?order=42&x=%E4%B8%AD' }));
    });

    it('refuse a URL that is not absolute http(s) or is over 2 KB', async () => {
      const hub = world.container();
      for (const url of ['/relative', 'ftp://a.example/', 'javascript:alert(1)', 'https://a.example/\n', `https://a.example/${'a'.repeat(2048)}`, 42, '']) {
        const res = await hub.tickets(ticketEvent({ app: 'oa', key: READ_KEY, url }));
        expect(res.statusCode, String(url)).toBe(400);
        expect(json(res).error.code).toBe('invalid_body');
      }
      const ok = await hub.tickets(ticketEvent({ app: 'oa', key: READ_KEY, url: `https://a.example/${'a'.repeat(2000)}` }));
      expect(ok.statusCode).toBe(200);
    });

    it('hostile URLs and bodies on the signature route never give a 5xx, a stack or a secret', async () => {
      const hub = world.container();
      await hub.tickets(ticketEvent({ app: 'oa', key: READ_KEY, url: 'https://warm.example/' })); // tickets in place
      const secrets = Object.values(world.secrets);
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.record({ url: fc.oneof(fc.webUrl({ withFragments: true, withQueryParameters: true }), fc.string({ maxLength: 3000 }), fc.string({ unit: 'grapheme', maxLength: 200 })) }),
            fc.record({ url: fc.anything() }),
            fc.anything(),
            fc.dictionary(fc.string(), fc.jsonValue()),
            fc.string({ maxLength: 5000 }),
          ),
          async (body) => {
            const res = await hub.tickets(ticketEvent({ app: 'oa', key: READ_KEY, body: typeof body === 'string' ? body : JSON.stringify(body) ?? 'null' }));
            expect(res.statusCode).toBeLessThan(500);
            expect([200, 400, 413]).toContain(res.statusCode);
            for (const s of secrets) expect(res.body).not.toContain(s);
            expect(res.body).not.toMatch(/at .*\.(ts|js):\d+/);
            if (res.statusCode === 200) expect(Object.keys(json(res)).sort()).toEqual(['appId', 'nonceStr', 'signature', 'timestamp']);
          },
        ),
        { numRuns: 300 },
      );
      expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(1);
    });
  });

  describe('WeCom', () => {
    it('an app end to end: token, corp and app tickets, and a signature with agentConfig', async () => {
      const hub = world.container();
      const token = json(await hub.getToken(httpEvent({ key: READ_KEY, app: 'crm' })));
      expect(token.access_token).toBe(world.sim.currentToken(CRM));
      expect(world.sim.calls(CRM, 'wecom_gettoken')).toBe(1);
      const corp = json(await hub.tickets(ticketEvent({ app: 'crm', type: 'jsapi', key: READ_KEY })));
      expect(corp.ticket).toBe(world.sim.currentTicket(CRM, 'jsapi'));
      const agent = json(await hub.tickets(ticketEvent({ app: 'crm', type: 'agent_config', key: READ_KEY })));
      expect(agent.ticket).toBe(world.sim.currentTicket(CRM, 'agent_config'));
      expect((await hub.tickets(ticketEvent({ app: 'crm', type: 'wx_card', key: READ_KEY }))).statusCode).toBe(404);

      const url = 'https://crm.example/customer/7?from=menu#top';
      const sig = json(await world.container().tickets(ticketEvent({ app: 'crm', key: READ_KEY, url })));
      expect(sig.appId).toBe('ww_corp_0001');
      const page = 'https://crm.example/customer/7?from=menu';
      expect(sig.signature).toBe(jsapiSignature({ ticket: corp.ticket, nonceStr: sig.nonceStr, timestamp: sig.timestamp, url: page }));
      expect(sig.agentConfig).toEqual({
        corpid: 'ww_corp_0001',
        agentid: 1000002,
        timestamp: sig.agentConfig.timestamp,
        nonceStr: sig.agentConfig.nonceStr,
        signature: jsapiSignature({ ticket: agent.ticket, nonceStr: sig.agentConfig.nonceStr, timestamp: sig.agentConfig.timestamp, url: page }),
      });
      expect(world.sim.calls(CRM, 'wecom_gettoken')).toBe(1);
      expect(world.sim.calls(CRM, 'wecom_jsapi_ticket')).toBe(1);
      expect(world.sim.calls(CRM, 'wecom_agent_config')).toBe(1);
    });

    it('gettoken errors are WeCom\'s: 60020 is a whitelist (configuration) error, -1 is retried', async () => {
      world.sim.failNext({ kind: 'errcode', errcode: 60020 }, 1, CRM, ['wecom_gettoken']);
      const res = await world.container().getToken(httpEvent({ key: READ_KEY, app: 'crm' }));
      expect(res.statusCode).toBe(502);
      expect(json(res).error.errcode).toBe(60020);
      // Reads do not ask WeCom again during the configuration-error backoff (60 s at first).
      expect(json(await world.container().getToken(httpEvent({ key: READ_KEY, app: 'crm' }))).error.errcode).toBe(60020);
      expect(world.sim.calls(CRM, 'wecom_gettoken')).toBe(1);
      world.clock.advance(61_000);
      world.sim.failNext({ kind: 'errcode', errcode: -1 }, 2, CRM, ['wecom_gettoken']);
      const ok = await world.container().getToken(httpEvent({ key: READ_KEY, app: 'crm' }));
      expect(ok.statusCode).toBe(200);
      expect(world.sim.calls(CRM, 'wecom_gettoken')).toBe(4);
    });

    it('a forced refresh of a WeCom token probes first: a token WeCom accepts is not rotated', async () => {
      const hub = world.container();
      const t = json(await hub.getToken(httpEvent({ key: READ_KEY, app: 'crm' }))).access_token;
      const still = json(await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, app: 'crm', body: { stale_token: t } })));
      expect(still.refreshed).toBe(false);
      expect(world.sim.calls(CRM, 'wecom_gettoken')).toBe(1);
      world.sim.revokeTokens(CRM);
      world.clock.advance(11_000);
      const fresh = json(await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, app: 'crm', body: { stale_token: t } })));
      expect(fresh.refreshed).toBe(true);
      expect(fresh.access_token).toBe(world.sim.currentToken(CRM));
    });

    it('the ledger holds the hub under WeCom\'s 100 ticket fetches an hour per app, over any 60 minutes', async () => {
      const hub = world.container();
      // 99 fetches this hour already (as the ledger counts them), then the one that makes 100.
      const hour = quotaHour(world.clock.now());
      for (let i = 0; i < 99; i++) await world.store.countUpstreamCall({ app: 'crm', api: 'wecom_ticket', period: hour, ttl: 0 });
      const fetched = () => world.sim.calls(CRM, 'wecom_jsapi_ticket') + world.sim.calls(CRM, 'wecom_agent_config');
      expect((await hub.tickets(ticketEvent({ app: 'crm', type: 'agent_config', key: READ_KEY }))).statusCode).toBe(200);
      expect(fetched()).toBe(1);
      const refused = await hub.tickets(ticketEvent({ app: 'crm', type: 'jsapi', key: READ_KEY }));
      expect(refused.statusCode).toBe(429);
      expect(json(refused).error.code).toBe('upstream_limit_reached');
      expect(json(refused).error.message).toContain('100 ticket fetches an hour per app');
      expect(Number(refused.headers?.['retry-after'])).toBeGreaterThan(0);
      expect(fetched()).toBe(1); // WeCom was not asked: the hub never trips its limit

      world.clock.advance(60 * MINUTE); // the next clock hour: the previous one still counts
      expect((await hub.tickets(ticketEvent({ app: 'crm', type: 'jsapi', key: READ_KEY }))).statusCode).toBe(429);
      world.clock.advance(61 * MINUTE);
      expect((await hub.tickets(ticketEvent({ app: 'crm', type: 'jsapi', key: READ_KEY }))).statusCode).toBe(200);
      expect(fetched()).toBe(2);
    });

    it('forced ticket refreshes use at most a quarter of WeCom\'s hourly limit, so the scheduled refresh always has the rest', async () => {
      const hub = world.container();
      const hour = quotaHour(world.clock.now());
      // 24 fetches this hour already: a forced refresh may make the 25th, not the 26th.
      for (let i = 0; i < 24; i++) await world.store.countUpstreamCall({ app: 'crm', api: 'wecom_ticket', period: hour, ttl: 0 });
      const stale = json(await hub.tickets(ticketEvent({ app: 'crm', type: 'agent_config', key: READ_KEY }))).ticket;
      world.clock.advance(61_000);
      const refused = await hub.tickets(ticketEvent({ app: 'crm', type: 'agent_config', key: REFRESH_KEY, refresh: stale }));
      expect(refused.statusCode).toBe(429);
      expect(json(refused).error.message).toContain('forced refreshes may use (25)');
      expect(world.sim.calls(CRM, 'wecom_agent_config')).toBe(1);
      // A fetch that is no report (a read of the corp ticket, the tick) still has the rest of the hour.
      expect((await hub.tickets(ticketEvent({ app: 'crm', type: 'jsapi', key: READ_KEY }))).statusCode).toBe(200);
      expect(world.sim.calls(CRM, 'wecom_jsapi_ticket')).toBe(1);
    });

  });
});
