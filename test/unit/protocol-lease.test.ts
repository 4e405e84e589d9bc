import { describe, expect, it } from 'vitest';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { HubApp } from '../../lib/apps.js';
import type { CredentialKind } from '../../lib/kinds/kind.js';
import { LeaseProtocol, type RefreshRequest } from '../../lib/protocol.js';
import { Ledger } from '../../lib/quota/ledger.js';
import { defaultSettings } from '../../lib/settings.js';
import { StoreUnavailableError } from '../../lib/store/errors.js';
import { MemoryCredentialStore } from '../../lib/store/memory.js';
import { RetryLaterError } from '../../lib/wechat/errors.js';
import { ManualClock } from '../support/manual-clock.js';

/**
 * The protocol under withLease, on the memory store: whatever the holder's work throws, the lease
 * is not left behind for others to wait out (lib/store/with-lease.ts).
 */
const silent = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;
const app = { name: 'oa', compat: false, getSecret: async () => 'secret' } as unknown as HubApp;
const key = { app: 'oa', kind: 'access_token' };

function protocol(store: MemoryCredentialStore, clock: ManualClock) {
  return new LeaseProtocol({
    store, ledger: new Ledger(store), clock, logger: silent, settings: defaultSettings,
    count: () => undefined, scheduling: () => ({ marginMs: 20 * 60_000, probeEveryMs: undefined }), indexed: () => false,
  });
}
const request = (kind: Partial<CredentialKind>): RefreshRequest => ({
  app,
  kind: { id: 'access_token', charges: () => [{ scope: 'oa', api: 'token', period: 'day' }], ...kind } as CredentialKind,
  needed: (item) => item?.value === undefined,
  forced: false,
  cause: 'read',
  dependencies: { value: async () => 'unused', rejected: async () => 'unused' },
});

describe('LeaseProtocol under withLease', () => {
  it('a holder whose work throws before any record (a kind that cannot say its charges) gives the lease back', async () => {
    const store = new MemoryCredentialStore();
    const clock = new ManualClock();
    const broken = new Error('no charges');
    await expect(protocol(store, clock).refresh(request({ charges: () => { throw broken; } }))).rejects.toBe(broken);
    const item = await store.read(key);
    expect(item?.leaseOwner).toBeUndefined();
    expect(item?.failures).toBe(0);
    // The next refresh takes the lease at once instead of waiting it out.
    const fetched = await protocol(store, clock).refresh(request({ fetch: async () => ({ value: 'v1', expiresIn: 7200 }) }));
    expect(fetched).toMatchObject({ wrote: true, item: { value: 'v1', version: 1 } });
  });

  it('a failure that cannot be recorded (the store fails the record) still gives the lease back', async () => {
    const store = new MemoryCredentialStore();
    const clock = new ManualClock();
    const record = store.recordFailure.bind(store);
    let failRecords = 1;
    store.recordFailure = async (k, f) => {
      if (failRecords-- > 0) throw new StoreUnavailableError('recordFailure', new Error('x'));
      return record(k, f);
    };
    await expect(protocol(store, clock).refresh(request({ fetch: async () => { throw new RetryLaterError(-1, 'busy'); } }))).rejects.toBeInstanceOf(StoreUnavailableError);
    expect((await store.read(key))?.leaseOwner).toBeUndefined();
    // Recorded the next time: the lease was free for the next holder.
    await expect(protocol(store, clock).refresh(request({ fetch: async () => { throw new RetryLaterError(-1, 'busy'); } }))).rejects.toBeInstanceOf(RetryLaterError);
    expect(await store.read(key)).toMatchObject({ failures: 1, lastError: { code: expect.stringMatching(/^retry_later/) } });
  });
});
