import { describe, expect, it } from 'vitest';
import { MemoryCredentialStore } from '../../lib/store/memory.js';
import { storeContract } from '../contract/store-contract.js';

storeContract('MemoryCredentialStore', async () => ({ store: new MemoryCredentialStore() }));

/** What the contract leaves to each store and the memory store fixes. */
describe('MemoryCredentialStore', () => {
  it('queryDue orders credentials due at the same time by key (app, then kind)', async () => {
    const store = new MemoryCredentialStore();
    for (const [app, kind] of [['b', 'access_token'], ['a', 'jsapi_ticket'], ['a', 'access_token'], ['c', 'access_token']] as const) {
      await store.schedule({ app, kind }, { dueAt: app === 'c' ? 5 : 10, shard: 0 });
    }
    const { entries, cursor } = await store.queryDue(0, { limit: 3 });
    expect(entries.map((e) => `${e.key.app}/${e.key.kind}`)).toEqual(['c/access_token', 'a/access_token', 'a/jsapi_ticket']);
    expect((await store.queryDue(0, { limit: 3, cursor })).entries.map((e) => e.key.app)).toEqual(['b']);
  });

  it('a last page has no cursor, and stores do not share their items', async () => {
    const a = new MemoryCredentialStore();
    const b = new MemoryCredentialStore();
    await a.schedule({ app: 'oa', kind: 'access_token' }, { dueAt: 1, shard: 2 });
    expect(await a.queryDue(2, { limit: 1 })).toEqual({ entries: [expect.objectContaining({ key: { app: 'oa', kind: 'access_token' } })] });
    expect(await b.read({ app: 'oa', kind: 'access_token' })).toBeUndefined();
  });
});
