import { vi } from 'vitest';
import { StoreUnavailableError } from '../../lib/store/errors.js';
import type { CredentialKey, CredentialStore, FailureRecord } from '../../lib/store/store.js';
import { storePrototype, type TestStore } from './world.js';

/**
 * Faults at the CredentialStore boundary, the same on both stores (spies on the store class's
 * prototype, so every container's store and the test's own): for scenario tests that run on the
 * memory store too, where there is no wire to cut (test/support/flaky-dynamo.ts is the wire's).
 *
 * - kill: the container dies between WeChat's answer and the fenced write. The write is never
 *   applied, and nothing the dead container would have done next happens (record the failure, give
 *   the lease back, renew it): the lease stays in the table until it lapses.
 * - lose: the fenced write is applied and its answer lost (StoreUnavailableError, as the SDK reports
 *   a request whose answer timed out after its retries).
 * - outage: every call fails with StoreUnavailableError, before it is applied.
 */
export interface StoreFaults {
  /** Kill the container at the next `times` fenced writes of keys `match` accepts (default any). */
  killAtWrite(match?: (key: CredentialKey) => boolean, times?: number): void;
  /** Lose the answers of the next `times` fenced writes of keys `match` accepts, once applied. */
  loseWrite(match?: (key: CredentialKey) => boolean, times?: number): void;
  /** Start or end an outage of the whole store. */
  outage(on: boolean): void;
  /** How many writes were killed, lost, and calls refused by an outage, so far. */
  readonly counts: { killed: number; lost: number; refused: number };
  restore(): void;
}

/** The store's operations (every one returns a promise), as the CredentialStore interface names them. */
const OPERATIONS = [
  'read', 'acquireLease', 'writeToken', 'releaseLease', 'renewLease', 'recordFailure', 'countUpstreamCall', 'uncountUpstreamCall',
  'readQuota', 'schedule', 'unschedule', 'queryDue', 'putPrincipal', 'getPrincipal', 'listPrincipals', 'deletePrincipal',
  'indexToken', 'lookupToken', 'getMeta', 'putMeta', 'claimOnce', 'releaseOnce',
] as const satisfies readonly (keyof CredentialStore)[];

class Killed extends Error {
  override readonly name = 'ContainerKilled';
}

type Rule = { match: (key: CredentialKey) => boolean; left: number };

export function storeFaults(kind: TestStore): StoreFaults {
  const proto = storePrototype(kind) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const counts = { killed: 0, lost: 0, refused: 0 };
  const kills: Rule[] = [];
  const losses: Rule[] = [];
  /** The lease owners of killed containers: nothing they do reaches the store any more. */
  const dead = new Set<string>();
  let down = false;
  const take = (rules: Rule[], key: CredentialKey): boolean => {
    const r = rules.find((x) => x.left > 0 && x.match(key));
    if (r) r.left--;
    return r !== undefined;
  };
  const ownerOf = (op: string, args: unknown[]): string | undefined => {
    if (op === 'writeToken') return (args[1] as { owner: string }).owner;
    if (op === 'recordFailure') return (args[1] as FailureRecord).owner;
    if (op === 'releaseLease' || op === 'renewLease') return args[1] as string;
    return undefined;
  };
  const spies = OPERATIONS.map((op) => {
    const real = proto[op]!;
    return vi.spyOn(proto, op).mockImplementation(async function (this: unknown, ...args: unknown[]) {
      if (down) {
        counts.refused++;
        throw new StoreUnavailableError(op, Object.assign(new Error('the store is down'), { name: 'ServiceUnavailable' }));
      }
      const owner = ownerOf(op, args);
      if (owner !== undefined && dead.has(owner)) throw new Killed('the container was killed');
      if (op === 'writeToken' && take(kills, args[0] as CredentialKey)) {
        counts.killed++;
        dead.add(owner!);
        throw new Killed('the container was killed');
      }
      const out = await real.apply(this, args);
      if (op === 'writeToken' && out !== undefined && take(losses, args[0] as CredentialKey)) {
        counts.lost++;
        throw new StoreUnavailableError(op, Object.assign(new Error('the answer was lost'), { name: 'TimeoutError' }));
      }
      return out;
    });
  });
  return {
    killAtWrite: (match = () => true, times = 1) => void kills.push({ match, left: times }),
    loseWrite: (match = () => true, times = 1) => void losses.push({ match, left: times }),
    outage: (on) => void (down = on),
    counts,
    restore: () => spies.forEach((s) => s.mockRestore()),
  };
}
