import { GetParametersByPathCommand, SSMClient } from '@aws-sdk/client-ssm';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeSharedDynalite, httpEvent, json, READ_KEY, startWorld, type World } from '../support/world.js';

/** Apps read from SSM at run time (one parameter per app): added, changed and removed without a deploy. */
const ssm = mockClient(SSMClient);
const PATH = '/wechat-token-hub/test/apps/';
let world: World;
let params: Record<string, string>;
let ssmDown = false;

beforeEach(async () => {
  world = await startWorld();
  ssmDown = false;
  params = {
    oa: JSON.stringify({ appid: 'wx_oa_0001', type: 'official_account', secret: { env: 'SECRET_OA' } }),
    broken: JSON.stringify({ appid: 42, type: 'official_account' }),
  };
  ssm.on(GetParametersByPathCommand).callsFake((input: { Path: string }) => {
    expect(input.Path).toBe(PATH.slice(0, -1)); // the path the stack's IAM statement names exactly
    if (ssmDown) throw Object.assign(new Error('ThrottlingException'), { name: 'ThrottlingException' });
    return { Parameters: Object.entries(params).map(([n, v]) => ({ Name: `${input.Path}/${n}`, Type: 'String', Value: v })) };
  });
});
afterEach(async () => {
  ssm.reset();
  await world.close();
});
afterAll(closeSharedDynalite);

const container = () =>
  world.container(
    { HUB_APPS: '[]', HUB_APPS_SSM_PATH: PATH, SECRET_CACHE_TTL: '0' },
    { ssm: new SSMProvider({ clientConfig: { region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } } }) },
  );

describe('apps in SSM', () => {
  it('are read at run time: added, changed and removed without a new container, invalid entries left out', async () => {
    const hub = container();
    const oa = await hub.getToken(httpEvent({ key: READ_KEY, app: 'oa' }));
    expect(oa.statusCode).toBe(200);
    expect(json(oa).access_token).toBe(world.sim.currentToken('wx_oa_0001'));
    expect(hub.refresher.appNames).toEqual(['oa']); // "broken" is not an app
    expect(json(await hub.getToken(httpEvent({ key: READ_KEY, app: 'mp' }))).error.code).toBe('unknown_app');

    params.mp = JSON.stringify({ appid: 'wx_mp_0002', type: 'mini_program', tokenApi: 'stable', secret: { env: 'SECRET_MP' } });
    const mp = await hub.getToken(httpEvent({ key: READ_KEY, app: 'mp' }));
    expect(json(mp).access_token).toBe(world.sim.currentToken('wx_mp_0002', 'stable'));

    delete params.oa;
    expect(json(await hub.getToken(httpEvent({ key: READ_KEY, app: 'oa' }))).error.code).toBe('unknown_app');
    world.clock.advance(5 * 60_000); // both tokens due for the tick's probe: mp is looked at, oa is gone
    const outcomes = await hub.tick();
    expect(outcomes.filter((o) => o.outcome !== 'removed').map((o) => o.app)).toEqual(['mp']);
    expect(outcomes).toContainEqual({ app: 'oa', kind: 'access_token', outcome: 'removed' });
  });

  it('when SSM cannot be read, the list in use stays, and SSM is not asked again on every request', async () => {
    const hub = container();
    expect((await hub.getToken(httpEvent({ key: READ_KEY, app: 'oa' }))).statusCode).toBe(200);
    ssmDown = true;
    expect((await hub.getToken(httpEvent({ key: READ_KEY, app: 'oa' }))).statusCode).toBe(200);
    const asked = ssm.commandCalls(GetParametersByPathCommand).length;
    expect((await hub.getToken(httpEvent({ key: READ_KEY, app: 'oa' }))).statusCode).toBe(200);
    expect(ssm.commandCalls(GetParametersByPathCommand).length).toBe(asked);
    ssmDown = false;
    world.clock.advance(5_000);
    params.mp = JSON.stringify({ appid: 'wx_mp_0002', type: 'mini_program', tokenApi: 'stable', secret: { env: 'SECRET_MP' } });
    expect((await hub.getToken(httpEvent({ key: READ_KEY, app: 'mp' }))).statusCode).toBe(200);
  });

  it('a cold container that cannot read SSM deletes no row and takes nothing out of the due index: the apps stay scheduled', async () => {
    await container().tick(); // SSM readable: oa has its row and its place in the index
    const key = { app: 'oa', kind: 'access_token' };
    const before = await world.store.read(key);
    expect(before?.dueAt).toBeDefined();
    expect(await world.store.getPrincipal('oa')).toBeDefined();
    ssmDown = true;
    world.clock.advance(5 * 60_000); // oa due for its probe
    const cold = container();
    const outcomes = await cold.tick();
    expect(outcomes.filter((o) => o.app === 'oa')).toEqual([]); // not known now, not "removed" either
    expect(await world.store.getPrincipal('oa')).toBeDefined();
    expect((await world.store.read(key))?.dueAt).toBe(before!.dueAt);
    // SSM back: the same container finds it and looks at it again.
    ssmDown = false;
    world.clock.advance(61_000);
    expect(await cold.tick()).toContainEqual(expect.objectContaining({ app: 'oa', kind: 'access_token' }));
  });
});
