import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidCursorError } from '../../lib/errors.js';
import type { CredentialKey, CredentialStore, PrincipalRow, QuotaCall, TokenWrite } from '../../lib/store/store.js';
import { withLease, type LeaseHandle } from '../../lib/store/with-lease.js';

/**
 * What every CredentialStore must do (lib/store/store.ts, docs/store.md), as one suite that each
 * implementation's test file runs on a fresh store per test: test/unit/store-contract-memory.test.ts
 * (MemoryCredentialStore) and test/integration/store-contract-dynamo.test.ts (DynamoDB on dynalite).
 */
export interface ContractStore {
  store: CredentialStore;
  close?: () => Promise<void>;
  /**
   * Make the next write request be applied and its answer lost, so that the SDK sends it again (a
   * retry, as after a timeout). Absent (a store without a wire): a lost answer is the same request
   * made twice, and the second answer is the one that counts.
   */
  loseNextAnswer?: () => void;
}

const key: CredentialKey = { app: 'oa', kind: 'access_token' };
const ticket: CredentialKey = { app: 'oa', kind: 'jsapi_ticket' };
const T0 = 1_700_000_000_000;
const lease = (owner: string, seenVersion = 0, now = T0, leaseMs = 15_000, skewMs?: number) => ({ owner, seenVersion, now, leaseMs, ...(skewMs === undefined ? {} : { skewMs }) });
const write = (owner: string, seenVersion: number, extra: Partial<TokenWrite> = {}): TokenWrite => ({
  owner, seenVersion, value: `value-${owner}-${seenVersion}`, expiresAt: T0 + 7_200_000, obtainedAt: T0, ...extra,
});
const call = (extra: Partial<QuotaCall> = {}): QuotaCall => ({ app: 'oa', api: 'token', period: '2026-12-01', ttl: 1_800_000_000, ...extra });
const principal = (name: string, doc: Record<string, unknown> = { appid: `wx_${name}` }): PrincipalRow => ({
  name, type: 'official_account', source: 'config', doc, digest: `digest-${name}`, updatedAt: T0,
});

/** Every page of a paged listing, each checked against the limit; the pages' items in order. */
async function pages<T>(limit: number, page: (cursor?: string) => Promise<{ items: T[]; cursor?: string }>): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 50; i++) {
    const p = await page(cursor);
    expect(p.items.length).toBeLessThanOrEqual(limit);
    all.push(...p.items);
    cursor = p.cursor;
    if (cursor === undefined) return all;
  }
  throw new Error('the listing did not end within 50 pages');
}

export function storeContract(name: string, make: () => Promise<ContractStore>): void {
  describe(`CredentialStore contract: ${name}`, () => {
    let ctx: ContractStore;
    let store: CredentialStore;
    beforeEach(async () => {
      ctx = await make();
      store = ctx.store;
    });
    afterEach(async () => {
      await ctx.close?.();
    });
    /** A request applied whose answer was lost, sent again: the answer the caller finally gets. */
    const again = async <T>(request: () => Promise<T>): Promise<T> => {
      if (ctx.loseNextAnswer) {
        ctx.loseNextAnswer();
        return request();
      }
      await request();
      return request();
    };
    /** A credential with a first value written by `owner` (version 1). */
    const written = async (owner = 'w1', extra: Partial<TokenWrite> = {}, k = key) => {
      expect(await store.acquireLease(k, lease(owner))).toBe(true);
      const item = await store.writeToken(k, write(owner, 0, extra));
      expect(item?.version).toBe(1);
      return item!;
    };

    describe('leases', () => {
      it('a missing item reads as undefined; the first lease creates it at version 0', async () => {
        expect(await store.read(key)).toBeUndefined();
        expect(await store.acquireLease(key, lease('a'))).toBe(true);
        expect(await store.read(key)).toMatchObject({ version: 0, failures: 0, leaseOwner: 'a', leaseUntil: T0 + 15_000 });
        expect((await store.read(key))?.value).toBeUndefined();
        expect(await store.read(ticket)).toBeUndefined();
      });

      it('a held lease is refused to another owner, and to its owner asking for another end', async () => {
        expect(await store.acquireLease(key, lease('a'))).toBe(true);
        expect(await store.acquireLease(key, lease('b', 0, T0 + 1_000))).toBe(false);
        expect(await store.acquireLease(key, lease('a', 0, T0 + 1_000))).toBe(false);
        expect(await store.read(key)).toMatchObject({ leaseOwner: 'a', leaseUntil: T0 + 15_000 });
      });

      it('a lapsed lease is free at once without skew, and only once it lapsed more than skewMs ago with it', async () => {
        expect(await store.acquireLease(key, lease('a', 0, T0, 100))).toBe(true);
        expect(await store.acquireLease(key, lease('b', 0, T0 + 100, 100))).toBe(false); // leaseUntil is not before now
        expect(await store.acquireLease(key, lease('b', 0, T0 + 150, 100, 50))).toBe(false); // lapsed exactly skewMs ago
        expect(await store.read(key)).toMatchObject({ leaseOwner: 'a' });
        expect(await store.acquireLease(key, lease('b', 0, T0 + 151, 100, 50))).toBe(true);
        expect(await store.read(key)).toMatchObject({ leaseOwner: 'b', leaseUntil: T0 + 251 });
        expect(await store.acquireLease(ticket, lease('c', 0, T0, 100))).toBe(true);
        expect(await store.acquireLease(ticket, lease('d', 0, T0 + 101, 100))).toBe(true);
        expect(await store.read(ticket)).toMatchObject({ leaseOwner: 'd' });
      });

      it('is refused when the item is no longer at the version seen', async () => {
        await written();
        expect(await store.acquireLease(key, lease('b', 0, T0 + 1))).toBe(false);
        expect(await store.acquireLease(key, lease('b', 2, T0 + 1))).toBe(false);
        expect((await store.read(key))?.leaseOwner).toBeUndefined();
        expect(await store.acquireLease(key, lease('b', 1, T0 + 1))).toBe(true);
      });

      it('a lease request repeated after a lost answer is acquired, once', async () => {
        expect(await again(() => store.acquireLease(key, lease('a')))).toBe(true);
        expect(await store.read(key)).toMatchObject({ version: 0, leaseOwner: 'a', leaseUntil: T0 + 15_000 });
        expect(await store.acquireLease(key, lease('b'))).toBe(false);
      });
    });

    describe('the fenced write', () => {
      it('by the holder: version + 1, writtenBy, the value, the lease removed; the item as written is returned', async () => {
        await store.acquireLease(key, lease('a'));
        const item = await store.writeToken(key, write('a', 0, { refreshedBy: 'read' }));
        expect(item).toMatchObject({ version: 1, writtenBy: 'a', value: 'value-a-0', expiresAt: T0 + 7_200_000, obtainedAt: T0, failures: 0, refreshedBy: 'read' });
        expect(item?.leaseOwner).toBeUndefined();
        expect(item?.leaseUntil).toBeUndefined();
        expect(await store.read(key)).toEqual(item);
      });

      it('is fenced off when the lease was lost, when the version moved, and without any lease', async () => {
        expect(await store.writeToken(key, write('a', 0))).toBeUndefined(); // no item, no lease
        expect(await store.read(key)).toBeUndefined();
        await store.acquireLease(key, lease('a', 0, T0, 100));
        await store.acquireLease(key, lease('b', 0, T0 + 101, 100));
        expect(await store.writeToken(key, write('a', 0))).toBeUndefined();
        expect((await store.read(key))?.value).toBeUndefined();
        expect(await store.writeToken(key, write('b', 0))).toMatchObject({ version: 1, value: 'value-b-0' });
        await store.acquireLease(key, lease('c', 1, T0 + 200));
        expect(await store.writeToken(key, write('c', 0))).toBeUndefined(); // the version it saw moved on
        expect(await store.read(key)).toMatchObject({ version: 1, value: 'value-b-0', leaseOwner: 'c' });
      });

      it('repeated after a lost answer is written once; a competitor that never held the lease is still refused', async () => {
        await store.acquireLease(key, lease('a'));
        const item = await again(() => store.writeToken(key, write('a', 0)));
        expect(item).toMatchObject({ version: 1, writtenBy: 'a', value: 'value-a-0' });
        expect((await store.read(key))?.version).toBe(1);
        expect(await store.writeToken(key, write('b', 0))).toBeUndefined();
      });

      it('sets the previous and replaced pairs when given (both of a pair) and removes them otherwise', async () => {
        await written('a', { previousValue: 'p0', previousValidUntil: T0 + 300_000, replacedValue: 'r0', replacedUntil: T0 + 60_000 });
        expect(await store.read(key)).toMatchObject({ previousValue: 'p0', previousValidUntil: T0 + 300_000, replacedValue: 'r0', replacedUntil: T0 + 60_000 });
        await store.acquireLease(key, lease('b', 1));
        const second = await store.writeToken(key, write('b', 1, { previousValue: 'p1', replacedUntil: T0 }));
        for (const field of ['previousValue', 'previousValidUntil', 'replacedValue', 'replacedUntil'] as const) {
          expect(second?.[field], field).toBeUndefined();
          expect((await store.read(key))?.[field], field).toBeUndefined();
        }
      });

      it('resets failures and removes lastError, blockedUntil, validatedAt and the backoff', async () => {
        await written('a');
        await store.acquireLease(key, lease('b', 1));
        await store.releaseLease(key, 'b', T0 + 5);
        await store.acquireLease(key, lease('c', 1));
        await store.recordFailure(key, { owner: 'c', error: { code: 'configuration:40164', message: 'ip', at: T0 + 6 }, blockedUntil: T0 + 9, backoffUntil: T0 + 8, backoffSource: 'fp' });
        expect(await store.read(key)).toMatchObject({ failures: 1, validatedAt: T0 + 5, blockedUntil: T0 + 9, backoffUntil: T0 + 8, backoffSource: 'fp' });
        await store.acquireLease(key, lease('d', 1));
        const item = await store.writeToken(key, write('d', 1));
        expect(item?.failures).toBe(0);
        for (const field of ['lastError', 'blockedUntil', 'validatedAt', 'backoffUntil', 'backoffSource'] as const) {
          expect(item?.[field], field).toBeUndefined();
          expect((await store.read(key))?.[field], field).toBeUndefined();
        }
      });

      it('sets lastForcedAt, secretFingerprint and refreshedBy when given and keeps them when not', async () => {
        await written('a', { forcedAt: T0 + 1, secretFingerprint: 'fp1', refreshedBy: 'forced' });
        expect(await store.read(key)).toMatchObject({ lastForcedAt: T0 + 1, secretFingerprint: 'fp1', refreshedBy: 'forced' });
        await store.acquireLease(key, lease('b', 1));
        expect(await store.writeToken(key, write('b', 1))).toMatchObject({ version: 2, lastForcedAt: T0 + 1, secretFingerprint: 'fp1', refreshedBy: 'forced' });
        await store.acquireLease(key, lease('c', 2));
        expect(await store.writeToken(key, write('c', 2, { secretFingerprint: 'fp2', refreshedBy: 'tick' }))).toMatchObject({ secretFingerprint: 'fp2', refreshedBy: 'tick' });
      });

      it('replaces the kind\'s state when given, keeps it when absent', async () => {
        await written('a', { state: { refresh_token: 'rt1', extra: 'x' } });
        expect((await store.read(key))?.state).toEqual({ refresh_token: 'rt1', extra: 'x' });
        await store.acquireLease(key, lease('b', 1));
        expect((await store.writeToken(key, write('b', 1)))?.state).toEqual({ refresh_token: 'rt1', extra: 'x' });
        await store.acquireLease(key, lease('c', 2));
        expect((await store.writeToken(key, write('c', 2, { state: { refresh_token: 'rt2' } })))?.state).toEqual({ refresh_token: 'rt2' });
        expect((await store.read(key))?.state).toEqual({ refresh_token: 'rt2' });
      });

      it('moves the schedule when given, keeps it when not', async () => {
        await written('a', { schedule: { dueAt: T0 + 6_000_000, shard: 3 } });
        expect(await store.read(key)).toMatchObject({ dueAt: T0 + 6_000_000, shard: 3 });
        await store.acquireLease(key, lease('b', 1));
        expect(await store.writeToken(key, write('b', 1))).toMatchObject({ dueAt: T0 + 6_000_000, shard: 3 });
        await store.acquireLease(key, lease('c', 2));
        expect(await store.writeToken(key, write('c', 2, { schedule: { dueAt: T0 + 7_000_000, shard: 3 } }))).toMatchObject({ dueAt: T0 + 7_000_000 });
      });

      it('items returned are copies: changing one changes nothing stored', async () => {
        await store.acquireLease(key, lease('f'));
        await store.recordFailure(key, { owner: 'f', error: { code: 'x', message: 'y', at: T0 } });
        const failed = (await store.read(key))!;
        failed.lastError!.code = 'changed';
        failed.failures = 7;
        expect(await store.read(key)).toMatchObject({ failures: 1, lastError: { code: 'x', message: 'y', at: T0 } });
        const item = await written('a');
        item.value = 'changed';
        const read = (await store.read(key))!;
        read.value = 'changed again';
        expect(await store.read(key)).toMatchObject({ value: 'value-a-0', version: 1, failures: 0 });
      });

      it('the state given and returned is a copy', async () => {
        const state = { refresh_token: 'rt1' };
        const item = await written('a', { state });
        state.refresh_token = 'changed';
        item.state!.refresh_token = 'changed';
        const read = (await store.read(key))!;
        read.state!.refresh_token = 'changed again';
        expect((await store.read(key))?.state).toEqual({ refresh_token: 'rt1' });
      });
    });

    describe('releaseLease and renewLease', () => {
      it('the holder gives the lease back, with validatedAt when a probe confirmed the value (kept otherwise)', async () => {
        await written('a');
        await store.acquireLease(key, lease('b', 1));
        expect(await store.releaseLease(key, 'b', T0 + 5)).toBe(true);
        expect(await store.read(key)).toMatchObject({ version: 1, value: 'value-a-0', validatedAt: T0 + 5 });
        expect((await store.read(key))?.leaseOwner).toBeUndefined();
        expect((await store.read(key))?.leaseUntil).toBeUndefined();
        await store.acquireLease(key, lease('c', 1));
        expect(await store.releaseLease(key, 'c')).toBe(true);
        expect((await store.read(key))?.validatedAt).toBe(T0 + 5);
      });

      it('is refused to anyone else (and on a missing item); repeated after a lost answer, released', async () => {
        expect(await store.releaseLease(key, 'a')).toBe(false);
        await store.acquireLease(key, lease('a'));
        expect(await store.releaseLease(key, 'b', T0 + 5)).toBe(false);
        expect(await store.read(key)).toMatchObject({ leaseOwner: 'a' });
        expect((await store.read(key))?.validatedAt).toBeUndefined();
        expect(await again(() => store.releaseLease(key, 'a'))).toBe(true);
        expect((await store.read(key))?.leaseOwner).toBeUndefined();
      });

      it('moves the schedule when given, keeps it when not', async () => {
        await store.acquireLease(key, lease('a'));
        expect(await store.releaseLease(key, 'a', undefined, { dueAt: T0 + 100, shard: 5 })).toBe(true);
        expect(await store.read(key)).toMatchObject({ dueAt: T0 + 100, shard: 5 });
        await store.acquireLease(key, lease('b'));
        expect(await store.releaseLease(key, 'b', T0 + 1)).toBe(true);
        expect(await store.read(key)).toMatchObject({ dueAt: T0 + 100, shard: 5, validatedAt: T0 + 1 });
      });

      it('renewLease moves the end of a lease its owner holds, and nobody else\'s', async () => {
        await store.acquireLease(key, lease('a'));
        expect(await store.renewLease(key, 'a', T0 + 40_000)).toBe(true);
        expect((await store.read(key))?.leaseUntil).toBe(T0 + 40_000);
        expect(await store.renewLease(key, 'b', T0 + 90_000)).toBe(false);
        expect(await store.read(key)).toMatchObject({ leaseOwner: 'a', leaseUntil: T0 + 40_000 });
        await store.releaseLease(key, 'a');
        expect(await store.renewLease(key, 'a', T0 + 90_000)).toBe(false);
        expect((await store.read(key))?.leaseUntil).toBeUndefined();
        expect(await store.renewLease(ticket, 'a', T0)).toBe(false);
      });
    });

    describe('withLease', () => {
      const value = (owner: string) => ({ value: `value-${owner}`, expiresAt: T0 + 7_200_000, obtainedAt: T0 });

      it('takes the lease and runs the work under it; the write is bound to the owner and the version seen', async () => {
        await written('w1');
        const out = await withLease(store, key, lease('a', 1), async (l) => {
          expect(l).toMatchObject({ key, owner: 'a', seenVersion: 1 });
          expect(await store.read(key)).toMatchObject({ leaseOwner: 'a', leaseUntil: T0 + 15_000 });
          return l.write(value('a'));
        });
        expect(out).toEqual({ leased: true, value: expect.objectContaining({ version: 2, writtenBy: 'a', value: 'value-a' }) });
        expect((await store.read(key))?.leaseOwner).toBeUndefined();
      });

      it('a lease held by another, or an item no longer at the version seen, is a result: the work does not run', async () => {
        let ran = false;
        const work = async () => { ran = true; };
        expect(await store.acquireLease(key, lease('other'))).toBe(true);
        expect(await withLease(store, key, lease('a', 0, T0 + 1_000), work)).toEqual({ leased: false });
        expect(await store.read(key)).toMatchObject({ leaseOwner: 'other' });
        await store.writeToken(key, write('other', 0));
        expect(await withLease(store, key, lease('a', 0, T0 + 1_000), work)).toEqual({ leased: false });
        expect(ran).toBe(false);
        // A lapsed lease is taken over only beyond the skew.
        await store.acquireLease(ticket, lease('other', 0, T0, 100));
        expect(await withLease(store, ticket, lease('a', 0, T0 + 150, 100, 50), work)).toEqual({ leased: false });
        expect(await withLease(store, ticket, lease('a', 0, T0 + 151, 100, 50), async () => 'mine')).toEqual({ leased: true, value: 'mine' });
      });

      it('work that throws without ending the lease gives it back, and its error is the one thrown', async () => {
        await written('w1');
        const boom = new Error('boom');
        await expect(withLease(store, key, lease('a', 1), async () => { throw boom; })).rejects.toBe(boom);
        const after = await store.read(key);
        expect(after).toMatchObject({ version: 1, value: 'value-w1-0', failures: 0 });
        expect(after?.leaseOwner).toBeUndefined();
        // Nobody waits for it: the next one takes it at once.
        expect(await store.acquireLease(key, lease('b', 1, T0 + 1))).toBe(true);
      });

      it('work that returns without ending the lease gives it back too', async () => {
        expect(await withLease(store, key, lease('a'), async (l) => l.renew(T0 + 40_000))).toEqual({ leased: true, value: true });
        expect((await store.read(key))?.leaseOwner).toBeUndefined();
      });

      it('a failure recorded through the handle stands when the work then throws', async () => {
        await written('w1');
        await expect(withLease(store, key, lease('a', 1), async (l) => {
          expect(await l.fail({ error: { code: 'retry_later', message: 'busy', at: T0 + 1 }, backoffUntil: T0 + 5_000, schedule: { dueAt: T0 + 1, shard: 2 } })).toBe(true);
          throw new Error('after the record');
        })).rejects.toThrow('after the record');
        expect(await store.read(key)).toMatchObject({ version: 1, failures: 1, lastError: { code: 'retry_later', message: 'busy', at: T0 + 1 }, backoffUntil: T0 + 5_000, dueAt: T0 + 1 });
        expect((await store.read(key))?.leaseOwner).toBeUndefined();
      });

      it('release gives the lease back with the confirmation and the schedule; renew moves its end', async () => {
        await written('w1');
        await withLease(store, key, lease('a', 1), async (l) => {
          expect(await l.renew(T0 + 45_000)).toBe(true);
          expect((await store.read(key))?.leaseUntil).toBe(T0 + 45_000);
          expect(await l.release(T0 + 7, { dueAt: T0 + 600_000, shard: 1 })).toBe(true);
        });
        expect(await store.read(key)).toMatchObject({ version: 1, validatedAt: T0 + 7, dueAt: T0 + 600_000, shard: 1 });
        expect((await store.read(key))?.leaseOwner).toBeUndefined();
      });

      it('a lease taken over meanwhile: renew is false, the write is fenced off, and the new holder keeps its lease', async () => {
        let handle: LeaseHandle | undefined;
        const out = await withLease(store, key, lease('a', 0, T0, 100), async (l) => {
          handle = l;
          expect(await store.acquireLease(key, lease('b', 0, T0 + 201, 100))).toBe(true);
          expect(await l.renew(T0 + 1_000)).toBe(false);
          expect(await l.release()).toBe(false);
          return l.write(value('a'));
        });
        expect(out).toEqual({ leased: true, value: undefined });
        expect(handle?.owner).toBe('a');
        expect(await store.read(key)).toMatchObject({ version: 0, leaseOwner: 'b', leaseUntil: T0 + 301 });
        expect(await store.recordFailure(key, { owner: 'a', error: { code: 'x', message: 'y', at: T0 } })).toBe(false);
      });

      it('a write repeated by the holder (after an error) recognises its own applied write; a competitor\'s is not taken for it', async () => {
        const out = await withLease(store, key, lease('a'), async (l) => {
          const first = await l.write(value('a'));
          expect(first).toMatchObject({ version: 1, writtenBy: 'a' });
          expect(await l.write(value('a'))).toEqual(first);
          return first;
        });
        expect(out.leased && out.value?.version).toBe(1);
        // Another holder's write at the same version is not this one's.
        const other = await withLease(store, ticket, lease('c'), async (l) => {
          expect(await store.acquireLease(ticket, lease('d', 0, T0 + 15_001))).toBe(true);
          expect(await store.writeToken(ticket, write('d', 0))).toMatchObject({ version: 1, writtenBy: 'd' });
          expect(await l.write(value('c'))).toBeUndefined();
          return l.write(value('c'));
        });
        expect(other).toEqual({ leased: true, value: undefined });
        expect(await store.read(ticket)).toMatchObject({ version: 1, writtenBy: 'd', value: 'value-d-0' });
      });
    });

    describe('recordFailure', () => {
      it('counts the failure, keeps the value, records lastError and blockedUntil, releases the lease', async () => {
        await written('a');
        await store.acquireLease(key, lease('b', 1));
        expect(await store.recordFailure(key, { owner: 'b', error: { code: 'quota:45009', message: 'limit', at: T0 + 1 }, blockedUntil: T0 + 99 })).toBe(true);
        expect(await store.read(key)).toMatchObject({ value: 'value-a-0', version: 1, failures: 1, lastError: { code: 'quota:45009', message: 'limit', at: T0 + 1 }, blockedUntil: T0 + 99 });
        expect((await store.read(key))?.leaseOwner).toBeUndefined();
        await store.acquireLease(key, lease('c', 1));
        expect(await store.recordFailure(key, { owner: 'c', error: { code: 'retry_later', message: '', at: T0 + 2 } })).toBe(true);
        // blockedUntil is kept when not given; an empty message is stored as '-'.
        expect(await store.read(key)).toMatchObject({ failures: 2, lastError: { code: 'retry_later', message: '-', at: T0 + 2 }, blockedUntil: T0 + 99 });
      });

      it('sets the backoff when given (its source removed when not given) and removes it otherwise', async () => {
        await store.acquireLease(key, lease('a'));
        await store.recordFailure(key, { owner: 'a', error: { code: 'configuration:40164', message: 'ip', at: T0 }, backoffUntil: T0 + 60_000, backoffSource: 'fp' });
        expect(await store.read(key)).toMatchObject({ backoffUntil: T0 + 60_000, backoffSource: 'fp' });
        await store.acquireLease(key, lease('b'));
        await store.recordFailure(key, { owner: 'b', error: { code: 'configuration:40164', message: 'ip', at: T0 + 1 }, backoffUntil: T0 + 120_000 });
        expect((await store.read(key))?.backoffUntil).toBe(T0 + 120_000);
        expect((await store.read(key))?.backoffSource).toBeUndefined();
        await store.acquireLease(key, lease('c'));
        await store.recordFailure(key, { owner: 'c', error: { code: 'retry_later', message: 'x', at: T0 + 2 } });
        expect((await store.read(key))?.backoffUntil).toBeUndefined();
        expect(await store.read(key)).toMatchObject({ failures: 3 });
      });

      it('is refused to a non-holder (nothing counted); repeated after a lost answer, recorded and counted once', async () => {
        expect(await store.recordFailure(key, { owner: 'a', error: { code: 'x', message: 'y', at: T0 } })).toBe(false);
        await store.acquireLease(key, lease('a'));
        expect(await store.recordFailure(key, { owner: 'b', error: { code: 'x', message: 'y', at: T0 } })).toBe(false);
        expect(await store.read(key)).toMatchObject({ failures: 0, leaseOwner: 'a' });
        expect((await store.read(key))?.lastError).toBeUndefined();
        expect(await again(() => store.recordFailure(key, { owner: 'a', error: { code: 'x', message: 'y', at: T0 } }))).toBe(true);
        expect(await store.read(key)).toMatchObject({ failures: 1, lastError: { code: 'x', message: 'y', at: T0 } });
        expect(await store.recordFailure(key, { owner: 'a', error: { code: 'x', message: 'y', at: T0 + 1 } })).toBe(false); // not the one it recorded
      });

      it('moves the schedule when given, keeps it when not', async () => {
        await store.acquireLease(key, lease('a'));
        await store.recordFailure(key, { owner: 'a', error: { code: 'x', message: 'y', at: T0 }, schedule: { dueAt: T0 + 5_000, shard: 2 } });
        expect(await store.read(key)).toMatchObject({ dueAt: T0 + 5_000, shard: 2 });
        await store.acquireLease(key, lease('b'));
        await store.recordFailure(key, { owner: 'b', error: { code: 'x', message: 'y', at: T0 + 1 } });
        expect(await store.read(key)).toMatchObject({ dueAt: T0 + 5_000, shard: 2, failures: 2 });
      });
    });

    describe('the quota ledger', () => {
      it('counts a call, stores its attemptId on the call, and readQuota reads the row', async () => {
        expect(await store.readQuota('oa', 'token', '2026-12-01')).toEqual({ count: 0, forced: 0 });
        const c = call();
        const counted = await store.countUpstreamCall(c);
        expect(c.attemptId).toEqual(expect.any(String));
        expect(counted).toEqual({ count: 1, forced: 0, attemptId: c.attemptId });
        expect(await store.countUpstreamCall(call())).toMatchObject({ count: 2, forced: 0 });
        expect(await store.readQuota('oa', 'token', '2026-12-01')).toEqual({ count: 2, forced: 0 });
        expect(await store.readQuota('oa', 'token', '2026-12-02')).toEqual({ count: 0, forced: 0 });
        expect(await store.readQuota('oa', 'stable_token', '2026-12-01')).toEqual({ count: 0, forced: 0 });
        expect(await store.readQuota('mp', 'token', '2026-12-01')).toEqual({ count: 0, forced: 0 });
      });

      it('refuses past the forced budget with a result, counting nothing; unforced calls still count', async () => {
        expect(await store.countUpstreamCall(call({ forcedBudget: 2 }))).toMatchObject({ count: 1, forced: 1 });
        expect(await store.countUpstreamCall(call({ forcedBudget: 2 }))).toMatchObject({ count: 2, forced: 2 });
        expect(await store.countUpstreamCall(call({ forcedBudget: 2 }))).toEqual({ refused: 'forced_budget' });
        expect(await store.readQuota('oa', 'token', '2026-12-01')).toEqual({ count: 2, forced: 2 });
        expect(await store.countUpstreamCall(call())).toMatchObject({ count: 3, forced: 2 });
      });

      it('refuses at the limit with a result, counting nothing', async () => {
        expect(await store.countUpstreamCall(call({ limit: 2 }))).toMatchObject({ count: 1 });
        expect(await store.countUpstreamCall(call({ limit: 2 }))).toMatchObject({ count: 2 });
        expect(await store.countUpstreamCall(call({ limit: 2 }))).toEqual({ refused: 'limit' });
        expect(await store.countUpstreamCall(call({ limit: 2, forcedBudget: 5 }))).toEqual({ refused: 'limit' });
        expect(await store.readQuota('oa', 'token', '2026-12-01')).toEqual({ count: 2, forced: 0 });
        expect(await store.countUpstreamCall(call({ limit: 3 }))).toMatchObject({ count: 3 });
      });

      it('counts one attemptId once, whether counted again or repeated after a lost answer', async () => {
        const c = call({ attemptId: 'attempt-1' });
        expect(await store.countUpstreamCall(c)).toMatchObject({ count: 1, attemptId: 'attempt-1' });
        expect(await store.countUpstreamCall(c)).toMatchObject({ count: 1, attemptId: 'attempt-1' });
        const d = call();
        expect(await again(() => store.countUpstreamCall(d))).toMatchObject({ count: 2, attemptId: d.attemptId });
        expect(await store.readQuota('oa', 'token', '2026-12-01')).toEqual({ count: 2, forced: 0 });
      });

      it('takes back exactly the call counted, once; a call not counted changes nothing', async () => {
        const a = call({ forcedBudget: 3 });
        const b = call({ forcedBudget: 3 });
        await store.countUpstreamCall(a);
        await store.countUpstreamCall(b);
        await store.uncountUpstreamCall(a);
        await store.uncountUpstreamCall(a);
        expect(await store.readQuota('oa', 'token', '2026-12-01')).toEqual({ count: 1, forced: 1 });
        await again(() => store.uncountUpstreamCall(b));
        expect(await store.readQuota('oa', 'token', '2026-12-01')).toEqual({ count: 0, forced: 0 });
        await store.countUpstreamCall(call());
        await store.uncountUpstreamCall(call({ attemptId: 'never-counted' }));
        expect(await store.readQuota('oa', 'token', '2026-12-01')).toEqual({ count: 1, forced: 0 });
        await store.uncountUpstreamCall(call()); // no attemptId: one call subtracted, unconditionally
        expect(await store.readQuota('oa', 'token', '2026-12-01')).toEqual({ count: 0, forced: 0 });
        // A call taken back may be counted again (the id left the row with it).
        expect(await store.countUpstreamCall(a)).toMatchObject({ count: 1, forced: 1 });
      });
    });

    describe('the due index', () => {
      it('schedule creates a missing item (version 0, no value) or moves an existing one, keeping its value', async () => {
        expect(await store.schedule(ticket, { dueAt: T0 + 10, shard: 1 })).toBe(true);
        expect(await store.read(ticket)).toMatchObject({ version: 0, failures: 0, dueAt: T0 + 10, shard: 1 });
        expect((await store.read(ticket))?.value).toBeUndefined();
        expect(await store.acquireLease(ticket, lease('a', 0))).toBe(true); // a created item is at version 0
        await written('w', {}, key);
        expect(await store.schedule(key, { dueAt: T0 + 20, shard: 2 })).toBe(true);
        expect(await store.read(key)).toMatchObject({ version: 1, value: 'value-w-0', dueAt: T0 + 20, shard: 2 });
      });

      it('honours ifVersion and ifUnscheduled', async () => {
        await written('w');
        expect(await store.schedule(key, { dueAt: T0 + 10, shard: 1 }, { ifVersion: 0 })).toBe(false);
        expect((await store.read(key))?.dueAt).toBeUndefined();
        expect(await store.schedule(key, { dueAt: T0 + 10, shard: 1 }, { ifVersion: 1 })).toBe(true);
        expect(await store.schedule(key, { dueAt: T0 + 99, shard: 1 }, { ifUnscheduled: true })).toBe(false);
        expect((await store.read(key))?.dueAt).toBe(T0 + 10);
        expect(await store.schedule(ticket, { dueAt: T0 + 5, shard: 1 }, { ifUnscheduled: true })).toBe(true);
        expect((await store.read(ticket))?.dueAt).toBe(T0 + 5);
        await store.unschedule(key);
        expect(await store.schedule(key, { dueAt: T0 + 7, shard: 1 }, { ifUnscheduled: true, ifVersion: 1 })).toBe(true);
        expect((await store.read(key))?.dueAt).toBe(T0 + 7);
      });

      it('honours ifExists: an item that exists is scheduled, none is created', async () => {
        const nobodys = { app: 'nobody', kind: 'wx_card_ticket' };
        expect(await store.schedule(nobodys, { dueAt: T0 + 3, shard: 6 }, { ifUnscheduled: true, ifExists: true })).toBe(false);
        expect(await store.read(nobodys)).toBeUndefined();
        await written('w');
        expect(await store.schedule(key, { dueAt: T0 + 3, shard: 6 }, { ifUnscheduled: true, ifExists: true })).toBe(true);
        expect((await store.read(key))?.dueAt).toBe(T0 + 3);
        expect((await store.queryDue(6, { limit: 10 })).entries.map((e) => e.key)).toEqual([key]);
      });

      it('unschedule takes the credential out of the index and keeps the item', async () => {
        await written('w', { schedule: { dueAt: T0 + 10, shard: 4 } });
        expect((await store.queryDue(4, { limit: 10 })).entries.map((e) => e.key)).toEqual([key]);
        await store.unschedule(key);
        const item = await store.read(key);
        expect(item).toMatchObject({ version: 1, value: 'value-w-0' });
        expect(item?.dueAt).toBeUndefined();
        expect(item?.shard).toBeUndefined();
        expect((await store.queryDue(4, { limit: 10 })).entries).toEqual([]);
      });

      it('queryDue returns one shard\'s credentials in dueAt order, with their items', async () => {
        const k = (app: string): CredentialKey => ({ app, kind: 'access_token' });
        await store.schedule(k('c'), { dueAt: T0 + 300, shard: 3 });
        await store.schedule(k('a'), { dueAt: T0 + 100, shard: 3 });
        await store.schedule(k('b'), { dueAt: T0 + 200, shard: 3 });
        await store.schedule(k('z'), { dueAt: T0 + 50, shard: 4 });
        await written('w', { schedule: { dueAt: T0 + 150, shard: 3 } }, k('v'));
        const { entries } = await store.queryDue(3, { limit: 10 });
        expect(entries.map((e) => [e.key.app, e.key.kind, e.item.dueAt])).toEqual([
          ['a', 'access_token', T0 + 100], ['v', 'access_token', T0 + 150], ['b', 'access_token', T0 + 200], ['c', 'access_token', T0 + 300],
        ]);
        expect(entries[1]!.item).toMatchObject({ value: 'value-w-0', version: 1, shard: 3 });
        expect((await store.queryDue(4, { limit: 10 })).entries.map((e) => e.key.app)).toEqual(['z']);
        expect((await store.queryDue(5, { limit: 10 })).entries).toEqual([]);
        entries[0]!.item.dueAt = 0; // a copy
        expect((await store.queryDue(3, { limit: 1 })).entries[0]!.item.dueAt).toBe(T0 + 100);
      });

      it('queryDue pages with its cursor, in order, each credential once (ties included)', async () => {
        const dues = [500, 100, 400, 200, 300, 200, 600];
        for (const [i, d] of dues.entries()) await store.schedule({ app: `app${i}`, kind: 'access_token' }, { dueAt: T0 + d, shard: 7 });
        const all = await pages(2, async (cursor) => {
          const page = await store.queryDue(7, { limit: 2, ...(cursor === undefined ? {} : { cursor }) });
          return { items: page.entries, cursor: page.cursor };
        });
        expect(all.map((e) => e.item.dueAt! - T0)).toEqual([100, 200, 200, 300, 400, 500, 600]);
        expect(new Set(all.map((e) => e.key.app)).size).toBe(7);
        expect(all.slice(1, 3).map((e) => e.key.app).sort()).toEqual(['app3', 'app5']);
      });
    });

    describe('one-time claims', () => {
      it('a name is claimed once while its claim stands, again once it lapsed; a resent claim of the same attempt is its own', async () => {
        expect(await store.claimOnce('event#sig-1', { now: T0, until: T0 + 600_000, attempt: 'a1' })).toBe(true);
        expect(await store.claimOnce('event#sig-1', { now: T0 + 1_000, until: T0 + 601_000, attempt: 'a2' })).toBe(false);
        expect(await store.claimOnce('event#sig-2', { now: T0 + 1_000, until: T0 + 601_000, attempt: 'a3' })).toBe(true);
        expect(await store.claimOnce('event#sig-1', { now: T0 + 600_001, until: T0 + 1_200_001, attempt: 'a4' })).toBe(true);
      });

      it('a claim is given back only by its own attempt, and can then be claimed again', async () => {
        expect(await store.claimOnce('code#c1', { now: T0, until: T0 + 600_000, attempt: 'a1' })).toBe(true);
        await store.releaseOnce('code#c1', 'someone-else');
        expect(await store.claimOnce('code#c1', { now: T0 + 1, until: T0 + 600_001, attempt: 'a2' })).toBe(false);
        await store.releaseOnce('code#c1', 'a1');
        expect(await store.claimOnce('code#c1', { now: T0 + 2, until: T0 + 600_002, attempt: 'a3' })).toBe(true);
        await store.releaseOnce('code#never-claimed', 'a4');
      });
    });

    describe('cursors', () => {
      it('a cursor the store did not give (or of another list) is refused as InvalidCursorError, never a store failure', async () => {
        await store.putPrincipal({ name: 'p1', type: 'official_account', source: 'config', doc: {}, digest: 'd', updatedAt: T0 });
        await store.putPrincipal({ name: 'p2', type: 'official_account', source: 'config', doc: {}, digest: 'd', updatedAt: T0 });
        const principalCursor = (await store.listPrincipals({ limit: 1 })).cursor!;
        expect(principalCursor).toEqual(expect.any(String));
        const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
        for (const bad of ['abc', b64([1]), b64({ pk: { S: 'x' } }), b64('name'), b64({ pk: { S: 'x' }, gsi1pk: { S: 'y' }, gsi1sk: { N: '1' } })]) {
          await expect(store.listPrincipals({ limit: 1, cursor: bad }), bad).rejects.toBeInstanceOf(InvalidCursorError);
          await expect(store.queryDue(1, { limit: 1, cursor: bad }), bad).rejects.toBeInstanceOf(InvalidCursorError);
        }
        // A principal list's cursor is no due index cursor.
        await expect(store.queryDue(1, { limit: 1, cursor: principalCursor })).rejects.toBeInstanceOf(InvalidCursorError);
      });
    });

    describe('principals', () => {
      it('are put, got and replaced as a whole', async () => {
        expect(await store.getPrincipal('oa')).toBeUndefined();
        await store.putPrincipal(principal('oa', { appid: 'wx1', secret: { ssm: '/p' } }));
        expect(await store.getPrincipal('oa')).toEqual(principal('oa', { appid: 'wx1', secret: { ssm: '/p' } }));
        await store.putPrincipal({ ...principal('oa', { appid: 'wx2' }), source: 'register', digest: 'd2', updatedAt: T0 + 1 });
        expect(await store.getPrincipal('oa')).toEqual({ ...principal('oa', { appid: 'wx2' }), source: 'register', digest: 'd2', updatedAt: T0 + 1 });
        expect(await store.getPrincipal('mp')).toBeUndefined();
      });

      it('are listed in name order, page by page', async () => {
        for (const n of ['delta', 'alpha', 'echo', 'charlie', 'bravo']) await store.putPrincipal(principal(n));
        const all = await pages(2, async (cursor) => {
          const page = await store.listPrincipals({ limit: 2, ...(cursor === undefined ? {} : { cursor }) });
          return { items: page.principals, cursor: page.cursor };
        });
        expect(all.map((p) => p.name)).toEqual(['alpha', 'bravo', 'charlie', 'delta', 'echo']);
        expect(all[2]).toEqual(principal('charlie'));
      });

      it('are listed by a name prefix (a platform\'s authorizers), page by page, and nothing else', async () => {
        for (const n of ['shop', 'shop/wx3', 'shop/wx1', 'shopx/wx9', 'other/wx1', 'shop/wx2']) await store.putPrincipal(principal(n));
        const all = await pages(2, async (cursor) => {
          const page = await store.listPrincipals({ limit: 2, prefix: 'shop/', ...(cursor === undefined ? {} : { cursor }) });
          return { items: page.principals, cursor: page.cursor };
        });
        expect(all.map((p) => p.name)).toEqual(['shop/wx1', 'shop/wx2', 'shop/wx3']);
        expect((await store.listPrincipals({ limit: 10, prefix: 'none/' })).principals).toEqual([]);
        // A cursor of another list (all principals, or another prefix) is refused as a cursor, never a store failure.
        const other = (await store.listPrincipals({ limit: 1 })).cursor!;
        await expect(store.listPrincipals({ limit: 2, prefix: 'shop/', cursor: other })).rejects.toBeInstanceOf(InvalidCursorError);
      });

      it('are deleted (deleting a missing one is no error), and rows returned are copies', async () => {
        const given = principal('oa');
        await store.putPrincipal(given);
        given.doc.appid = 'changed after put';
        await store.putPrincipal(principal('mp'));
        const got = (await store.getPrincipal('oa'))!;
        got.doc.appid = 'changed';
        expect((await store.getPrincipal('oa'))?.doc).toEqual({ appid: 'wx_oa' });
        await store.deletePrincipal('oa');
        await store.deletePrincipal('nobody');
        expect(await store.getPrincipal('oa')).toBeUndefined();
        expect((await store.listPrincipals({ limit: 10 })).principals.map((p) => p.name)).toEqual(['mp']);
      });
    });

    describe('the token-hash index and meta documents', () => {
      it('a hash is looked up to the credential that issued it, and a later entry replaces it', async () => {
        const hash = 'a'.repeat(64);
        expect(await store.lookupToken(hash)).toBeUndefined();
        await store.indexToken(hash, { app: 'oa', kind: 'access_token', until: T0 + 7_200_000 });
        await store.indexToken('b'.repeat(64), { app: 'mp', kind: 'access_token', until: T0 + 1 });
        expect(await store.lookupToken(hash)).toEqual({ app: 'oa', kind: 'access_token', until: T0 + 7_200_000 });
        await store.indexToken(hash, { app: 'oa', kind: 'jsapi_ticket', until: T0 + 9 });
        expect(await store.lookupToken(hash)).toEqual({ app: 'oa', kind: 'jsapi_ticket', until: T0 + 9 });
        expect(await store.lookupToken('b'.repeat(64))).toEqual({ app: 'mp', kind: 'access_token', until: T0 + 1 });
        const found = (await store.lookupToken(hash))!;
        found.until = 0;
        expect((await store.lookupToken(hash))?.until).toBe(T0 + 9);
      });

      it('a meta document is put and got whole, and replaced whole', async () => {
        expect(await store.getMeta('principal-sync')).toBeUndefined();
        const doc = { digest: 'abc', apps: ['oa', 'mp'], nested: { n: 1 } };
        await store.putMeta('principal-sync', doc);
        doc.apps.push('changed');
        expect(await store.getMeta('principal-sync')).toEqual({ digest: 'abc', apps: ['oa', 'mp'], nested: { n: 1 } });
        await store.putMeta('principal-sync', { digest: 'def' });
        expect(await store.getMeta('principal-sync')).toEqual({ digest: 'def' });
        expect(await store.getMeta('other')).toBeUndefined();
      });
    });
  });
}
