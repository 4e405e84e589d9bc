import { describe, expect, it } from 'vitest';
import { MINUTE } from '../support/manual-clock.js';
import { useWorld } from '../support/use-world.js';
import { COMPAT_APPS, httpEvent, json, READ_KEY, ticketEvent } from '../support/world.js';

/**
 * The life the hub serves: every answer that hands out a value says, as `expires_in`, how long until
 * the hub replaces it (never 0, never more), so that an SDK caching for `expires_in` never holds a
 * value past its replacement (WeChat drops the old one 5 minutes after it).
 */
const OA = 'wx_oa_0001';
const world = useWorld(() => ({ env: { HUB_APPS: JSON.stringify(COMPAT_APPS) } }));

const compat = (hub: ReturnType<typeof world.container>, path: string, query: string) =>
  hub.compat(httpEvent({ method: 'GET', path, routeKey: 'ANY /{path+}', pathParameters: { path: path.slice(1) }, query }));

describe('expires_in is the time until the hub replaces the value', () => {
  it('native token and ticket answers count down to the renewal (REFRESH_MARGIN before expiry); expires_at stays WeChat\'s expiry', async () => {
    const hub = world.container();
    const t0 = world.clock.now();
    const token = json(await hub.getToken(httpEvent({ key: READ_KEY })));
    expect(token.expires_in).toBe(6000);
    expect(Date.parse(token.expires_at)).toBe(t0 + 7200_000);
    const ticket = json(await hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY })));
    expect(ticket.expires_in).toBe(6000);
    world.clock.advance(99 * MINUTE);
    expect(json(await world.container().getToken(httpEvent({ key: READ_KEY }))).expires_in).toBe(60);
  });

  it('the compat paths answer the same life, so an SDK caching for expires_in drops the value when the hub replaces it', async () => {
    const hub = world.container();
    const token = JSON.parse((await compat(hub, '/cgi-bin/token', `grant_type=client_credential&appid=${OA}&secret=${READ_KEY}`)).body!);
    expect(token.expires_in).toBe(6000);
    const ticket = JSON.parse((await compat(hub, '/cgi-bin/ticket/getticket', `access_token=${token.access_token}&type=jsapi`)).body!);
    expect(ticket).toMatchObject({ errcode: 0, expires_in: 6000 });
    const wecom = JSON.parse((await compat(hub, '/cgi-bin/gettoken', `corpid=ww_corp_0001&corpsecret=${READ_KEY}`)).body!);
    expect(wecom.expires_in).toBe(6000);
  });

  it('a stable_token app\'s life ends at stable_token\'s own renewal, its last 5 minutes', async () => {
    const hub = world.container();
    const mp = json(await hub.getToken(httpEvent({ key: READ_KEY, app: 'mp' })));
    expect(mp.expires_in).toBe(7200 - 300);
  });

  it('a read that finds the value due refreshes it first (one fetch for many readers) and hands out a full life', async () => {
    const hub = world.container();
    const first = json(await hub.getToken(httpEvent({ key: READ_KEY })));
    world.clock.advance(100 * MINUTE); // due: the hub would replace it now
    const readers = await Promise.all(Array.from({ length: 20 }, () => world.container().getToken(httpEvent({ key: READ_KEY }))));
    const answers = readers.map(json);
    expect(new Set(answers.map((a) => a.access_token))).toEqual(new Set([world.sim.currentToken(OA)]));
    expect(answers[0].access_token).not.toBe(first.access_token);
    expect(answers.every((a) => a.expires_in === 6000)).toBe(true);
    expect(world.sim.calls(OA)).toBe(2);
  });

  it('a due value whose refresh fails is served for at most the 5-minute overlap, and never with expires_in 0', async () => {
    const hub = world.container();
    await hub.getToken(httpEvent({ key: READ_KEY }));
    world.clock.advance(110 * MINUTE); // 10 minutes left, past the renewal
    world.sim.failNext({ kind: 'errcode', errcode: -1 }, 1000, OA);
    const served = json(await hub.getToken(httpEvent({ key: READ_KEY })));
    expect(served.expires_in).toBe(300);
    world.clock.advance(10 * MINUTE - 500); // half a second left
    const last = json(await world.container().getToken(httpEvent({ key: READ_KEY })));
    expect(last.expires_in).toBe(1);
  });
});
