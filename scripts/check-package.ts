/**
 * After `npx sls package`: check the CloudFormation template against what the hub promises
 * (the functions, the schedule, every route, a protected table, IAM without wildcards, no secret
 * in any environment, the alarms, their topic and the dashboard, no VPC by default), then load
 * each bundled handler and serve a real token through the bundle, with dynalite and the simulator
 * standing in for AWS and WeChat. Last, package again with other stage params (egress=create with
 * the IAM authorizer, egress=existing, too many apps for the environment) into temporary
 * directories and check those templates (and the failure).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { hashApiKey } from '../lib/http/auth.js';
import { apiGatewayEvent, tokenEvent } from './api-event.js';
import { jsapiSignature } from '../lib/jssdk.js';
import { startDynalite } from '../lib/local/dynalite.js';
import { WeChatSimulator } from '../lib/simulator/wechat-simulator.js';
import { ensureTable } from '../lib/store/dynamodb.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
/** The environment for the packaging runs, before the bundle checks below fill process.env. */
const packagingEnv = { ...process.env };
const failures: string[] = [];
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};

type Resource = { Type: string; Properties: any; DeletionPolicy?: string; Condition?: string };
type Template = {
  Resources: Record<string, Resource>;
  Conditions?: Record<string, unknown>;
  Outputs?: Record<string, { Value: any; Condition?: string }>;
};
const readTemplate = (dir: string) => JSON.parse(readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
const template = readTemplate('.serverless');

/** A template's Conditions by name. The stage params are written in at package time, so each is a comparison of literals. */
function conditions(t: Template) {
  const known = new Map<string, boolean>();
  const evaluate = (e: any): boolean => {
    if (e && typeof e === 'object') {
      if (typeof e.Condition === 'string') return named(e.Condition);
      if (Array.isArray(e['Fn::Equals']) && e['Fn::Equals'].every((x: unknown) => typeof x === 'string')) return e['Fn::Equals'][0] === e['Fn::Equals'][1];
      if (Array.isArray(e['Fn::Not'])) return !evaluate(e['Fn::Not'][0]);
      if (Array.isArray(e['Fn::And'])) return e['Fn::And'].every(evaluate);
      if (Array.isArray(e['Fn::Or'])) return e['Fn::Or'].some(evaluate);
    }
    throw new Error(`condition not made of literals: ${JSON.stringify(e)}`);
  };
  const named = (name: string): boolean => {
    if (!known.has(name)) {
      if (t.Conditions?.[name] === undefined) throw new Error(`no condition ${name}`);
      known.set(name, evaluate(t.Conditions[name]));
    }
    return known.get(name)!;
  };
  return named;
}

/** What CloudFormation would create from a template: resources and outputs whose condition holds, each Fn::If resolved. */
function created(t: Template) {
  const condition = conditions(t);
  const resolve = (v: any): any => {
    if (Array.isArray(v)) return v.map(resolve);
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v['Fn::If'])) return resolve(condition(v['Fn::If'][0]) ? v['Fn::If'][1] : v['Fn::If'][2]);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
  };
  const holds = (c?: string) => c === undefined || condition(c);
  return {
    resources: Object.fromEntries(Object.entries(t.Resources).filter(([, r]) => holds(r.Condition)).map(([id, r]) => [id, resolve(r) as Resource])),
    outputs: Object.fromEntries(Object.entries(t.Outputs ?? {}).filter(([, o]) => holds(o.Condition)).map(([k, o]) => [k, resolve(o)])),
  };
}

const hasVpcPolicy = (t: Template) => JSON.stringify(t.Resources.IamRoleLambdaExecution?.Properties.ManagedPolicyArns ?? []).includes('AWSLambdaVPCAccessExecutionRole');

/** egress=none: no function in a VPC, nothing of the VPC created (each Egress* resource sits under a false condition). */
function checkNoEgress(t: Template, what: string) {
  const { resources: made, outputs } = created(t);
  check(Object.values(t.Resources).filter((r) => r.Type === 'AWS::Lambda::Function').every((f) => f.Properties.VpcConfig === undefined), `${what}: no function has a VpcConfig`);
  const ec2 = Object.keys(made).filter((id) => made[id]!.Type.startsWith('AWS::EC2::'));
  check(ec2.length === 0, `${what}: no VPC, subnet, NAT gateway or Elastic IP is created${ec2.length ? ` (${ec2.join(', ')})` : ''}`);
  check(!('EgressIp' in outputs) && !hasVpcPolicy(t), `${what}: no EgressIp output, no VPC access policy on the role`);
}

/** A list given as an array or as Fn::Split of a literal. */
const listOf = (v: any): unknown[] => (Array.isArray(v) ? v : Array.isArray(v?.['Fn::Split']) ? String(v['Fn::Split'][1]).split(v['Fn::Split'][0]) : []);

/**
 * egress=create (expect all undefined: the stack's own VPC) or egress=existing (the given ids):
 * every function in the private subnets, whose 0.0.0.0/0 route goes to the one NAT gateway, which
 * has the Elastic IP and sits in a subnet routed to an internet gateway; DynamoDB through a gateway endpoint.
 */
function checkEgress(t: Template, what: string, expect: { vpcId?: string; natSubnet?: string; subnets?: string[]; securityGroups?: string[] }) {
  const { resources: made, outputs } = created(t);
  const all = Object.entries(made);
  const ofKind = (type: string) => all.filter(([, r]) => r.Type === type);
  const ownVpc = expect.vpcId === undefined;
  const key = (v: unknown) => JSON.stringify(v);
  const functions = ofKind('AWS::Lambda::Function').map(([, f]) => f.Properties.VpcConfig);
  const vpcConfig = functions[0];
  check(functions.length === 9 && functions.every((c) => c !== undefined && key(c) === key(vpcConfig)), `${what}: every function has the same VpcConfig`);
  const subnets = listOf(vpcConfig?.SubnetIds);
  const groups = listOf(vpcConfig?.SecurityGroupIds);
  check(hasVpcPolicy(t), `${what}: the role has AWSLambdaVPCAccessExecutionRole (ENI permissions)`);

  const vpcs = ofKind('AWS::EC2::VPC');
  const nats = ofKind('AWS::EC2::NatGateway');
  const eips = ofKind('AWS::EC2::EIP');
  check(nats.length === 1 && eips.length === 1 && nats[0]![1].Properties.AllocationId?.['Fn::GetAtt']?.[0] === eips[0]![0], `${what}: one NAT gateway with the one Elastic IP`);
  const natId = nats[0]?.[0];
  const natSubnet = nats[0]?.[1].Properties.SubnetId;
  /** The 0.0.0.0/0 route of a subnet's route table, through its association. */
  const defaultRoute = (subnet: unknown) => {
    const table = ofKind('AWS::EC2::SubnetRouteTableAssociation').find(([, a]) => key(a.Properties.SubnetId) === key(subnet))?.[1].Properties.RouteTableId;
    return { table, route: ofKind('AWS::EC2::Route').find(([, r]) => key(r.Properties.RouteTableId) === key(table) && r.Properties.DestinationCidrBlock === '0.0.0.0/0')?.[1].Properties };
  };
  const privateTables = subnets.map((s) => defaultRoute(s).table);
  check(subnets.length > 0 && subnets.every((s) => defaultRoute(s).route?.NatGatewayId?.Ref === natId), `${what}: each function subnet routes 0.0.0.0/0 to the NAT gateway`);
  const endpoint = ofKind('AWS::EC2::VPCEndpoint').map(([, e]) => e.Properties).find((e) => key(e.ServiceName).includes('dynamodb'));
  check(endpoint?.VpcEndpointType === 'Gateway' && privateTables.every((rt) => endpoint.RouteTableIds?.some((x: unknown) => key(x) === key(rt))), `${what}: DynamoDB gateway endpoint on the private route tables`);
  check(outputs.EgressIp !== undefined && key(outputs.EgressIp.Value) === key({ 'Fn::GetAtt': [eips[0]?.[0], 'PublicIp'] }), `${what}: output EgressIp is the Elastic IP`);
  if (ownVpc) {
    const vpc = { Ref: vpcs[0]?.[0] };
    const ownSubnets = ofKind('AWS::EC2::Subnet');
    check(vpcs.length === 1 && ownSubnets.length === 4 && ownSubnets.every(([, s]) => key(s.Properties.VpcId) === key(vpc)), `${what}: one VPC with four subnets`);
    const zone = (s: unknown) => key(ownSubnets.find(([id]) => key({ Ref: id }) === key(s))?.[1].Properties.AvailabilityZone);
    check(subnets.length === 2 && zone(subnets[0]) !== zone(subnets[1]) && !subnets.some((s) => zone(s) === 'undefined'), `${what}: functions in two private subnets in two AZs`);
    const igw = ofKind('AWS::EC2::InternetGateway')[0]?.[0];
    check(igw !== undefined && ofKind('AWS::EC2::VPCGatewayAttachment').some(([, a]) => a.Properties.InternetGatewayId?.Ref === igw && key(a.Properties.VpcId) === key(vpc)), `${what}: internet gateway attached to the VPC`);
    const publicSubnets = ownSubnets.map(([id]) => ({ Ref: id })).filter((s) => defaultRoute(s).route?.GatewayId?.Ref === igw);
    check(publicSubnets.length === 2 && publicSubnets.some((s) => key(s) === key(natSubnet)) && new Set(publicSubnets.map(zone)).size === 2, `${what}: two public subnets (0.0.0.0/0 to the internet gateway), the NAT gateway in one`);
    const group = ofKind('AWS::EC2::SecurityGroup').find(([id]) => groups.length === 1 && key(groups[0]) === key({ Ref: id }))?.[1].Properties;
    check(
      group !== undefined && key(group.VpcId) === key(vpc) && (group.SecurityGroupIngress ?? []).length === 0 && group.SecurityGroupEgress?.length === 1 && group.SecurityGroupEgress[0].IpProtocol === '-1' && group.SecurityGroupEgress[0].CidrIp === '0.0.0.0/0',
      `${what}: the functions' security group allows all egress and no ingress`,
    );
  } else {
    check(vpcs.length === 0 && ofKind('AWS::EC2::Subnet').length === 0 && ofKind('AWS::EC2::InternetGateway').length === 0 && ofKind('AWS::EC2::SecurityGroup').length === 0, `${what}: no VPC, subnet, internet gateway or security group created`);
    check(key(subnets) === key(expect.subnets) && key(groups) === key(expect.securityGroups), `${what}: functions in privateSubnetIds with securityGroupIds`);
    check(natSubnet === expect.natSubnet, `${what}: NAT gateway in natPublicSubnetId`);
    const tables = ofKind('AWS::EC2::RouteTable');
    check(tables.length === 1 && tables[0]![1].Properties.VpcId === expect.vpcId && privateTables.every((rt) => key(rt) === key({ Ref: tables[0]![0] })), `${what}: one route table in vpcId, associated with each private subnet`);
    check(endpoint?.VpcId === expect.vpcId, `${what}: the endpoint in vpcId`);
  }
}
const resources = Object.values(template.Resources);
const ofType = (t: string) => resources.filter((r) => r.Type === t);

const fns = ofType('AWS::Lambda::Function');
check(fns.length === 9, 'nine Lambda functions');
check(fns.every((f) => f.Properties.Runtime === 'nodejs22.x' && f.Properties.Architectures?.[0] === 'arm64'), 'nodejs22.x on arm64');
check(ofType('AWS::Events::Rule').some((r) => r.Properties.ScheduleExpression === 'rate(5 minutes)'), 'schedule rule rate(5 minutes)');
const routes = ofType('AWS::ApiGatewayV2::Route').map((r) => r.Properties.RouteKey);
check(routes.includes('GET /v1/apps/{app}/access-token'), 'route GET /v1/apps/{app}/access-token');
for (const r of [
  'POST /v1/apps/{app}/access-token/refresh',
  'GET /v1/apps/{app}/tickets/{type}',
  'POST /v1/apps/{app}/tickets/{type}/refresh',
  'POST /v1/apps/{app}/jsapi-signature',
  'POST /v1/apps/{app}/login',
  'POST /v1/apps/{app}/oauth/token',
  'ANY /v1/apps/{app}/wechat/{path+}',
  'GET /cgi-bin/token',
  'POST /cgi-bin/stable_token',
  'GET /cgi-bin/ticket/getticket',
  'GET /cgi-bin/gettoken',
  'GET /cgi-bin/get_jsapi_ticket',
  'GET /cgi-bin/ticket/get',
  'ANY /{path+}',
  'GET /v1/status',
  'GET /v1/status/{app}/quota',
  'GET /v1/health',
]) {
  check(routes.includes(r), `route ${r}`);
}
const statusFn = template.Resources.StatusLambdaFunction;
check(statusFn?.Properties.Handler === 'functions/status.handler', 'status function (functions/status.handler)');
const routeTarget = (t: Template, key: string) => JSON.stringify(Object.values(t.Resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Route' && r.Properties.RouteKey === key)?.Properties.Target);
check(['GET /v1/status', 'GET /v1/status/{app}/quota', 'GET /v1/health'].every((k) => routeTarget(template, k)?.includes('HttpApiIntegrationStatus')), 'the status routes go to the status function');
/**
 * /v1 routes take the stage's authorizer; none in either mode: GET /v1/health, a platform's event URL
 * (WeChat calls it) and its authorization page (a browser comes back with WeChat's code).
 */
const OPEN_V1 = ['GET /v1/health', 'POST /v1/platforms/{name}/events', 'GET /v1/platforms/{name}/authorized'];
const checkAuthorization = (t: Template, expected: 'NONE' | 'AWS_IAM', what: string) => {
  const v1 = Object.values(t.Resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route' && r.Properties.RouteKey.includes(' /v1/'));
  const open = v1.filter((r) => OPEN_V1.includes(r.Properties.RouteKey));
  const others = v1.filter((r) => !OPEN_V1.includes(r.Properties.RouteKey));
  check(others.length >= 8 && others.every((r) => r.Properties.AuthorizationType === expected), `${what}: every /v1/ route but health and a platform's event URL and authorization page has AuthorizationType ${expected}`);
  check(open.length === OPEN_V1.length && open.every((r) => (r.Properties.AuthorizationType ?? 'NONE') === 'NONE'), `${what}: GET /v1/health and a platform's event URL and authorization page have no authorizer`);
};
checkAuthorization(template, 'NONE', 'authorizer=key');
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
const apps = 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/wechat-token-hub/dev/apps';
const byPath = statements.filter((s: any) => [s.Action].flat().some((a: string) => /^ssm:(GetParametersByPath|GetParameter\*|\*)$/.test(a)));
check(
  byPath.length === 1 && JSON.stringify([byPath[0].Action].flat()) === '["ssm:GetParametersByPath"]' && JSON.stringify([byPath[0].Resource].flat()) === JSON.stringify([{ 'Fn::Sub': apps }]),
  'ssm:GetParametersByPath on exactly the apps path /wechat-token-hub/dev/apps',
);
const kmsPattern = statements.find((s: any) => [s.Action].flat().includes('kms:Decrypt'))?.Condition?.StringLike?.['kms:EncryptionContext:PARAMETER_ARN']?.['Fn::Sub'];
const globMatches = (glob: string, text: string) => new RegExp(`^${glob.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(text);
check(typeof kmsPattern === 'string' && globMatches(kmsPattern, `${apps}/shop`), 'KMS decrypt condition covers the apps\' parameters (…/apps/<app>)');
check(fns.every((f) => f.Properties.Environment?.Variables?.HUB_APPS_SSM_PATH === '/wechat-token-hub/dev/apps/'), 'HUB_APPS_SSM_PATH=/wechat-token-hub/dev/apps/ in every function');
check(fns.every((f) => f.Properties.Environment?.Variables?.HUB_APPS === '[]'), 'HUB_APPS defaults to [] (apps come from SSM)');
check(
  fns.every((f) => {
    const v = f.Properties.Environment?.Variables ?? {};
    return v.WECHAT_API_BASES === 'https://api.weixin.qq.com,https://api2.weixin.qq.com' && v.WECOM_API_BASES === 'https://qyapi.weixin.qq.com' && !('WECHAT_API_BASE' in v) && !('WECOM_API_BASE' in v);
  }),
  'WECHAT_API_BASES defaults to api, then the disaster-recovery api2; WECOM_API_BASES to qyapi (and no single-base variable beside them)',
);
const { environmentSize } = createRequire(import.meta.url)('../deploy/check-env-size.cjs') as { environmentSize: (e: Record<string, unknown>) => { json: number } };
const envSizes = fns.map((f) => environmentSize(f.Properties.Environment?.Variables ?? {}).json);
check(Math.max(...envSizes) < 4096, `every function's environment under 4 KB (largest ${Math.max(...envSizes)} bytes)`);
const envText = JSON.stringify(fns.map((f) => f.Properties.Environment));
check(!/"env"\s*:/.test(envText.replace(/\\"/g, '"')), 'no app secret read from a plain environment variable in AWS');
check(!/SECRET|HUB_API_KEYS"/.test(envText.replace(/HUB_API_KEYS_SSM/g, '')), 'no secret and no key list in any function environment');

// Alarms: each to the topic on ALARM and OK, with a deliberate TreatMissingData.
const topics = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::SNS::Topic');
check(topics.length === 1, 'an SNS topic for the alarms');
const topicId = topics[0]?.[0];
const subscription = Object.values(template.Resources).find((r) => r.Type === 'AWS::SNS::Subscription');
check(
  subscription?.Properties.Protocol === 'email' && subscription.Properties.TopicArn?.Ref === topicId && subscription.Condition === 'HasAlarmEmail' && !conditions(template)('HasAlarmEmail'),
  'e-mail subscription only with the alarmEmail param (none by default)',
);
const tick = { Ref: 'RefreshTickLambdaFunction' };
const hub = [{ Name: 'service', Value: 'wechat-token-hub' }];
const onTick = [{ Name: 'FunctionName', Value: tick }];
const alarms = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');
for (const [metric, namespace, dimensions, stat, period, op, threshold, missing] of [
  ['MinCredentialSecondsLeft', 'WechatTokenHub', hub, 'Minimum', 300, 'LessThanThreshold', 600, undefined],
  ['TokenRefreshFailed', 'WechatTokenHub', hub, 'Sum', 900, 'GreaterThanOrEqualToThreshold', 3, undefined],
  ['Errors', 'AWS/Lambda', onTick, 'Sum', 300, 'GreaterThanOrEqualToThreshold', 1, undefined],
  ['Throttles', 'AWS/Lambda', onTick, 'Sum', 300, 'GreaterThanOrEqualToThreshold', 1, undefined],
  ['Invocations', 'AWS/Lambda', onTick, 'Sum', 900, 'LessThanThreshold', 1, 'breaching'],
  ['MaxQuotaUsedPercent', 'WechatTokenHub', hub, 'Maximum', 300, 'GreaterThanThreshold', 80, undefined],
  ['ForcedRefreshRefused', 'WechatTokenHub', hub, 'Sum', 300, 'GreaterThanOrEqualToThreshold', 1, undefined],
] as const) {
  const a = alarms.map(([, r]) => r.Properties).find((p) => p.MetricName === metric && p.Namespace === namespace);
  check(
    a !== undefined &&
      JSON.stringify(a.Dimensions) === JSON.stringify(dimensions) &&
      a.Statistic === stat &&
      a.Period === period &&
      a.EvaluationPeriods === 1 &&
      a.ComparisonOperator === op &&
      a.Threshold === threshold &&
      ['breaching', 'notBreaching', 'ignore', 'missing'].includes(a.TreatMissingData) &&
      (missing === undefined || a.TreatMissingData === missing) &&
      JSON.stringify(a.AlarmActions) === JSON.stringify([{ Ref: topicId }]) &&
      JSON.stringify(a.OKActions) === JSON.stringify([{ Ref: topicId }]),
    `alarm on ${namespace} ${metric} ${stat} ${op} ${threshold} over ${period} s, to the topic${missing ? `, missing data ${missing}` : ''}`,
  );
}
// The platforms' alarms (README, "Alarms, notifications and the dashboard"): not of one period like those above.
for (const [metric, stat, period, evaluation, op, threshold] of [
  ['MaxComponentVerifyTicketAgeSeconds', 'Maximum', 300, 2, 'GreaterThanThreshold', 3600],
  ['AuthorizersNeedingReauthorization', 'Sum', 600, 1, 'GreaterThanOrEqualToThreshold', 1],
] as const) {
  const a = alarms.map(([, r]) => r.Properties).find((p) => p.MetricName === metric && p.Namespace === 'WechatTokenHub');
  check(
    a !== undefined &&
      JSON.stringify(a.Dimensions) === JSON.stringify(hub) &&
      a.Statistic === stat &&
      a.Period === period &&
      a.EvaluationPeriods === evaluation &&
      (a.DatapointsToAlarm ?? evaluation) === evaluation &&
      a.ComparisonOperator === op &&
      a.Threshold === threshold &&
      a.TreatMissingData === 'missing' &&
      JSON.stringify(a.AlarmActions) === JSON.stringify([{ Ref: topicId }]) &&
      JSON.stringify(a.OKActions) === JSON.stringify([{ Ref: topicId }]),
    `alarm on WechatTokenHub ${metric} ${stat} ${op} ${threshold} over ${evaluation} × ${period} s, to the topic, missing data missing`,
  );
}
// The dashboard: its body is JSON with ${…} substitutions for the region, the tick and the API.
const dashboard = Object.values(template.Resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard');
const dashboardSub = dashboard?.Properties.DashboardBody?.['Fn::Sub'];
const dashboardText: string = typeof dashboardSub === 'string' ? dashboardSub : '';
let widgets: any[] = [];
try {
  widgets = JSON.parse(dashboardText).widgets ?? [];
} catch {
  /* checked below */
}
check(widgets.length > 0, 'a CloudWatch dashboard whose body (Fn::Sub) is JSON');
const graphs = (w: any) => JSON.stringify(w.properties?.metrics ?? []);
const widgetWith = (...parts: string[]) => widgets.some((w) => w.type === 'metric' && parts.every((p) => graphs(w).includes(p)));
check(widgets.every((w) => w.type !== 'metric' || w.properties.region === '${AWS::Region}'), 'dashboard graphs in the stack\'s region');
check(widgetWith('SEARCH(', 'MetricName=\\"CredentialSecondsLeft\\"', 'app,kind'), 'dashboard: seconds left per app and kind (SEARCH)');
check(['TokenRefreshed', 'TokenRefreshFailed', 'SelfHealed', 'ForcedRefreshNotRotated', 'ForcedRefreshRefused'].every((m) => widgetWith(`"${m}"`)), 'dashboard: refreshes, failures, self-heals, forced refreshes');
check(widgetWith('QuotaUsedPercent'), 'dashboard: quota used %');
check(widgetWith('"AWS/Lambda","Errors"', '"AWS/Lambda","Throttles"', '"AWS/Lambda","Duration"', '${RefreshTickLambdaFunction}'), 'dashboard: tick Lambda errors, throttles, duration');
check(widgetWith('"AWS/ApiGateway","4xx"', '"AWS/ApiGateway","5xx"', '"AWS/ApiGateway","Latency"', '"ApiId","${HttpApi}"'), 'dashboard: HTTP API 4xx, 5xx, latency');
const alarmWidget = widgets.find((w) => w.type === 'alarm');
check(widgetWith('SEARCH(', 'MetricName=\\"ComponentVerifyTicketAgeSeconds\\"', 'platform,service') && widgetWith('"AuthorizersNeedingReauthorization"'), 'dashboard: ticket age per platform, authorizers needing re-authorization');
check(alarms.length === 9 && alarms.every(([id]) => alarmWidget?.properties.alarms?.includes(`\${${id}.Arn}`)), 'dashboard: an alarm-status widget with every alarm');
check(JSON.stringify(template.Outputs?.DashboardUrl?.Value ?? '').includes('#dashboards'), 'output DashboardUrl');
check(template.Outputs?.AlarmTopicArn?.Value?.Ref === topicId, 'output AlarmTopicArn');
checkNoEgress(template, 'egress=none (default)');

// The bundles: unzip each, load it, and serve through it.
const dir = mkdtempSync(join(tmpdir(), 'hub-bundle-'));
const BUNDLES = { getToken: 'get-token', forceRefresh: 'force-refresh', refreshTick: 'refresh-tick', tickets: 'tickets', compat: 'compat', proxy: 'proxy', status: 'status', login: 'login', platform: 'platform' };
for (const f of Object.keys(BUNDLES)) execFileSync('unzip', ['-q', '-o', `.serverless/${f}.zip`, '-d', join(dir, f)]);

// Each function bundles only its own routes (lib/http/routes.ts: a function imports only its own
// handler map, and route modules build their routes with pure-annotated calls, dropped where
// unused): a text only a route's code has is in its function's bundle and in no other.
const ROUTE_MARKERS: Record<string, string> = {
  forceRefresh: 'stale_token',
  tickets: 'ticket types are ',
  status: 'WeCom has no quota API',
  compat: 'with the read scope on this app, not the AppSecret',
  proxy: 'the proxy forwards GET and POST',
  login: 'WeChat refused the login',
  platform: 'platform event seen before',
};
/**
 * The largest bundle (bytes, unzipped) a function may have: they were 587-602 KB when the route
 * table came, 630-650 KB once third-party platforms came (their kinds, the authorizations and the
 * principal registry's runtime rows are in every bundle, as every kind is). The tick also carries
 * the Lambda client for its fan-out (lib/scheduler/fan-out.ts): about 90 KB more, and only there.
 */
const BUNDLE_BUDGET_BYTES = 670_000;
const BUNDLE_BUDGETS: Record<string, number> = { refreshTick: 750_000 };
const bundleText = Object.fromEntries(Object.entries(BUNDLES).map(([f, file]) => [f, readFileSync(join(dir, f, 'functions', `${file}.mjs`), 'utf8')]));
for (const [f, text] of Object.entries(bundleText)) {
  const foreign = Object.entries(ROUTE_MARKERS).filter(([owner, marker]) => owner !== f && text.includes(marker)).map(([owner]) => owner);
  const own = ROUTE_MARKERS[f];
  check(foreign.length === 0 && (own === undefined || text.includes(own)), `the ${f} bundle has its own routes and no other function's${foreign.length ? ` (it has ${foreign.join(', ')}'s)` : ''}`);
  const size = Buffer.byteLength(text);
  const budget = BUNDLE_BUDGETS[f] ?? BUNDLE_BUDGET_BYTES;
  check(size <= budget, `the ${f} bundle is within ${budget} bytes (${size})`);
}

const dynamo = await startDynalite();
const sim = new WeChatSimulator({
  apps: [{ appid: 'wx_bundle', secret: 'bundle-secret-000' }, { appid: 'wx_bundle_mini', secret: 'bundle-mini-secret' }],
  wecomApps: [{ corpid: 'ww_bundle', agentid: 1000002, secret: 'bundle-wecom-secret' }],
});
const base = await sim.listen();
const key = 'bundle_check_key_0123456789';
Object.assign(process.env, {
  HUB_APPS: JSON.stringify([
    { name: 'b', appid: 'wx_bundle', type: 'official_account', secret: { env: 'BUNDLE_SECRET' }, compat: true },
    { name: 'w', type: 'wecom', corpid: 'ww_bundle', agentid: 1000002, secret: { env: 'BUNDLE_WECOM_SECRET' } },
    { name: 'm', appid: 'wx_bundle_mini', type: 'mini_program', secret: { env: 'BUNDLE_MINI_SECRET' }, compat: true },
  ]),
  BUNDLE_SECRET: 'bundle-secret-000',
  BUNDLE_WECOM_SECRET: 'bundle-wecom-secret',
  BUNDLE_MINI_SECRET: 'bundle-mini-secret',
  HUB_API_KEYS: JSON.stringify([{ name: 'k', sha256: hashApiKey(key), apps: ['*'], scopes: ['read', 'refresh', 'proxy', 'login', 'admin'] }]),
  WECHAT_API_BASE: base,
  WECOM_API_BASE: base,
  TABLE_NAME: 'bundle-check',
  DYNAMODB_ENDPOINT: dynamo.endpoint,
  AWS_REGION: 'local',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  // The bundles' CloudWatch metrics are EMF lines on stdout: not part of this report.
  POWERTOOLS_METRICS_DISABLED: 'true',
});
const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'local', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
await ensureTable(client, 'bundle-check');
/** An API Gateway v2 event of one of the stack's routes, with the check's key. */
const ticketsEvent = (routeKey: string, path: string, pathParameters: Record<string, string>, body?: unknown) => apiGatewayEvent(key, routeKey, path, pathParameters, body);
try {
  const load = async (f: string, file: string) => (await import(pathToFileURL(join(dir, f, 'functions', file)).href)) as { handler: (e: unknown) => Promise<any> };
  const tick = await load('refreshTick', 'refresh-tick.mjs');
  const out = await tick.handler({});
  check(out.outcomes?.[0]?.outcome === 'refreshed', 'bundled refresh-tick refreshes');
  const get = await load('getToken', 'get-token.mjs');
  const res = await get.handler(tokenEvent(key, 'b'));
  check(res.statusCode === 200 && JSON.parse(res.body).access_token === sim.currentToken('wx_bundle'), 'bundled get-token serves the token');
  const force = await load('forceRefresh', 'force-refresh.mjs');
  const stale = JSON.parse(res.body).access_token;
  sim.revokeTokens('wx_bundle'); // WeChat no longer accepts it, so the probe lets the refresh go ahead
  const fr = await force.handler(tokenEvent(key, 'b', stale));
  check(fr.statusCode === 200 && JSON.parse(fr.body).refreshed === true, 'bundled force-refresh rotates a token WeChat rejects');
  const still = await force.handler(tokenEvent(key, 'b', JSON.parse(fr.body).access_token));
  check(still.statusCode === 200 && JSON.parse(still.body).refreshed === false, 'bundled force-refresh refuses to rotate a token WeChat accepts');

  const tickets = await load('tickets', 'tickets.mjs');
  const ticket = await tickets.handler(ticketsEvent('GET /v1/apps/{app}/tickets/{type}', '/v1/apps/b/tickets/jsapi', { app: 'b', type: 'jsapi' }));
  check(ticket.statusCode === 200 && JSON.parse(ticket.body).ticket === sim.currentTicket('wx_bundle', 'jsapi'), 'bundled tickets serves a jsapi_ticket');
  const staleTicket = JSON.parse(ticket.body).ticket;
  const rotated = await tickets.handler(ticketsEvent('POST /v1/apps/{app}/tickets/{type}/refresh', '/v1/apps/b/tickets/jsapi/refresh', { app: 'b', type: 'jsapi' }, { stale_ticket: staleTicket }));
  // A ticket cannot be probed: a report rotates one only once it is a minute old (this one is seconds old).
  check(rotated.statusCode === 429 && Number(rotated.headers?.['retry-after']) > 0 && sim.currentTicket('wx_bundle', 'jsapi') === staleTicket, 'bundled tickets refuses to rotate, on a report, a ticket fetched under a minute ago');
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

  const login = await load('login', 'login.mjs');
  const code = sim.issueLoginCode('wx_bundle_mini').code;
  const session = await login.handler(ticketsEvent('POST /v1/apps/{app}/login', '/v1/apps/m/login', { app: 'm' }, { js_code: code }));
  check(session.statusCode === 200 && sim.issuedLoginValues().includes(JSON.parse(session.body).session_key), 'bundled login exchanges a Mini Program\'s code for its session (code2Session)');
  const reused = await login.handler(ticketsEvent('POST /v1/apps/{app}/login', '/v1/apps/m/login', { app: 'm' }, { js_code: code }));
  check(reused.statusCode === 400 && JSON.parse(reused.body).error?.errcode === 40029 && !reused.body.includes(code), 'bundled login answers a used code 400 invalid_code with errcode 40029, without the code');
  const sdkLogin = await compat.handler({ ...ticketsEvent('ANY /{path+}', '/sns/jscode2session', {}), requestContext: { http: { method: 'GET' } }, headers: {}, rawQueryString: `appid=wx_bundle_mini&secret=${key}&js_code=${sim.issueLoginCode('wx_bundle_mini').code}&grant_type=authorization_code` });
  check(sdkLogin.statusCode === 200 && sim.issuedLoginValues().includes(JSON.parse(sdkLogin.body).session_key), 'bundled compat sends /sns/jscode2session with a hub key on with the real secret');

  const status = await load('status', 'status.mjs');
  const health = await status.handler({ ...ticketsEvent('GET /v1/health', '/v1/health', {}), headers: {} });
  check(health.statusCode === 200 && health.body === '{"status":"ok"}', 'bundled status answers /v1/health without a key or details');
  const view = await status.handler(ticketsEvent('GET /v1/status', '/v1/status', {}));
  const apps = view.statusCode === 200 ? (JSON.parse(view.body).apps as { app: string; credentials: { kind: string; state: string }[] }[]) : [];
  check(
    apps.find((a) => a.app === 'b')?.credentials.find((c) => c.kind === 'access_token')?.state === 'ok' && !view.body.includes(sim.currentToken('wx_bundle')!),
    'bundled status lists the apps and their credentials, without a token',
  );
} catch (error) {
  check(false, `bundles load and run (${error instanceof Error ? error.message : String(error)})`);
} finally {
  client.destroy();
  await sim.close();
  await dynamo.close();
}

// Package again with other params, each into its own directory. Every `sls package` clears
// .serverless first, so it is put back afterwards for whoever runs `sls deploy --package .serverless`.
const work = mkdtempSync(join(tmpdir(), 'hub-package-'));
const saved = join(work, 'saved');
const hadPackage = existsSync('.serverless');
if (hadPackage) cpSync('.serverless', saved, { recursive: true });
const slsPackage = (name: string, params: string[]) => {
  const out = join(work, name);
  const run = spawnSync('npx', ['sls', 'package', '--package', out, ...params.map((p) => `--param=${p}`)], { encoding: 'utf8', env: packagingEnv, timeout: 120_000 });
  return { out, status: run.status, output: `${run.stdout}${run.stderr}` };
};
try {
  // authorizer=iam needs its principals: without them deploy/check-config.cjs refuses to package.
  const principals = JSON.stringify([{ name: 'orders', arn: 'arn:aws:iam::123456789012:role/orders', apps: ['*'], scopes: ['read'] }]);
  const create = slsPackage('create', ['egress=create', 'authorizer=iam', `iamPrincipals=${principals}`, 'alarmEmail=ops@example.com']);
  check(create.status === 0, `packages with egress=create, authorizer=iam${create.status === 0 ? '' : `: ${create.output.slice(-2000)}`}`);
  if (create.status === 0) {
    const t = readTemplate(create.out);
    checkEgress(t, 'egress=create', { vpcId: undefined, natSubnet: undefined, subnets: undefined, securityGroups: undefined });
    checkAuthorization(t, 'AWS_IAM', 'authorizer=iam');
    const sub = Object.values(created(t).resources).find((r) => r.Type === 'AWS::SNS::Subscription');
    check(sub?.Properties.Endpoint === 'ops@example.com', 'alarmEmail=ops@example.com subscribes that address');
  }
  const existing = slsPackage('existing', ['egress=existing', 'vpcId=vpc-1', 'privateSubnetIds=subnet-a,subnet-b', 'securityGroupIds=sg-1', 'natPublicSubnetId=subnet-p']);
  check(existing.status === 0, `packages with egress=existing${existing.status === 0 ? '' : `: ${existing.output.slice(-2000)}`}`);
  if (existing.status === 0) {
    checkEgress(readTemplate(existing.out), 'egress=existing', { vpcId: 'vpc-1', natSubnet: 'subnet-p', subnets: ['subnet-a', 'subnet-b'], securityGroups: ['sg-1'] });
  }
  const incomplete = slsPackage('incomplete', ['egress=existing', 'privateSubnetIds=subnet-a']);
  check(incomplete.status !== 0 && /egress=existing needs these params/.test(incomplete.output) && /vpcId/.test(incomplete.output), 'egress=existing without all its params fails, naming them');
  const many = JSON.stringify(
    Array.from({ length: 40 }, (_, i) => ({ name: `app${i}`, appid: `wx${String(i).padStart(16, '0')}`, type: 'official_account', secret: { ssm: `/wechat-token-hub/dev/app${i}` } })),
  );
  const tooBig = slsPackage('too-big', [`apps=${many}`]);
  check(
    tooBig.status !== 0 && /Lambda environment too large/.test(tooBig.output) && /function "getToken": \d+ bytes/.test(tooBig.output) && tooBig.output.includes('/wechat-token-hub/dev/apps/'),
    'packaging 40 apps in the apps param fails: names the function and its size, and says to move the apps to SSM',
  );
} finally {
  rmSync('.serverless', { recursive: true, force: true });
  if (hadPackage) cpSync(saved, '.serverless', { recursive: true });
  rmSync(work, { recursive: true, force: true });
}

if (failures.length) {
  console.error(`${failures.length} package check(s) failed`);
  process.exit(1);
}
console.log('package checks passed');
process.exit(0);
