/**
 * After `npx sls package`: check the CloudFormation template against what the hub promises
 * (four functions, the schedule, every route, a protected table, IAM without wildcards, no secret
 * in any environment), then load each bundled handler and serve a real token through the bundle,
 * with dynalite and the simulator standing in for AWS and WeChat.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { hashApiKey } from '../lib/http/auth.js';
import { jsapiSignature } from '../lib/jssdk.js';
import { startDynalite } from '../lib/local/dynalite.js';
import { WeChatSimulator } from '../lib/simulator/wechat-simulator.js';
import { ensureTable } from '../lib/store/dynamodb.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const failures: string[] = [];
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};

const template = JSON.parse(readFileSync('.serverless/cloudformation-template-update-stack.json', 'utf8')) as {
  Resources: Record<string, { Type: string; Properties: any; DeletionPolicy?: string }>;
};
const resources = Object.values(template.Resources);
const ofType = (t: string) => resources.filter((r) => r.Type === t);

const fns = ofType('AWS::Lambda::Function');
check(fns.length === 6, 'six Lambda functions');
check(fns.every((f) => f.Properties.Runtime === 'nodejs22.x' && f.Properties.Architectures?.[0] === 'arm64'), 'nodejs22.x on arm64');
check(ofType('AWS::Events::Rule').some((r) => r.Properties.ScheduleExpression === 'rate(5 minutes)'), 'schedule rule rate(5 minutes)');
const routes = ofType('AWS::ApiGatewayV2::Route').map((r) => r.Properties.RouteKey);
check(routes.includes('GET /v1/apps/{app}/access-token'), 'route GET /v1/apps/{app}/access-token');
for (const r of [
  'POST /v1/apps/{app}/access-token/refresh',
  'GET /v1/apps/{app}/tickets/{type}',
  'POST /v1/apps/{app}/tickets/{type}/refresh',
  'POST /v1/apps/{app}/jsapi-signature',
  'ANY /v1/apps/{app}/wechat/{path+}',
  'GET /cgi-bin/token',
  'POST /cgi-bin/stable_token',
  'GET /cgi-bin/ticket/getticket',
  'GET /cgi-bin/gettoken',
  'GET /cgi-bin/get_jsapi_ticket',
  'GET /cgi-bin/ticket/get',
  'ANY /{path+}',
]) {
  check(routes.includes(r), `route ${r}`);
}
const native = ofType('AWS::ApiGatewayV2::Route').filter((r) => r.Properties.RouteKey.includes(' /v1/'));
check(native.every((r) => r.Properties.AuthorizationType === native[0]!.Properties.AuthorizationType), 'every /v1/ route has the same authorization type');
const stage = ofType('AWS::ApiGatewayV2::Stage')[0];
const accessLog = String(stage?.Properties.AccessLogSettings?.Format ?? '');
check(accessLog.includes('$context.routeKey') && !/\$context\.(path|requestOverride|requestUri)|query|\$input/i.test(accessLog), 'access logs carry the route template, never the path or the query string');
const table = ofType('AWS::DynamoDB::Table')[0];
check(table?.Properties.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled === true, 'table has point-in-time recovery');
check(table?.Properties.DeletionProtectionEnabled === true, 'table has deletion protection');
check(table?.DeletionPolicy === 'Retain', 'table DeletionPolicy Retain');
check(table?.Properties.BillingMode === 'PAY_PER_REQUEST', 'table on demand');

const statements = ofType('AWS::IAM::Role').flatMap((r) => (r.Properties.Policies ?? []).flatMap((p: any) => p.PolicyDocument.Statement));
const hubStatements = statements.filter((s: any) => [s.Action].flat().some((a: string) => a.startsWith('dynamodb:') || a.startsWith('ssm:')));
check(hubStatements.length > 0, 'IAM statements for the table and SSM exist');
const wildcard = statements.filter((s: any) => [s.Action].flat().some((a: string) => a === '*' || a.endsWith(':*')) || [s.Resource].flat().some((r: unknown) => r === '*'));
check(wildcard.length === 0, `no IAM statement with action or resource "*" (${JSON.stringify(wildcard)})`);
const ssmStatements = statements.filter((s: any) => [s.Action].flat().some((a: string) => a.startsWith('ssm:') || a.startsWith('kms:')));
check(
  ssmStatements.every((s: any) => JSON.stringify(s).includes('parameter/wechat-token-hub/${sls:stage}/'.replace('${sls:stage}', 'dev'))),
  'SSM and KMS permissions scoped to the hub\'s parameter path',
);
const envText = JSON.stringify(fns.map((f) => f.Properties.Environment));
check(!/"env"\s*:/.test(envText.replace(/\\"/g, '"')), 'no app secret read from a plain environment variable in AWS');
check(!/SECRET|HUB_API_KEYS"/.test(envText.replace(/HUB_API_KEYS_SSM/g, '')), 'no secret and no key list in any function environment');

// The bundles: unzip each, load it, and serve through it.
const dir = mkdtempSync(join(tmpdir(), 'hub-bundle-'));
for (const f of ['getToken', 'forceRefresh', 'refreshTick', 'tickets', 'compat', 'proxy']) execFileSync('unzip', ['-q', '-o', `.serverless/${f}.zip`, '-d', join(dir, f)]);

const dynamo = await startDynalite();
const sim = new WeChatSimulator({
  apps: [{ appid: 'wx_bundle', secret: 'bundle-secret-000' }],
  wecomApps: [{ corpid: 'ww_bundle', agentid: 1000002, secret: 'bundle-wecom-secret' }],
});
const base = await sim.listen();
const key = 'bundle_check_key_0123456789';
Object.assign(process.env, {
  HUB_APPS: JSON.stringify([
    { name: 'b', appid: 'wx_bundle', type: 'official_account', secret: { env: 'BUNDLE_SECRET' }, compat: true },
    { name: 'w', type: 'wecom', corpid: 'ww_bundle', agentid: 1000002, secret: { env: 'BUNDLE_WECOM_SECRET' } },
  ]),
  BUNDLE_SECRET: 'bundle-secret-000',
  BUNDLE_WECOM_SECRET: 'bundle-wecom-secret',
  HUB_API_KEYS: JSON.stringify([{ name: 'k', sha256: hashApiKey(key), apps: ['*'], scopes: ['read', 'refresh', 'proxy'] }]),
  WECHAT_API_BASE: base,
  WECOM_API_BASE: base,
  TABLE_NAME: 'bundle-check',
  DYNAMODB_ENDPOINT: dynamo.endpoint,
  AWS_REGION: 'local',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
});
const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'local', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
await ensureTable(client, 'bundle-check');
/** An API Gateway v2 event for app "b": a read, or a forced refresh when a stale token is given. */
const apiEvent = (staleToken?: string) => ({
  version: '2.0',
  rawPath: staleToken === undefined ? '/v1/apps/b/access-token' : '/v1/apps/b/access-token/refresh',
  rawQueryString: '',
  headers: { authorization: `Bearer ${key}`, ...(staleToken === undefined ? {} : { 'content-type': 'application/json' }) },
  pathParameters: { app: 'b' },
  body: staleToken === undefined ? undefined : JSON.stringify({ stale_token: staleToken }),
  isBase64Encoded: false,
  requestContext: { http: { method: staleToken === undefined ? 'GET' : 'POST' } },
});
/** An API Gateway v2 event for the ticket family. */
const ticketsEvent = (routeKey: string, path: string, pathParameters: Record<string, string>, body?: unknown) => ({
  version: '2.0',
  routeKey,
  rawPath: path,
  rawQueryString: '',
  headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
  pathParameters,
  body: body === undefined ? undefined : JSON.stringify(body),
  isBase64Encoded: false,
  requestContext: { http: { method: routeKey.split(' ')[0] } },
});
try {
  const load = async (f: string, file: string) => (await import(pathToFileURL(join(dir, f, 'functions', file)).href)) as { handler: (e: unknown) => Promise<any> };
  const tick = await load('refreshTick', 'refresh-tick.mjs');
  const out = await tick.handler({});
  check(out.outcomes?.[0]?.outcome === 'refreshed', 'bundled refresh-tick refreshes');
  const get = await load('getToken', 'get-token.mjs');
  const res = await get.handler(apiEvent());
  check(res.statusCode === 200 && JSON.parse(res.body).access_token === sim.currentToken('wx_bundle'), 'bundled get-token serves the token');
  const force = await load('forceRefresh', 'force-refresh.mjs');
  const stale = JSON.parse(res.body).access_token;
  sim.revokeTokens('wx_bundle'); // WeChat no longer accepts it, so the probe lets the refresh go ahead
  const fr = await force.handler(apiEvent(stale));
  check(fr.statusCode === 200 && JSON.parse(fr.body).refreshed === true, 'bundled force-refresh rotates a token WeChat rejects');
  const still = await force.handler(apiEvent(JSON.parse(fr.body).access_token));
  check(still.statusCode === 200 && JSON.parse(still.body).refreshed === false, 'bundled force-refresh refuses to rotate a token WeChat accepts');

  const tickets = await load('tickets', 'tickets.mjs');
  const ticket = await tickets.handler(ticketsEvent('GET /v1/apps/{app}/tickets/{type}', '/v1/apps/b/tickets/jsapi', { app: 'b', type: 'jsapi' }));
  check(ticket.statusCode === 200 && JSON.parse(ticket.body).ticket === sim.currentTicket('wx_bundle', 'jsapi'), 'bundled tickets serves a jsapi_ticket');
  const staleTicket = JSON.parse(ticket.body).ticket;
  const rotated = await tickets.handler(ticketsEvent('POST /v1/apps/{app}/tickets/{type}/refresh', '/v1/apps/b/tickets/jsapi/refresh', { app: 'b', type: 'jsapi' }, { stale_ticket: staleTicket }));
  check(rotated.statusCode === 200 && JSON.parse(rotated.body).ticket === sim.currentTicket('wx_bundle', 'jsapi') && JSON.parse(rotated.body).ticket !== staleTicket, 'bundled tickets rotates a stale ticket');
  const signed = await tickets.handler(ticketsEvent('POST /v1/apps/{app}/jsapi-signature', '/v1/apps/w/jsapi-signature', { app: 'w' }, { url: 'https://crm.example/p?a=1#x' }));
  const sig = signed.statusCode === 200 ? JSON.parse(signed.body) : {};
  check(
    sig.appId === 'ww_bundle' &&
      sig.signature === jsapiSignature({ ticket: sim.currentTicket('ww_bundle/1000002', 'jsapi')!, nonceStr: sig.nonceStr, timestamp: sig.timestamp, url: 'https://crm.example/p?a=1' }) &&
      sig.agentConfig?.signature === jsapiSignature({ ticket: sim.currentTicket('ww_bundle/1000002', 'agent_config')!, nonceStr: sig.agentConfig.nonceStr, timestamp: sig.agentConfig.timestamp, url: 'https://crm.example/p?a=1' }),
    'bundled tickets signs a WeCom page for wx.config and wx.agentConfig',
  );

  const compat = await load('compat', 'compat.mjs');
  const sdkEvent = (query: string) => ({ ...ticketsEvent('GET /cgi-bin/token', '/cgi-bin/token', {}), headers: {}, rawQueryString: query });
  const viaSdk = await compat.handler(sdkEvent(`grant_type=client_credential&appid=wx_bundle&secret=${key}`));
  check(viaSdk.statusCode === 200 && JSON.parse(viaSdk.body).access_token === sim.currentToken('wx_bundle'), 'bundled compat answers /cgi-bin/token with the hub\'s token for a hub key');
  const wrongKey = await compat.handler(sdkEvent('grant_type=client_credential&appid=wx_bundle&secret=not_a_key_0000000000'));
  check(JSON.parse(wrongKey.body).errcode === 40125 && !wrongKey.body.includes('not_a_key'), 'bundled compat answers a wrong key the WeChat way (40125)');

  const proxy = await load('proxy', 'proxy.mjs');
  const proxyEvent = ticketsEvent('ANY /v1/apps/{app}/wechat/{path+}', '/v1/apps/b/wechat/cgi-bin/getcallbackip', { app: 'b', path: 'cgi-bin/getcallbackip' });
  const proxied = await proxy.handler({ ...proxyEvent, requestContext: { http: { method: 'GET' } } });
  check(proxied.statusCode === 200 && Array.isArray(JSON.parse(proxied.body).ip_list), 'bundled proxy calls WeChat with the hub\'s token');
} catch (error) {
  check(false, `bundles load and run (${error instanceof Error ? error.message : String(error)})`);
} finally {
  client.destroy();
  await sim.close();
  await dynamo.close();
}

if (failures.length) {
  console.error(`${failures.length} package check(s) failed`);
  process.exit(1);
}
console.log('package checks passed');
process.exit(0);
