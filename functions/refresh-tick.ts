import type { Context } from 'aws-lambda';
import { hubFromEnvironment } from '../lib/hub-core.js';
import type { TickOutcome } from '../lib/refresher.js';
import { Logger } from '@aws-lambda-powertools/logger';
import { dueByOf, lambdaDispatch, shardsOf } from '../lib/scheduler/fan-out.js';

/** Stop taking on work this long before the function's timeout (a refresh takes at most the lease). */
const SAFETY_MS = 20_000;

/**
 * EventBridge rate(5 minutes): refresh what the due index says is due. With more due than one
 * invocation takes, whole shards go to asynchronous invocations of this function (`{"shards":[n],"dueBy":…}`,
 * lib/scheduler/fan-out.ts), which take only those.
 */
export const handler = async (event: unknown, context?: Context): Promise<{ outcomes: TickOutcome[]; dispatched: number[] }> => {
  const self = process.env.AWS_LAMBDA_FUNCTION_NAME;
  const hub = await hubFromEnvironment(self ? { dispatch: lambdaDispatch(self, new Logger({ serviceName: 'wechat-token-hub' })) } : {});
  const deadline = context ? Date.now() + context.getRemainingTimeInMillis() - SAFETY_MS : undefined;
  const shards = shardsOf(event);
  const report = await hub.tickReport({ shards, deadline, ...(shards ? { dueBy: dueByOf(event) } : {}) });
  return { outcomes: report.outcomes, dispatched: report.dispatched };
};
