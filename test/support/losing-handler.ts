import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * Lost acknowledgements with the real SDK (test/integration/store-lost-acks.test.ts,
 * store-dynamo-index.test.ts): the request reaches DynamoDB and is applied, but its answer never
 * reaches the SDK, which sends the same request again (its standard retry strategy).
 */

/** A DynamoDB operation, as X-Amz-Target names it without the service prefix. */
export type Target = 'UpdateItem' | 'GetItem' | 'PutItem' | 'DeleteItem' | 'Query';

/** The SDK's own HTTP handler, which applies each request and then loses the answer when told to. */
export class LosingHandler extends NodeHttpHandler {
  /** Each request that reached DynamoDB, by operation (X-Amz-Target without the service prefix). */
  readonly sent: Target[] = [];
  /** Which requests of each operation lose their answer, by ordinal (0: the first this handler sent). */
  readonly #losing = new Map<Target, Set<number>>();

  /** Lose the answers of the next `times` requests of this operation. */
  lose(target: Target, times = 1): void {
    this.loseAt(target, Array.from({ length: times }, (_, i) => i));
  }

  /** Lose the answers of these requests of this operation, counted from the next one (0). */
  loseAt(target: Target, offsets: number[]): void {
    const base = this.count(target);
    const set = this.#losing.get(target) ?? new Set<number>();
    for (const o of offsets) set.add(base + o);
    this.#losing.set(target, set);
  }

  count(target: Target): number {
    return this.sent.filter((t) => t === target).length;
  }

  override async handle(...args: Parameters<NodeHttpHandler['handle']>): ReturnType<NodeHttpHandler['handle']> {
    const [request] = args;
    const header = Object.entries(request.headers).find(([name]) => name.toLowerCase() === 'x-amz-target')?.[1] ?? '';
    const target = header.replace(/^DynamoDB_20120810\./, '') as Target;
    const ordinal = this.count(target);
    this.sent.push(target);
    const out = await super.handle(...args); // DynamoDB has answered: the request was applied
    if (this.#losing.get(target)?.delete(ordinal)) {
      for await (const _ of out.response.body as AsyncIterable<unknown>) { /* drain, free the socket */ }
      // What NodeHttpHandler throws when a socket times out: the standard retry strategy retries it.
      throw Object.assign(new Error('the answer was lost'), { name: 'TimeoutError' });
    }
    return out;
  }
}
