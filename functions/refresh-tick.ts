import type { Context } from 'aws-lambda';
import { hubFromEnvironment } from '../lib/hub-core.js';
import type { TickOutcome } from '../lib/refresher.js';
import { shardsOf } from '../lib/scheduler/fan-out.js';

/** Stop taking on work this long before the function's timeout (a refresh takes at most the lease). */
const SAFETY_MS = 20_000;

/**
 * EventBridge rate(5 minutes): refresh what the due index says is due. With more due than one
 * invocation takes, whole shards go to asynchronous invocations of this function (`{"shards":[n]}`,
 * lib/scheduler/fan-out.ts), which take only those.
 */
export const handler = async (event: unknown, context?: Context): Promise<{ outcomes: TickOutcome[]; dispatched: number[] }> => {
  const hub = await hubFromEnvironment({ tick: true });
  const deadline = context ? Date.now() + context.getRemainingTimeInMillis() - SAFETY_MS : undefined;
  const report = await hub.tickReport({ shards: shardsOf(event), deadline });
  return { outcomes: report.outcomes, dispatched: report.dispatched };
};
