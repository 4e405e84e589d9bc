import type { CredentialItem, CredentialKey, CredentialStore, FailureRecord, LeaseRequest, Schedule, TokenWrite } from './store.js';

/** A fenced write as the holder gives it: the owner and the version seen are the lease's. */
export type LeaseWrite = Omit<TokenWrite, 'owner' | 'seenVersion'>;
/** A failure record as the holder gives it: the owner is the lease's. */
export type LeaseFailure = Omit<FailureRecord, 'owner'>;

/**
 * What the holder of a lease does with it, each operation bound to the lease's owner (and, for the
 * write, to the version seen when it was taken). Every one of them except `renew` ends the lease.
 */
export interface LeaseHandle {
  readonly key: CredentialKey;
  readonly owner: string;
  readonly seenVersion: number;
  /**
   * The fenced write (CredentialStore.writeToken): the item as written, or undefined when fenced
   * off. A write repeated after an earlier one of this lease failed (the store unavailable, the
   * write perhaps applied with its answer lost) recognises that earlier write by `writtenBy` and
   * the version it made, and answers with it.
   */
  write(write: LeaseWrite): Promise<CredentialItem | undefined>;
  /** Move the end of the lease (the holder needs longer); false when it is no longer held. */
  renew(until: number): Promise<boolean>;
  /** Give the lease back without a write (with `validatedAt` when WeChat confirmed the value). */
  release(validatedAt?: number, schedule?: Schedule): Promise<boolean>;
  /** Record the failure (CredentialStore.recordFailure), which gives the lease back. */
  fail(failure: LeaseFailure): Promise<boolean>;
}

export type LeaseOutcome<T> =
  /** The lease was taken and `work` ran under it: what it returned. */
  | { leased: true; value: T }
  /** Not taken: another owner holds it (and it has not lapsed beyond the skew), or the item is no longer at `seenVersion`. */
  | { leased: false };

/**
 * Take the refresh lease of `key` and run `work` under it (docs/protocol.md, "withLease"). A lease
 * covers everything done under it: when `work` ends (returns or throws) without the lease having
 * been ended through the handle (written, released, a failure recorded, or found lost by a write or
 * a renewal), it is given back, best effort, so that nobody waits for a lease nobody holds. The
 * error `work` threw is the one thrown; a refusal to lease is a result, not an exception.
 * Generic over CredentialStore: every implementation has it.
 */
export async function withLease<T>(store: CredentialStore, key: CredentialKey, req: LeaseRequest, work: (lease: LeaseHandle) => Promise<T>): Promise<LeaseOutcome<T>> {
  if (!(await store.acquireLease(key, req))) return { leased: false };
  const { owner, seenVersion } = req;
  let ended = false;
  let wroteBefore = false;
  const ends = <R>(p: Promise<R>, ended_: (r: R) => boolean = () => true): Promise<R> =>
    p.then((r) => {
      if (ended_(r)) ended = true;
      return r;
    });
  const lease: LeaseHandle = {
    key,
    owner,
    seenVersion,
    write: (write) => ends((async () => {
      const first = !wroteBefore;
      wroteBefore = true;
      const written = await store.writeToken(key, { ...write, owner, seenVersion });
      if (written || first) return written;
      // Fenced off on a later try: an earlier try may have been applied with its answer lost.
      const stored = await store.read(key);
      return stored?.writtenBy === owner && stored.version === seenVersion + 1 ? stored : undefined;
    })()),
    renew: (until) => ends(store.renewLease(key, owner, until), (held) => !held),
    release: (validatedAt, schedule) => ends(store.releaseLease(key, owner, validatedAt, schedule)),
    fail: (failure) => ends(store.recordFailure(key, { ...failure, owner })),
  };
  let value: T;
  try {
    value = await work(lease);
  } catch (error) {
    if (!ended) await store.releaseLease(key, owner).catch(() => undefined);
    throw error;
  }
  if (!ended) await store.releaseLease(key, owner).catch(() => undefined);
  return { leased: true, value };
}
