import { randomBytes } from 'node:crypto';
import { DeleteItemCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tokenHash } from '../../lib/identify.js';
import type { CredentialKey, CredentialStore, TokenWrite } from '../../lib/store/store.js';
import { useWorld } from '../support/use-world.js';
import { APPS, COMPAT_APPS, CRM, httpEvent, json, READ_KEY, sharedDynalite, storePrototype, TEST_STORES, type World } from '../support/world.js';

/**
 * The token-hash index (reverse lookups of the WeChat-compatible paths): every compat token is in it
 * before anyone is handed it, keyed by its SHA-256 and holding no value; an unknown token costs one
 * read; a token written before the index (or before its app was compat) is indexed once compat serves it.
 */
const OA = 'wx_oa_0001';
const MP = 'wx_mp_0002';
const OTHER = 'wx_other_03';
const COMPAT = { HUB_APPS: JSON.stringify(COMPAT_APPS) };
const sha = (value: string) => tokenHash(value);

const compat = (hub: ReturnType<World['container']>, path: string, query: string) =>
  hub.compat(httpEvent({ method: 'GET', path, routeKey: 'ANY /{path+}', pathParameters: { path: path.slice(1) }, query }));

/** Every call any container makes on the world's store (spied on its class), by method name. */
function spyStore(world: World): { calls: () => string[] } {
  const proto = storePrototype(world.storeKind) as unknown as Record<string, unknown>;
  const names = Object.getOwnPropertyNames(proto).filter((n) => n !== 'constructor' && typeof proto[n] === 'function');
  const spies = names.map((n) => [n, vi.spyOn(proto as any, n)] as const);
  return { calls: () => spies.flatMap(([n, s]) => s.mock.calls.map(() => n)) };
}

const clients: DynamoDBClient[] = [];
async function rawClient(counter?: { gets: number }): Promise<DynamoDBClient> {
  const client = new DynamoDBClient({ endpoint: (await sharedDynalite()).endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
  clients.push(client);
  if (counter) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'GetItemCommand') counter.gets++;
        return next(args);
      },
      { step: 'initialize', name: 'countGetItem' },
    );
  }
  return client;
}

afterEach(() => {
  vi.restoreAllMocks();
  clients.splice(0).forEach((c) => c.destroy());
});

describe.each(TEST_STORES)('on the %s store', (storeKind) => {
  const world = useWorld(() => ({ store: storeKind, env: COMPAT }));

  it('a compat app\'s new token is in the index before its write and after it: its app, access_token, until its expiry', async () => {
    const proto = storePrototype(storeKind) as CredentialStore;
    const original = proto.writeToken;
    const atWrite = new Map<string, unknown>();
    vi.spyOn(proto, 'writeToken').mockImplementation(async function (this: CredentialStore, key: CredentialKey, write: TokenWrite) {
      if (key.kind === 'access_token') atWrite.set(key.app, await world.store.lookupToken(sha(write.value)));
      return original.call(this, key, write);
    });
    const outcomes = await world.container().tick();
    expect(outcomes.filter((o) => o.outcome === 'refreshed').length).toBeGreaterThanOrEqual(4);

    for (const [app, token] of [['oa', world.sim.currentToken(OA)!], ['mp', world.sim.currentToken(MP, 'stable')!], ['crm', world.sim.currentToken(CRM)!]] as const) {
      const item = (await world.store.read({ app, kind: 'access_token' }))!;
      expect(item.value).toBe(token);
      const expected = { app, kind: 'access_token', until: item.expiresAt };
      expect(atWrite.get(app), `${app} before its write`).toEqual(expected);
      // Exactly these three fields: no value, no fingerprint of the secret.
      expect(await world.store.lookupToken(sha(token)), `${app} after its write`).toStrictEqual(expected);
    }
    // Not a compat app: not indexed (no reverse lookup ever finds it).
    const other = (await world.store.read({ app: 'other', kind: 'access_token' }))!;
    expect(other.value).toBe(world.sim.currentToken(OTHER));
    expect(atWrite.get('other')).toBeUndefined();
    expect(await world.store.lookupToken(sha(other.value!))).toBeUndefined();
    // Tickets are not indexed either (only what an SDK sends as access_token).
    const ticket = (await world.store.read({ app: 'oa', kind: 'jsapi_ticket' }))?.value;
    expect(ticket).toBeDefined();
    expect(await world.store.lookupToken(sha(ticket!))).toBeUndefined();
  });

  it('a rotated token gets an entry of its own; the replaced one\'s entry stays until its own expiry', async () => {
    const hub = world.container();
    await hub.tick();
    const first = (await world.store.read({ app: 'oa', kind: 'access_token' }))!;
    world.clock.set(first.obtainedAt! + 100 * 60_000);
    await hub.tick();
    const second = (await world.store.read({ app: 'oa', kind: 'access_token' }))!;
    expect(second.value).not.toBe(first.value);
    expect(await world.store.lookupToken(sha(second.value!))).toEqual({ app: 'oa', kind: 'access_token', until: second.expiresAt });
    expect(await world.store.lookupToken(sha(first.value!))).toEqual({ app: 'oa', kind: 'access_token', until: first.expiresAt });
  });

  it('an unknown token on a compat path costs exactly one store call, the index read, with three compat apps', async () => {
    const hub = world.container();
    await hub.tick();
    const store = spyStore(world);
    const res = json(await compat(hub, '/cgi-bin/user/get', `access_token=junk_${randomBytes(12).toString('hex')}`));
    expect(res.errcode).toBe(40001);
    expect(store.calls()).toEqual(['lookupToken']);
  });

  it('a token written before its app was indexed is found once compat has served it', async () => {
    // The app was not compat when its token was fetched: its value is in no index.
    const before = world.container({ HUB_APPS: JSON.stringify(APPS) });
    await before.tick();
    const token = world.sim.currentToken(OA)!;
    expect((await world.store.read({ app: 'oa', kind: 'access_token' }))?.value).toBe(token);
    expect(await world.store.lookupToken(sha(token))).toBeUndefined();

    // Compat on: an SDK with that token is not recognised (no entry), and WeChat is not asked.
    const passOns = world.sim.calls(OA, 'getcallbackip');
    expect(json(await compat(world.container(), '/cgi-bin/getcallbackip', `access_token=${token}`)).errcode).toBe(40001);
    expect(world.sim.calls(OA, 'getcallbackip')).toBe(passOns);

    // Compat serves it (/cgi-bin/token with a hub key as the secret): no new fetch, and it is indexed.
    const served = json(await compat(world.container(), '/cgi-bin/token', `grant_type=client_credential&appid=${OA}&secret=${READ_KEY}`));
    expect(served.access_token).toBe(token);
    expect(world.sim.calls(OA)).toBe(1);
    const item = (await world.store.read({ app: 'oa', kind: 'access_token' }))!;
    await vi.waitFor(async () => expect(await world.store.lookupToken(sha(token))).toEqual({ app: 'oa', kind: 'access_token', until: item.expiresAt }));

    // Another container now finds it with its one read, and passes the call on.
    const passed = json(await compat(world.container(), '/cgi-bin/getcallbackip', `access_token=${token}`));
    expect(passed.ip_list?.length).toBeGreaterThan(0);
    expect(world.sim.calls(OA, 'getcallbackip')).toBe(passOns + 1);
  });
});

describe('on DynamoDB', () => {
  const world = useWorld(() => ({ store: 'dynamo', env: COMPAT }));

  it('the index items hold the hash, the app, the kind and the expiry, never a token', async () => {
    await world.container().tick();
    const out = await (await rawClient()).send(new ScanCommand({ TableName: world.tableName }));
    const entries = (out.Items ?? []).filter((i) => i.pk?.S?.startsWith('TOKEN#'));
    expect(entries).toHaveLength(3); // oa, mp, crm
    const raw = JSON.stringify(entries);
    for (const v of [...world.sim.issuedTokens(), ...world.sim.issuedTickets(), ...Object.values(world.secrets)]) expect(raw).not.toContain(v);
    for (const e of entries) expect(Object.keys(e).sort()).toEqual(['app', 'kind', 'pk', 'ttl', 'until']);
  });

  it('an unknown token costs one GetItem in total, whatever the number of compat apps', async () => {
    const counter = { gets: 0 };
    const hub = world.container({}, { dynamodb: await rawClient(counter) });
    await hub.tick();
    counter.gets = 0;
    expect(json(await compat(hub, '/cgi-bin/user/get', `access_token=junk_${randomBytes(12).toString('hex')}`)).errcode).toBe(40001);
    expect(counter.gets).toBe(1);
  });

  it('a token whose index entry is gone (written before the index existed) is found again once compat has served it', async () => {
    await world.container().tick();
    const token = world.sim.currentToken(OA)!;
    const raw = await rawClient();
    await raw.send(new DeleteItemCommand({ TableName: world.tableName, Key: { pk: { S: `TOKEN#${sha(token)}` } } }));
    expect(await world.store.lookupToken(sha(token))).toBeUndefined();
    expect(json(await compat(world.container(), '/cgi-bin/user/get', `access_token=${token}`)).errcode).toBe(40001);

    expect(json(await compat(world.container(), '/cgi-bin/token', `grant_type=client_credential&appid=${OA}&secret=${READ_KEY}`)).access_token).toBe(token);
    await vi.waitFor(async () => expect((await world.store.lookupToken(sha(token)))?.app).toBe('oa'));
    const passed = json(await compat(world.container(), '/cgi-bin/getcallbackip', `access_token=${token}`));
    expect(passed.ip_list?.length).toBeGreaterThan(0);
  });
});
