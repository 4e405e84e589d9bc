import { readFileSync } from 'node:fs';
import { CloudWatchClient, DescribeAlarmsCommand, GetMetricStatisticsCommand, type MetricAlarm } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, describe, expect, it } from 'vitest';
import { ALARMS, awsChecks } from '../../scripts/smoke-aws.js';

const cw = mockClient(CloudWatchClient);
const client = new CloudWatchClient({ region: 'ap-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
const topic = 'arn:aws:sns:ap-east-1:123456789012:wechat-token-hub-prod-alarms';
const alarm = (suffix: string, state = 'OK'): MetricAlarm => ({ AlarmName: `wechat-token-hub-prod-${suffix}`, StateValue: state as MetricAlarm['StateValue'], AlarmActions: [topic], OKActions: [topic], StateReason: `${suffix} reason` });
const NOW = Date.parse('2026-12-01T10:00:00Z');
const lines = (rs: { status: string; what: string; detail?: string }[]) => rs.map((r) => `${r.status} ${r.what}${r.detail ? ` | ${r.detail}` : ''}`);

afterEach(() => {
  cw.reset();
});

describe('the smoke test\'s AWS part (scripts/smoke-aws.ts)', () => {
  it('names the alarms serverless.yml creates', () => {
    const yml = readFileSync('serverless.yml', 'utf8');
    const names = [...yml.matchAll(/AlarmName: \$\{self:service\}-\$\{sls:stage\}-(\S+)/g)].map((m) => m[1]);
    expect(names.sort()).toEqual([...ALARMS].sort());
  });

  it('passes when the alarms exist with their topic, none fires, and the tick ran without errors', async () => {
    cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: ALARMS.map((s) => alarm(s)) });
    cw.on(GetMetricStatisticsCommand, { MetricName: 'Invocations' }).resolves({ Datapoints: [{ Sum: 1 }, { Sum: 2 }] });
    cw.on(GetMetricStatisticsCommand, { MetricName: 'Errors' }).resolves({ Datapoints: [{ Sum: 0 }] });
    const results = await awsChecks({ stage: 'prod', client, now: () => NOW });
    expect(lines(results)).toEqual([
      'ok the 9 alarms wechat-token-hub-prod-… exist',
      'ok each alarm notifies the SNS topic when it fires and when it clears',
      `ok no alarm is firing | states: ${ALARMS.map((s) => `${s} OK`).join(', ')}`,
      'ok the tick ran: wechat-token-hub-prod-refreshTick invoked 3 time(s) in the last 15 minutes',
      'ok the tick ran without errors in the last 15 minutes (0)',
    ]);
    expect(cw).toHaveReceivedCommandWith(DescribeAlarmsCommand, { AlarmNamePrefix: 'wechat-token-hub-prod-' });
    expect(cw).toHaveReceivedCommandWith(GetMetricStatisticsCommand, {
      Namespace: 'AWS/Lambda',
      MetricName: 'Invocations',
      Dimensions: [{ Name: 'FunctionName', Value: 'wechat-token-hub-prod-refreshTick' }],
      StartTime: new Date(NOW - 15 * 60_000),
      EndTime: new Date(NOW),
      Statistics: ['Sum'],
    });
  });

  it('fails a missing alarm, an alarm without its topic, a firing alarm, a tick that did not run', async () => {
    cw.on(DescribeAlarmsCommand)
      .resolvesOnce({ MetricAlarms: [alarm('credential-expiring'), alarm('tick-not-running', 'ALARM')], NextToken: 'n' })
      .resolvesOnce({ MetricAlarms: ALARMS.slice(2, 6).filter((s) => s !== 'tick-not-running').map((s) => alarm(s)).concat([{ ...alarm('forced-refresh-refused'), OKActions: [] }], ALARMS.slice(7).map((s) => alarm(s))) });
    cw.on(GetMetricStatisticsCommand).resolves({ Datapoints: [] });
    const out = lines(await awsChecks({ stage: 'prod', client, now: () => NOW })).join('\n');
    expect(out).toContain('fail the 9 alarms wechat-token-hub-prod-… exist | missing: wechat-token-hub-prod-refresh-failures (is --stage right?)');
    expect(out).toContain('fail each alarm notifies the SNS topic when it fires and when it clears | no topic on wechat-token-hub-prod-forced-refresh-refused');
    expect(out).toContain('fail no alarm is firing | wechat-token-hub-prod-tick-not-running: tick-not-running reason');
    expect(out).toContain('fail the tick ran: wechat-token-hub-prod-refreshTick invoked 0 time(s) in the last 15 minutes | the schedule runs it every 5 minutes');
  });

  it('skips, saying why, without AWS credentials; fails when CloudWatch refuses', async () => {
    cw.on(DescribeAlarmsCommand).rejects(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }));
    expect(lines(await awsChecks({ stage: 'dev', client }))).toEqual([
      'skip the alarms and the tick (CloudWatch) | no AWS credentials (Could not load credentials from any providers); set AWS_PROFILE or AWS_ACCESS_KEY_ID to check them, or pass --no-aws',
    ]);
    cw.reset();
    cw.on(DescribeAlarmsCommand).rejects(Object.assign(new Error('User is not authorized to perform: cloudwatch:DescribeAlarms'), { name: 'AccessDenied' }));
    expect(lines(await awsChecks({ stage: 'dev', client }))).toEqual([
      'fail the alarms and the tick (CloudWatch) | CloudWatch refused: AccessDenied: User is not authorized to perform: cloudwatch:DescribeAlarms',
    ]);
  });
});
