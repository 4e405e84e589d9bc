import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { Logger } from '@aws-lambda-powertools/logger';

/**
 * Fan-out by self-invocation (docs/architecture.md, "Scheduler"): the tick hands each shard it will
 * not take itself to an asynchronous invocation of its own function, with the event
 * `{"shards":[n],"dueBy":<epoch ms>}` (it takes what was due by then, not what failed since).
 * Chosen over SQS: no queue, no event source mapping, no extra resource or alarm; an asynchronous
 * invocation is queued by Lambda and retried twice on failure, and a lost one costs at most one tick
 * (the credentials stay due, and the next tick finds them). Cost: one invocation request per
 * dispatched shard ($0.20 per million), nothing when nothing is dispatched.
 */
export function lambdaDispatch(functionName: string, log: Logger, client: LambdaClient = new LambdaClient({})): (shards: number[], dueBy: number) => Promise<void> {
  return async (shards, dueBy) => {
    const results = await Promise.allSettled(
      shards.map((shard) =>
        client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify({ shards: [shard], dueBy })) })),
      ),
    );
    results.forEach((r, i) => {
      // Not fatal: the shard's credentials stay due, and the next tick finds them.
      if (r.status === 'rejected') log.error('tick: could not dispatch a shard', { shard: shards[i], error: r.reason instanceof Error ? r.reason.name : 'unknown' });
    });
  };
}

/** The shards a dispatched tick invocation was given, or undefined for the scheduled tick (EventBridge's event has none). */
export function shardsOf(event: unknown): number[] | undefined {
  const shards = (event as { shards?: unknown } | null | undefined)?.shards;
  if (!Array.isArray(shards)) return undefined;
  const valid = shards.filter((s): s is number => Number.isInteger(s) && s >= 0);
  return valid.length ? valid : undefined;
}

/** The horizon a dispatched invocation takes (what was due when it was dispatched), if the event has one. */
export function dueByOf(event: unknown): number | undefined {
  const dueBy = (event as { dueBy?: unknown } | null | undefined)?.dueBy;
  return typeof dueBy === 'number' && Number.isFinite(dueBy) && dueBy > 0 ? dueBy : undefined;
}
