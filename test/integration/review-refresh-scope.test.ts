import { describe, expect, it } from 'vitest';
import { hashApiKey } from '../../lib/http/auth.js';
import { useWorld } from '../support/use-world.js';
import { httpEvent, json, READ_KEY, REFRESH_KEY, ticketEvent } from '../support/world.js';

/**
 * Security review, finding a: a key with only the `refresh` scope could read the token (and
 * tickets) by reporting a made-up stale value: the answer carried the current one. Values, and
 * their expiry, are for keys with `read`; a refresh-only key learns whether the value rotated.
 */
const OA = 'wx_oa_0001';
const REFRESH_ONLY_KEY = `test_refresh_only_${'q'.repeat(24)}`;
const world = useWorld();

function hubWithRefreshOnlyKey() {
  return world.container({
    HUB_API_KEYS: JSON.stringify([
      { name: 'reader', sha256: hashApiKey(READ_KEY), apps: ['oa', 'mp', 'crm'], scopes: ['read'] },
      { name: 'refresher', sha256: hashApiKey(REFRESH_KEY), apps: ['oa', 'mp', 'crm'], scopes: ['read', 'refresh'] },
      { name: 'refresh-only', sha256: hashApiKey(REFRESH_ONLY_KEY), apps: ['oa', 'crm'], scopes: ['refresh'] },
    ]),
  });
}

const force = (hub: ReturnType<typeof hubWithRefreshOnlyKey>, key: string, stale: string) => hub.forceRefresh(httpEvent({ key, body: { stale_token: stale } }));

describe('a forced refresh answers values only to a key that may read them', () => {
  it('a refresh-only key reporting a made-up token learns that it is not the current one (changed), not the token or its expiry', async () => {
    const hub = hubWithRefreshOnlyKey();
    const token = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token as string;
    const res = await force(hub, REFRESH_ONLY_KEY, 'made_up_stale_token_0000');
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({ refreshed: false, changed: true });
    expect(res.body).not.toContain(token);
    expect(world.sim.calls(OA)).toBe(1);
  });

  it('a refresh-only key learns whether its report rotated the token (refreshed, reason), never the new token', async () => {
    const hub = hubWithRefreshOnlyKey();
    const token = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token as string;
    const accepted = await force(hub, REFRESH_ONLY_KEY, token);
    expect(json(accepted)).toEqual({ refreshed: false, changed: false, reason: expect.stringMatching(/still accepts/) });
    world.sim.revokeTokens(OA);
    world.clock.advance(11_000);
    const rotated = await force(hub, REFRESH_ONLY_KEY, token);
    expect(json(rotated)).toEqual({ refreshed: true, changed: true });
    expect(world.sim.calls(OA)).toBe(2);
    expect(rotated.body).not.toContain(world.sim.currentToken(OA)!);
  });

  it('a key with read and refresh still gets the current token, its expiry and what happened', async () => {
    const hub = hubWithRefreshOnlyKey();
    const token = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token as string;
    expect(json(await force(hub, REFRESH_KEY, 'made_up_stale_token_0000'))).toEqual({
      access_token: token, expires_in: 6000, expires_at: expect.any(String), refreshed: false, changed: true,
    });
  });

  it('the ticket refresh: a refresh-only key learns changed and refreshed, not the ticket or its expiry; read and refresh get the ticket', async () => {
    const hub = hubWithRefreshOnlyKey();
    const ticket = json(await hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY }))).ticket as string;
    const res = await hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: REFRESH_ONLY_KEY, refresh: 'made_up_stale_ticket_000' }));
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({ refreshed: false, changed: true });
    expect(res.body).not.toContain(ticket);
    world.clock.advance(61_000); // a ticket cannot be probed: a report rotates one at least a minute old
    const rotated = await hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: REFRESH_ONLY_KEY, refresh: ticket }));
    expect(json(rotated)).toEqual({ refreshed: true, changed: true });
    expect(rotated.body).not.toContain(world.sim.currentTicket(OA, 'jsapi')!);
    const withRead = json(await hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: REFRESH_KEY, refresh: 'made_up_stale_ticket_000' })));
    expect(withRead).toEqual({ ticket: world.sim.currentTicket(OA, 'jsapi'), expires_in: expect.any(Number), expires_at: expect.any(String), refreshed: false, changed: true });
  });
});
