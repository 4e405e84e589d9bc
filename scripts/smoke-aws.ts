/**
 * The smoke test's AWS part (npm run smoke, with AWS credentials): the stack's alarms exist, each
 * notifying a topic, none firing; and the refresh tick ran (its Lambda's Invocations over the last
 * 15 minutes, from CloudWatch), without errors. Read-only: cloudwatch:DescribeAlarms and
 * cloudwatch:GetMetricStatistics (deploy/deployer-policy.json, AlarmStatesAndMetricsReadOnly).
 */
import { CloudWatchClient, DescribeAlarmsCommand, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import type { Result } from './smoke-http.js';

/** The alarms serverless.yml creates, by the suffix after wechat-token-hub-<stage>- (test/integration/smoke.test.ts keeps this in step with serverless.yml). */
export const ALARMS = ['credential-expiring', 'refresh-failures', 'tick-errors', 'tick-throttles', 'tick-not-running', 'quota-high', 'forced-refresh-refused', 'platform-ticket-stale', 'authorizer-needs-reauthorization'];
const SERVICE = 'wechat-token-hub';
const WINDOW_MS = 15 * 60_000;

/** Why a call failed without reaching AWS: no credentials to sign with. */
const noCredentials = (error: unknown) => error instanceof Error && (error.name === 'CredentialsProviderError' || (/credential/i.test(error.message) && !/AccessDenied|not authorized/i.test(error.message)));

export async function awsChecks(options: { stage: string; client: CloudWatchClient; now?: () => number }): Promise<Result[]> {
  const { stage, client } = options;
  const now = options.now ?? Date.now;
  const prefix = `${SERVICE}-${stage}-`;
  const results: Result[] = [];
  const record = (ok: boolean, what: string, detail?: string) => results.push({ status: ok ? 'ok' : 'fail', what, detail });

  let alarms;
  try {
    alarms = [];
    let NextToken: string | undefined;
    do {
      const page = await client.send(new DescribeAlarmsCommand({ AlarmNamePrefix: prefix, AlarmTypes: ['MetricAlarm'], NextToken }));
      alarms.push(...(page.MetricAlarms ?? []));
      NextToken = page.NextToken;
    } while (NextToken);
  } catch (error) {
    if (noCredentials(error)) {
      return [{ status: 'skip', what: 'the alarms and the tick (CloudWatch)', detail: `no AWS credentials (${(error as Error).message.split('\n')[0]}); set AWS_PROFILE or AWS_ACCESS_KEY_ID to check them, or pass --no-aws` }];
    }
    return [{ status: 'fail', what: 'the alarms and the tick (CloudWatch)', detail: `CloudWatch refused: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}` }];
  }
  const byName = new Map(alarms.map((a) => [a.AlarmName ?? '', a]));
  const missing = ALARMS.filter((s) => !byName.has(prefix + s));
  record(missing.length === 0, `the ${ALARMS.length} alarms ${prefix}… exist`, missing.length ? `missing: ${missing.map((s) => prefix + s).join(', ')} (is --stage right?)` : undefined);
  const present = ALARMS.map((s) => byName.get(prefix + s)).filter((a) => a !== undefined);
  const silent = present.filter((a) => !(a.AlarmActions ?? []).some((x) => x.includes(':sns:')) || !(a.OKActions ?? []).some((x) => x.includes(':sns:')));
  if (present.length) record(silent.length === 0, 'each alarm notifies the SNS topic when it fires and when it clears', silent.length ? `no topic on ${silent.map((a) => a.AlarmName).join(', ')}` : undefined);
  const firing = present.filter((a) => a.StateValue === 'ALARM');
  if (present.length) {
    record(
      firing.length === 0,
      'no alarm is firing',
      firing.length ? firing.map((a) => `${a.AlarmName}: ${a.StateReason ?? ''}`).join('; ') : `states: ${present.map((a) => `${a.AlarmName!.slice(prefix.length)} ${a.StateValue}`).join(', ')}`,
    );
  }

  const fn = `${SERVICE}-${stage}-refreshTick`;
  const sum = async (metric: string) => {
    const end = new Date(now());
    const r = await client.send(
      new GetMetricStatisticsCommand({ Namespace: 'AWS/Lambda', MetricName: metric, Dimensions: [{ Name: 'FunctionName', Value: fn }], StartTime: new Date(end.getTime() - WINDOW_MS), EndTime: end, Period: 300, Statistics: ['Sum'] }),
    );
    return (r.Datapoints ?? []).reduce((n, d) => n + (d.Sum ?? 0), 0);
  };
  try {
    const [invocations, errors] = [await sum('Invocations'), await sum('Errors')];
    record(invocations >= 1, `the tick ran: ${fn} invoked ${invocations} time(s) in the last 15 minutes`, invocations ? undefined : 'the schedule runs it every 5 minutes: wait 5 minutes after the first deploy, or see TickNotRunningAlarm');
    record(errors === 0, `the tick ran without errors in the last 15 minutes (${errors})`, errors ? `see the logs of ${fn}` : undefined);
  } catch (error) {
    record(false, 'the tick\'s invocations (CloudWatch)', error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  }
  return results;
}
