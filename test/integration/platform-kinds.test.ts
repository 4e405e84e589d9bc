import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { useWorld } from '../support/use-world.js';
import { APPS, TEST_STORES } from '../support/world.js';

/**
 * A third-party platform as a principal type (its first two kinds): the configuration entry, the
 * component_verify_ticket WeChat pushes stored through the protocol (ingest), and the tick's ask
 * for a push when there is none. The component token's fetch is tested against the simulator's
 * platform (test/integration/platform-token.test.ts).
 */
const PLATFORM = { name: 'shop-platform', type: 'platform', appid: 'wx_component_01', secret: { env: 'P_SECRET' }, token: { env: 'P_TOKEN' }, aesKey: { env: 'P_AES' } };
const ENV = { HUB_APPS: JSON.stringify([...APPS, PLATFORM]), P_SECRET: 'component-secret-0001', P_TOKEN: 'msgtoken', P_AES: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG' };
const ticketKey = { app: 'shop-platform', kind: 'component_verify_ticket' };

describe('a platform in the configuration', () => {
  it('is parsed with its three secret references; without a name, a token or an aesKey it is refused naming the field', () => {
    const only = { ...ENV, HUB_APPS: JSON.stringify([PLATFORM]), TABLE_NAME: 'tbl' };
    const config = loadConfig(only);
    expect(config.apps.find((a) => a.name === 'shop-platform')).toMatchObject({ type: 'platform', appid: 'wx_component_01', token: { env: 'P_TOKEN' }, aesKey: { env: 'P_AES' } });
    for (const [field, why] of [['name', /HUB_APPS\[0\]\.name/], ['token', /HUB_APPS\[0\]\.token/], ['aesKey', /HUB_APPS\[0\]\.aesKey/]] as const) {
      const { [field]: _, ...without } = PLATFORM;
      expect(() => loadConfig({ ...only, HUB_APPS: JSON.stringify([without]) }), field).toThrow(why);
    }
    // Each secret must be set, and none may be {"env": …} in Lambda.
    expect(() => loadConfig({ ...only, P_AES: '' })).toThrow(/HUB_APPS\[0\]\.aesKey: environment variable P_AES is not set/);
    expect(() => loadConfig({ ...only, HUB_APPS: JSON.stringify([{ ...PLATFORM, secret: { ssm: '/x/p' } }]) }, { lambda: true })).toThrow(/HUB_APPS\[0\]\.token: \{"env": "P_TOKEN"\} cannot work in AWS/);
  });
});

describe.each(TEST_STORES)('on the %s store', (storeKind) => {
  const world = useWorld(() => ({ store: storeKind }));

  it('a pushed component_verify_ticket is stored through the lease and the fence, kept 12 hours from its CreateTime, and replaced by the next push', async () => {
    const hub = world.container(ENV);
    const createTime = Math.floor(world.clock.now() / 1000) - 60; // made a minute ago
    const first = await hub.refresher.ingest('shop-platform', 'component_verify_ticket', { ticket: 'ticket@@@one', createTime });
    expect(first.wrote).toBe(true);
    expect(first.item).toMatchObject({ value: 'ticket@@@one', version: 1, refreshedBy: 'pushed', expiresAt: createTime * 1000 + 12 * 3_600_000 });
    // A container serves it as any credential.
    expect((await world.container(ENV).refresher.get('shop-platform', 'component_verify_ticket')).value).toBe('ticket@@@one');
    // Ten minutes later the next push replaces it (the last good one is kept in between: never dropped at 10 minutes).
    world.clock.advance(10 * 60_000);
    expect((await world.container(ENV).refresher.get('shop-platform', 'component_verify_ticket')).value).toBe('ticket@@@one');
    const second = await world.container(ENV).refresher.ingest('shop-platform', 'component_verify_ticket', { ticket: 'ticket@@@two', createTime: createTime + 600 });
    expect(second.item).toMatchObject({ value: 'ticket@@@two', version: 2 });
    expect((await world.store.read(ticketKey))?.dueAt).toBeGreaterThan(world.clock.now()); // in the due index, for its renewal
  });

  it('a ticket pushed with a CreateTime in the future is kept 12 hours from now, never longer', async () => {
    const hub = world.container(ENV);
    const { item } = await hub.refresher.ingest('shop-platform', 'component_verify_ticket', { ticket: 'ticket@@@late', createTime: Math.floor(world.clock.now() / 1000) + 3600 });
    expect(item.expiresAt).toBe(world.clock.now() + 12 * 3_600_000);
  });

  it('with no ticket yet, the tick asks WeChat to push one (api_start_push_ticket) and reports the ticket as not there yet', async () => {
    const outcomes = await world.container(ENV).tick();
    expect(outcomes).toContainEqual(expect.objectContaining({ app: 'shop-platform', kind: 'component_verify_ticket', outcome: 'failed' }));
    const item = await world.store.read(ticketKey);
    expect(item?.value).toBeUndefined();
    expect(item?.lastError).toBeDefined();
  });
});
