import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../lib/http/auth.js';
import { APPS, closeSharedDynalite, httpEvent, json, READ_KEY, startWorld, type World } from '../support/world.js';

/** SSM is the one AWS service not run locally here: its client is mocked, DynamoDB and WeChat are real. */
const ssm = mockClient(SSMClient);
const KEY_B = `second_key_${'b'.repeat(24)}`;
const keys = (...list: string[]) =>
  JSON.stringify(list.map((k, i) => ({ name: `k${i}`, sha256: hashApiKey(k), apps: ['*'], scopes: ['read'] })));

let world: World;
let params: Record<string, string>;
beforeEach(async () => {
  world = await startWorld();
  params = {
    '/wechat-token-hub/test/oa': world.secrets.SECRET_OA!,
    '/wechat-token-hub/test/api-keys': keys(READ_KEY, KEY_B),
  };
  ssm.on(GetParameterCommand).callsFake((input: { Name: string }) => {
    const value = params[input.Name];
    if (value === undefined) throw Object.assign(new Error('ParameterNotFound'), { name: 'ParameterNotFound' });
    return { Parameter: { Name: input.Name, Type: 'SecureString', Value: value } };
  });
});
afterEach(async () => {
  ssm.reset();
  await world.close();
});
afterAll(closeSharedDynalite);

function container() {
  const apps = APPS.map((a) => (a.name === 'oa' ? { ...a, secret: { ssm: '/wechat-token-hub/test/oa' } } : a));
  return world.container(
    { HUB_APPS: JSON.stringify(apps), HUB_API_KEYS_SSM: '/wechat-token-hub/test/api-keys', SECRET_CACHE_TTL: '0' },
    { ssm: new SSMProvider({ clientConfig: { region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } } }) },
  );
}

describe('secrets and keys in SSM', () => {
  it('reads the AppSecret from an SSM SecureString, decrypted', async () => {
    const res = await container().getToken(httpEvent({ key: READ_KEY }));
    expect(res.statusCode).toBe(200);
    expect(json(res).access_token).toBe(world.sim.currentToken('wx_oa_0001'));
    expect(ssm).toHaveReceivedCommandWith(GetParameterCommand, { Name: '/wechat-token-hub/test/oa', WithDecryption: true });
  });

  it('a key removed from the SSM key list is refused', async () => {
    const hub = container();
    expect((await hub.getToken(httpEvent({ key: KEY_B }))).statusCode).toBe(200);
    params['/wechat-token-hub/test/api-keys'] = keys(READ_KEY);
    expect((await hub.getToken(httpEvent({ key: KEY_B }))).statusCode).toBe(401);
    expect((await hub.getToken(httpEvent({ key: READ_KEY }))).statusCode).toBe(200);
  });

  it('an unreadable or invalid key list lets nobody in, with 503 and no detail', async () => {
    const hub = container();
    params['/wechat-token-hub/test/api-keys'] = '[{"name":"broken"}]';
    const res = await hub.getToken(httpEvent({ key: READ_KEY }));
    expect(res.statusCode).toBe(503);
    expect(json(res).error.code).toBe('auth_unavailable');
    delete params['/wechat-token-hub/test/api-keys'];
    expect((await hub.getToken(httpEvent({ key: READ_KEY }))).statusCode).toBe(503);
  });

  it('when SSM cannot give the secret, the stored token is still served', async () => {
    const hub = container();
    const t = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token;
    delete params['/wechat-token-hub/test/oa'];
    world.clock.advance(60_000);
    expect(json(await container().getToken(httpEvent({ key: READ_KEY }))).access_token).toBe(t);
  });
});

describe('IAM authorizer mode', () => {
  it('serves callers by their IAM role, and ignores bearer keys', async () => {
    const hub = world.container({
      HUB_AUTH: 'iam',
      HUB_IAM_PRINCIPALS: JSON.stringify([{ name: 'orders', arn: 'arn:aws:iam::123456789012:role/orders', apps: ['oa'], scopes: ['read'] }]),
    });
    const signed = (arn: string) => {
      const e = httpEvent({});
      (e.requestContext as unknown as Record<string, unknown>).authorizer = { iam: { userArn: arn, accountId: '123456789012' } };
      return e;
    };
    expect((await hub.getToken(signed('arn:aws:sts::123456789012:assumed-role/orders/s1'))).statusCode).toBe(200);
    expect((await hub.getToken(signed('arn:aws:sts::123456789012:assumed-role/billing/s1'))).statusCode).toBe(403);
    expect((await hub.getToken(httpEvent({ key: READ_KEY }))).statusCode).toBe(401);
    const refresh = signed('arn:aws:sts::123456789012:assumed-role/orders/s1');
    Object.assign(refresh, httpEvent({ body: { stale_token: 'x' } }), { requestContext: refresh.requestContext });
    expect((await hub.forceRefresh(refresh)).statusCode).toBe(403); // no refresh scope
  });
});
