import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { sharedDynalite } from './world.js';

/**
 * A DynamoDB client on the shared dynalite whose requests can be made to fail before they are sent
 * (a store outage as the SDK reports it, after its own retries): the paths a real engine cannot
 * produce on demand, with the real SDK and engine for everything else.
 */
export interface FlakyDynamo {
  client: DynamoDBClient;
  /** Fail every request for which `which` is true (by the command's name and input), until cleared. */
  failWhen(which: ((command: string, input: Record<string, unknown>) => boolean) | undefined): void;
  /** Let such requests be applied, then lose their answers (an outage right after the write). */
  loseAnswersWhen(which: ((command: string, input: Record<string, unknown>) => boolean) | undefined): void;
  /** Requests failed so far. */
  failed(): number;
}

export async function flakyDynamo(): Promise<FlakyDynamo> {
  const engine = await sharedDynalite();
  const client = new DynamoDBClient({ endpoint: engine.endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
  let which: ((command: string, input: Record<string, unknown>) => boolean) | undefined;
  let after: ((command: string, input: Record<string, unknown>) => boolean) | undefined;
  let failed = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (which?.(context.commandName ?? '', args.input as Record<string, unknown>)) {
        failed++;
        throw Object.assign(new Error('the service is unavailable'), { name: 'ServiceUnavailable', $metadata: {} });
      }
      const out = await next(args);
      if (after?.(context.commandName ?? '', args.input as Record<string, unknown>)) {
        failed++;
        throw Object.assign(new Error('the service is unavailable'), { name: 'ServiceUnavailable', $metadata: {} });
      }
      return out;
    },
    { step: 'initialize', name: 'flaky' },
  );
  return { client, failWhen: (w) => void (which = w), loseAnswersWhen: (w) => void (after = w), failed: () => failed };
}

/** The fenced write of a new value (UpdateItem that sets `value`). */
export const isValueWrite = (command: string, input: Record<string, unknown>): boolean =>
  command === 'UpdateItemCommand' && String(input.UpdateExpression ?? '').includes('#value = :value');
