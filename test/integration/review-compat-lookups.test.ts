import { describe, expect, it } from 'vitest';
import { useWorld } from '../support/use-world.js';
import { COMPAT_APPS, CRM, httpEvent, json } from '../support/world.js';

/**
 * Security review, finding c: how the WeChat-compatible paths find the app of a token an SDK
 * sends (a store read per compat app), and what they remember of a token that is no app's.
 */
const OA = 'wx_oa_0001';
const world = useWorld(() => ({ env: { HUB_APPS: JSON.stringify(COMPAT_APPS) } }));
const compat = (hub: ReturnType<typeof world.container>, path: string, query: string) =>
  hub.compat(httpEvent({ method: 'GET', path, routeKey: 'ANY /{path+}', pathParameters: { path: path.slice(1) }, query }));

describe('a token that is no app\'s is remembered only for what was looked up (finding c)', () => {
  it('an Official Account token sent to a WeCom path is still answered on the Official Account paths and passed on', async () => {
    const hub = world.container();
    await hub.tick();
    const token = world.sim.currentToken(OA)!;
    // WeCom's corp ticket path with an Official Account's token: not a WeCom app's token.
    expect(json(await compat(hub, '/cgi-bin/get_jsapi_ticket', `access_token=${token}`)).errcode).toBe(40014);
    // Within the same second, the token's own paths still know it.
    const ticket = json(await compat(hub, '/cgi-bin/ticket/getticket', `type=jsapi&access_token=${token}`));
    expect(ticket).toMatchObject({ errcode: 0, ticket: world.sim.currentTicket(OA, 'jsapi') });
    const passed = json(await compat(hub, '/cgi-bin/getcallbackip', `access_token=${token}`));
    expect(passed.ip_list.length).toBeGreaterThan(0);
  });

  it('a WeCom token sent to the Official Account ticket path is still answered on the WeCom paths', async () => {
    const hub = world.container();
    await hub.tick();
    const token = world.sim.currentToken(CRM)!;
    expect(json(await compat(hub, '/cgi-bin/ticket/getticket', `type=jsapi&access_token=${token}`)).errcode).toBe(40001);
    expect(json(await compat(hub, '/cgi-bin/get_jsapi_ticket', `access_token=${token}`))).toMatchObject({ errcode: 0, ticket: world.sim.currentTicket(CRM, 'jsapi') });
  });
});

