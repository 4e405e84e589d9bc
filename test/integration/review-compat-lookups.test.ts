import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { UNKNOWN_LOOKUPS_BURST, UNKNOWN_LOOKUPS_PER_SECOND } from '../../lib/http/compat-routes.js';
import { useWorld } from '../support/use-world.js';
import { COMPAT_APPS, CRM, httpEvent, json, READ_KEY, sharedDynalite } from '../support/world.js';

/**
 * Security review, findings c and g: how the WeChat-compatible paths find the app of a token an SDK
 * sends (a store read per compat app), and what they remember of a token that is no app's.
 */
const OA = 'wx_oa_0001';
const world = useWorld(() => ({ env: { HUB_APPS: JSON.stringify(COMPAT_APPS) } }));
/** Compat apps in COMPAT_APPS (oa, mp, crm): a lookup of an unknown token reads each one's item. */

const clients: DynamoDBClient[] = [];
afterEach(() => {
  clients.splice(0).forEach((c) => c.destroy());
});

/** A container whose DynamoDB client counts the GetItem requests it sends. */
async function countingContainer() {
  const client = new DynamoDBClient({ endpoint: (await sharedDynalite()).endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
  clients.push(client);
  const counter = { gets: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'GetItemCommand') counter.gets++;
      return next(args);
    },
    { step: 'initialize', name: 'countGetItem' },
  );
  const hub = world.container({}, { dynamodb: client });
  await hub.tick();
  return { hub, counter };
}

const compat = (hub: ReturnType<typeof world.container>, path: string, query: string) =>
  hub.compat(httpEvent({ method: 'GET', path, routeKey: 'ANY /{path+}', pathParameters: { path: path.slice(1) }, query }));
const junk = () => `junk_${randomBytes(12).toString('hex')}`;

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

describe('unknown tokens cost bounded store reads (finding g)', () => {
  it('the same unknown token 100 times costs one lookup: one read of the token-hash index, whatever the number of compat apps', async () => {
    const { hub, counter } = await countingContainer();
    const token = junk();
    counter.gets = 0;
    for (let i = 0; i < 100; i++) expect(json(await compat(hub, '/cgi-bin/user/get', `access_token=${token}`)).errcode).toBe(40001);
    expect(counter.gets).toBe(1);
  });

  it('100 different unknown tokens cost at most a small burst of lookups per container, then a few a second', async () => {
    const { hub, counter } = await countingContainer();
    counter.gets = 0;
    for (let i = 0; i < 100; i++) {
      const body = json(await compat(hub, '/cgi-bin/user/get', `access_token=${junk()}`));
      expect(body).toEqual({ errcode: 40001, errmsg: expect.any(String) });
    }
    expect(counter.gets).toBeLessThanOrEqual(UNKNOWN_LOOKUPS_BURST); // one read each
    expect(counter.gets).toBeGreaterThan(0);
    // A second later, only that second's allowance more.
    counter.gets = 0;
    world.clock.advance(1_000);
    for (let i = 0; i < 100; i++) await compat(hub, '/cgi-bin/user/get', `access_token=${junk()}`);
    expect(counter.gets).toBeLessThanOrEqual(UNKNOWN_LOOKUPS_PER_SECOND);
  });

  it('during a flood of unknown tokens, a token the container handed out keeps working without a lookup', async () => {
    const { hub, counter } = await countingContainer();
    const served = json(await compat(hub, '/cgi-bin/token', `grant_type=client_credential&appid=${OA}&secret=${READ_KEY}`)).access_token as string;
    for (let i = 0; i < 100; i++) await compat(hub, '/cgi-bin/user/get', `access_token=${junk()}`);
    counter.gets = 0;
    const passed = json(await compat(hub, '/cgi-bin/getcallbackip', `access_token=${served}`));
    expect(passed.ip_list.length).toBeGreaterThan(0);
    expect(counter.gets).toBe(0);
    expect(json(await compat(hub, '/cgi-bin/ticket/getticket', `type=jsapi&access_token=${served}`))).toMatchObject({ errcode: 0, ticket: world.sim.currentTicket(OA, 'jsapi') });
  });
});
