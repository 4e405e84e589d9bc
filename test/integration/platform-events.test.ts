import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLocalServer } from '../../lib/http/local-server.js';
import { listen } from '../support/listen.js';
import { signedPush } from '../support/platform-world.js';
import { useWorld } from '../support/use-world.js';
import { APPS, httpEvent } from '../support/world.js';

/**
 * A third-party platform's authorization event URL, end to end: the simulator pushes an encrypted
 * component_verify_ticket to the hub's local server as WeChat does; the hub verifies, decrypts and
 * stores it, and the tick fetches the component token with it. Refusals change nothing.
 */
const COMPONENT = 'wx_component_01';
const AES = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const TOKEN = 'platform-msg-token';
const PLATFORM = { name: 'shop-platform', type: 'platform', appid: COMPONENT, secret: { env: 'P_SECRET' }, token: { env: 'P_TOKEN' }, aesKey: { env: 'P_AES' } };
const ENV = { HUB_APPS: JSON.stringify([...APPS, PLATFORM]), P_SECRET: 'component-secret-0001', P_TOKEN: TOKEN, P_AES: AES };
const ticketKey = { app: 'shop-platform', kind: 'component_verify_ticket' };

describe('a platform\'s event URL', () => {
  const world = useWorld();
  const setUp = () => {
    world.sim.addPlatform({ appid: COMPONENT, secret: 'component-secret-0001', token: TOKEN, aesKey: AES });
    for (const [k, v] of Object.entries({ P_SECRET: 'component-secret-0001', P_TOKEN: TOKEN, P_AES: AES })) world.setSecret(k, v);
    return world.container(ENV);
  };
  /** A push as WeChat makes it (test/support/platform-world.ts), now unless `at` says otherwise. */
  const push = (inner: string, options: { token?: string; at?: number; nonce?: string } = {}) => signedPush(inner, { ...options, at: options.at ?? world.clock.now() });
  const ticketXml = (ticket: string) => `<xml><AppId><![CDATA[${COMPONENT}]]></AppId><CreateTime>${Math.floor(world.clock.now() / 1000)}</CreateTime><InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA[${ticket}]]></ComponentVerifyTicket></xml>`;

  it('takes the simulator\'s encrypted push (as WeChat sends it), answers success, and the tick fetches the component token with the ticket', async () => {
    const hub = setUp();
    const server = await listen(createLocalServer(hub));
    try {
      world.sim.setEventUrl(COMPONENT, `${server.url}/v1/platforms/shop-platform/events`);
      const pushed = await world.sim.pushTicket(COMPONENT);
      expect([pushed.status, pushed.body]).toEqual([200, 'success']);
      expect((await world.store.read(ticketKey))?.value).toBe(world.sim.platformState(COMPONENT).ticket);
    } finally {
      await server.close();
    }
    const outcomes = await hub.tick();
    expect(outcomes).toContainEqual({ app: 'shop-platform', kind: 'component_access_token', outcome: 'refreshed' });
    expect((await hub.refresher.get('shop-platform', 'component_access_token')).value).toBe(world.sim.platformState(COMPONENT).componentToken);
  });

  it('a push seen before is answered success and not acted on again; a bad signature, an old timestamp, another platform\'s key or an unknown platform is refused without detail and changes nothing', async () => {
    const hub = setUp();
    const first = push(ticketXml('ticket@@@one'));
    expect(await hub.platform(first)).toMatchObject({ statusCode: 200, body: 'success' });
    expect(await world.store.read(ticketKey)).toMatchObject({ value: 'ticket@@@one', version: 1 });
    expect(await hub.platform(first)).toMatchObject({ statusCode: 200, body: 'success' });
    expect((await world.store.read(ticketKey))?.version).toBe(1); // not written again
    for (const [what, event, status] of [
      ['a wrong token', push(ticketXml('ticket@@@bad'), { token: 'not-the-token', nonce: 'a' }), 400],
      ['a timestamp 10 minutes old', push(ticketXml('ticket@@@old'), { at: world.clock.now() - 600_000, nonce: 'b' }), 400],
      ['an unknown platform', { ...push(ticketXml('ticket@@@x'), { nonce: 'c' }), pathParameters: { name: 'no-such-platform' } }, 404],
      ['an app that is no platform', { ...push(ticketXml('ticket@@@y'), { nonce: 'd' }), pathParameters: { name: 'oa' } }, 404],
      ['junk', { ...push(ticketXml('ticket@@@z'), { nonce: 'e' }), body: '<xml><Encrypt>%%%</Encrypt></xml>' }, 400],
    ] as const) {
      const res = await hub.platform(event);
      expect(res.statusCode, what).toBe(status);
      expect(res.body, what).toMatch(/^(bad request|not found)$/);
    }
    expect(await world.store.read(ticketKey)).toMatchObject({ value: 'ticket@@@one', version: 1 });
  });

  it('hostile input (random bodies, signatures, timestamps and nonces): never a 5xx, never a state change', async () => {
    const hub = setUp();
    await fc.assert(
      fc.asyncProperty(
        fc.record({ body: fc.oneof(fc.string(), fc.constant(`<xml><Encrypt><![CDATA[${'A'.repeat(44)}]]></Encrypt></xml>`), fc.string().map((x) => `<xml><AppId>${x}</AppId><Encrypt>${x}</Encrypt></xml>`)), sig: fc.oneof(fc.stringMatching(/^[0-9a-f]{40}$/), fc.string()), ts: fc.oneof(fc.integer().map(String), fc.string()), nonce: fc.string() }),
        async ({ body, sig, ts, nonce }) => {
          const event = { ...push(ticketXml('ticket@@@never')), body, rawQueryString: new URLSearchParams({ timestamp: ts, nonce, msg_signature: sig, encrypt_type: 'aes' }).toString() };
          const res = await hub.platform(event);
          expect(res.statusCode).toBeGreaterThanOrEqual(400);
          expect(res.statusCode).toBeLessThan(500);
          expect(res.body).toMatch(/^(bad request|not found)$/);
        },
      ),
      { numRuns: 150 },
    );
    // Only the place in the due index the principal's registration gave it: no value, never written.
    expect(await world.store.read(ticketKey)).toMatchObject({ value: undefined, version: 0 });
  });

  it('61006 from api_component_token (the ticket is no longer good): the hub asks WeChat to push a new one and fetches again with it', async () => {
    const hub = setUp();
    const server = await listen(createLocalServer(hub));
    try {
      world.sim.setEventUrl(COMPONENT, `${server.url}/v1/platforms/shop-platform/events`);
      await world.sim.pushTicket(COMPONENT);
      world.sim.failNext({ kind: 'errcode', errcode: 61006 }, 1, COMPONENT, ['component_token']);
      expect(await hub.tick()).toContainEqual(expect.objectContaining({ app: 'shop-platform', kind: 'component_access_token', outcome: 'failed' }));
      await world.sim.pushesSettled();
      expect(world.sim.calls(COMPONENT, 'start_push_ticket')).toBe(1);
      expect((await world.store.read(ticketKey))?.value).toBe(world.sim.platformState(COMPONENT).ticket); // the new push arrived
      expect(await hub.tick()).toContainEqual({ app: 'shop-platform', kind: 'component_access_token', outcome: 'refreshed' });
    } finally {
      await server.close();
    }
  });
});
