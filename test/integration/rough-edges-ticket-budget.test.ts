import { describe, expect, it } from 'vitest';
import { MINUTE } from '../support/manual-clock.js';
import { ADMIN_KEY, httpEvent, json, READ_KEY, REFRESH_KEY, ticketEvent } from '../support/world.js';
import { useWorld } from '../support/use-world.js';

/**
 * A ticket fetch that meets 40001 sends its token through the guarded forced refresh. When that is
 * refused (the token's forced budget is spent), the ticket read is not refused for the token's
 * budget: it serves the ticket it has, or answers 503 with the reason, records the failure in words,
 * and does not call WeChat's ticket API again before the backoff ends; the tick heals it.
 */
const OA = 'wx_oa_0001';
const world = useWorld();
type Hub = ReturnType<typeof world.container>;

const readTicket = (hub: Hub) => hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY }));
const statusOf = async (hub: Hub, kind: string) =>
  json(await hub.status(httpEvent({ method: 'GET', key: ADMIN_KEY, path: '/v1/status', routeKey: 'GET /v1/status' })))
    .apps.find((a: { app: string }) => a.app === 'oa')
    .credentials.find((c: { kind: string }) => c.kind === kind);

/** Spend the token's whole forced budget (1): WeChat drops the token, a report rotates it. Then WeChat drops that one too. */
async function spendTheForcedBudgetThenKillTheToken(hub: Hub): Promise<void> {
  const token = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token;
  world.sim.revokeTokens(OA);
  world.clock.advance(11_000);
  expect(json(await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, body: { stale_token: token } }))).refreshed).toBe(true);
  world.sim.revokeTokens(OA); // an outside fetch again: the hub's token is dead, and no forced refresh is left today
  world.clock.advance(11_000);
}

describe('a ticket read when its token is dead and the token\'s forced budget is spent', () => {
  it('with no ticket yet, answers 503 with the reason and Retry-After (not 429), and asks WeChat for the ticket once per backoff', async () => {
    const hub = world.container({ FORCED_DAILY_BUDGET: '1' });
    await spendTheForcedBudgetThenKillTheToken(hub);
    const res = await readTicket(hub);
    expect(res.statusCode).toBe(503);
    expect(json(res).error.code).toBe('token_unavailable');
    expect(json(res).error.message).toMatch(/rejected the access_token this jsapi_ticket is fetched with \(errcode 40001\).*budget of forced refreshes/);
    expect(Number(res.headers?.['retry-after'])).toBeGreaterThan(0);
    expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(1);
    // Every read within the backoff, in this container or another, gets the same answer and costs WeChat nothing.
    for (const c of [hub, world.container({ FORCED_DAILY_BUDGET: '1' }), hub]) {
      const again = await readTicket(c);
      expect([again.statusCode, json(again).error.code]).toEqual([503, 'token_unavailable']);
      expect(json(again).error.message).toMatch(/budget of forced refreshes/);
      world.clock.advance(10_000);
    }
    expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(1);
    expect(world.sim.calls(OA, 'token')).toBe(2); // the first and the forced one: nothing more

    // The status view says why in words: no class name.
    const ticket = await statusOf(hub, 'jsapi_ticket');
    expect(ticket).toMatchObject({ state: 'backoff', failures: 1, lastError: { code: 'access_token_rejected' } });
    expect(ticket.lastError.message).toMatch(/^WeChat rejected the access_token this jsapi_ticket is fetched with \(errcode 40001\), and it cannot be replaced now: today's budget of forced refreshes for this app is spent$/);
    expect(ticket.lastError.message).not.toMatch(/[A-Z][a-z]+Error/);

    // The tick's self-healing replaces the dead token without the forced budget, and fetches the ticket.
    const outcomes = await hub.tick();
    expect(outcomes).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'healed' });
    expect(outcomes).toContainEqual({ app: 'oa', kind: 'jsapi_ticket', outcome: 'refreshed' });
    const healed = await readTicket(world.container());
    expect(healed.statusCode).toBe(200);
    expect(json(healed).ticket).toBe(world.sim.currentTicket(OA, 'jsapi'));
  });

  it('with a ticket that is due, serves the ticket it has, and does not call WeChat again on the next reads', async () => {
    const hub = world.container({ FORCED_DAILY_BUDGET: '1' });
    const ticket = json(await readTicket(hub)).ticket;
    world.clock.advance(50 * MINUTE);
    await spendTheForcedBudgetThenKillTheToken(hub); // the token is 0 minutes old and dead; the ticket 50
    world.clock.advance(51 * MINUTE); // the ticket is past its renewal time; the token is not
    for (let i = 0; i < 5; i++) {
      const res = await readTicket(world.container({ FORCED_DAILY_BUDGET: '1' }));
      expect(res.statusCode).toBe(200);
      expect(json(res).ticket).toBe(ticket);
      world.clock.advance(1_000);
    }
    expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(2); // the first fetch, and one refused attempt
    expect((await statusOf(hub, 'jsapi_ticket')).lastError.code).toBe('access_token_rejected');
  });

  it('a ticket WeChat refuses with 40001 while its token is still accepted is not asked for again on every read', async () => {
    const hub = world.container();
    json(await hub.getToken(httpEvent({ key: READ_KEY })));
    world.sim.failNext({ kind: 'errcode', errcode: 40001 }, 1, OA, ['ticket_jsapi']);
    const res = await readTicket(hub);
    expect(res.statusCode).toBe(503);
    expect(json(res).error.message).toMatch(/WeChat still accepts it when asked, so it was not replaced/);
    expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(1);
    expect((await readTicket(world.container())).statusCode).toBe(503);
    expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(1);
    world.clock.advance(6_000); // past the first backoff (5 s): asked once more, and WeChat issues it
    const later = await readTicket(hub);
    expect(later.statusCode).toBe(200);
    expect(json(later).ticket).toBe(world.sim.currentTicket(OA, 'jsapi'));
    expect(world.sim.calls(OA, 'ticket_jsapi')).toBe(2);
    expect(world.sim.calls(OA, 'token')).toBe(1);
  });
});
