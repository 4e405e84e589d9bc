import { describe, expect, it } from 'vitest';
import type { PlatformApp } from '../../lib/apps.js';
import { TICKET_LIFE_MS } from '../../lib/kinds/platform.js';
import { reauthorizationsNeeded } from '../../lib/platform/platform-gauges.js';
import { authorizerBudget, countAuthorizers, tallyAuthorizers, ticketAgeSeconds } from '../../lib/platform/platform-status.js';
import { authorizerRow } from '../../lib/principals/authorizers.js';
import type { TickOutcome } from '../../lib/refresher.js';
import { MemoryCredentialStore } from '../../lib/store/memory.js';
import type { CredentialItem, CredentialKey } from '../../lib/store/store.js';

const NOW = Date.UTC(2026, 10, 23, 2, 0, 0);
const HOUR = 3_600_000;

const platform = (name: string): PlatformApp => ({
  type: 'platform',
  name,
  appid: `wx_component_${name}`,
  tickets: [],
  compat: false,
  proxyPaths: [],
  getSecret: () => Promise.resolve('s'),
  getToken: () => Promise.resolve('t'),
  getAesKey: () => Promise.resolve('k'),
});

/** What each authorizer's token item says (by authorizer index): the four states in turn. */
const tokenOf = (i: number): CredentialItem | undefined => {
  switch (i % 4) {
    case 0:
      return { value: `tok${i}`, expiresAt: NOW + HOUR, version: 1, failures: 0 }; // fresh
    case 1:
      return { value: `tok${i}`, expiresAt: NOW + HOUR, version: 2, failures: 1, lastError: { code: 'upstream:61023', message: 'refresh token refused', at: NOW } }; // needs_reauthorization
    case 2:
      return undefined; // failing: no token
    default:
      return { value: `tok${i}`, expiresAt: NOW + HOUR, version: 1, failures: 0 }; // its row is revoked
  }
};

/** A store with `count` authorizers of each platform (rows in the memory store), and reads that are counted. */
async function world(platforms: Record<string, number>) {
  const store = new MemoryCredentialStore();
  const items = new Map<string, CredentialItem | undefined>();
  for (const [name, count] of Object.entries(platforms)) {
    for (let i = 0; i < count; i++) {
      const appid = `wx_a_${String(i).padStart(5, '0')}`;
      const { row } = authorizerRow(platform(name), { appid, status: i % 4 === 3 ? 'revoked' : 'authorized', funcs: [1], authorizedAt: NOW }, NOW);
      await store.putPrincipal(row);
      items.set(`${name}/${appid}`, tokenOf(i));
    }
  }
  const calls = { list: 0, read: 0 };
  return {
    calls,
    store: {
      listPrincipals: (o: { limit: number; cursor?: string; prefix?: string }) => (calls.list++, store.listPrincipals(o)),
      read: async (k: CredentialKey) => (calls.read++, k.kind === 'access_token' ? items.get(k.app) : undefined),
    },
  };
}

describe("a platform's status: the authorizers counted by state", () => {
  it('tallies every state, 0 for those absent', () => {
    expect(tallyAuthorizers([], true)).toEqual({ fresh: 0, failing: 0, needs_reauthorization: 0, revoked: 0, counted: 0, complete: true });
    expect(tallyAuthorizers(['fresh', 'revoked', 'fresh', 'needs_reauthorization'], false)).toEqual({ fresh: 2, failing: 0, needs_reauthorization: 1, revoked: 1, counted: 4, complete: false });
  });

  it('counts all of a platform a page (100 rows) at a time, each state from its row and token, and no other platform\'s (even one whose name it begins)', async () => {
    const w = await world({ shop: 250, 'shop-2': 30 });
    const counts = await countAuthorizers(w.store, platform('shop'), NOW, authorizerBudget());
    // 250 = 63 of states 0 and 1, 62 of 2 and 3.
    expect(counts).toEqual({ fresh: 63, needs_reauthorization: 63, failing: 62, revoked: 62, counted: 250, complete: true });
    expect(w.calls).toEqual({ list: 3, read: 250 });
  });

  it('stops at the budget and says the count is not complete; the budget is shared by the call\'s platforms', async () => {
    const w = await world({ a: 250, b: 80, c: 10 });
    const budget = authorizerBudget(300);
    expect(await countAuthorizers(w.store, platform('a'), NOW, budget)).toMatchObject({ counted: 250, complete: true });
    expect(budget.left).toBe(50);
    expect(await countAuthorizers(w.store, platform('b'), NOW, budget)).toMatchObject({ counted: 50, complete: false });
    expect(budget.left).toBe(0);
    const before = { ...w.calls };
    expect(await countAuthorizers(w.store, platform('c'), NOW, budget)).toEqual({ fresh: 0, failing: 0, needs_reauthorization: 0, revoked: 0, counted: 0, complete: false });
    expect(w.calls).toEqual(before); // nothing read past the budget
  });

  it('a platform of exactly a page is complete; one with none is complete with nothing counted', async () => {
    const w = await world({ a: 100 });
    expect(await countAuthorizers(w.store, platform('a'), NOW, authorizerBudget(100))).toMatchObject({ counted: 100, complete: true });
    expect(await countAuthorizers(w.store, platform('none'), NOW, authorizerBudget())).toMatchObject({ counted: 0, complete: true });
  });
});

describe("a platform's ticket age", () => {
  it('counts from WeChat\'s CreateTime (its expiry less 12 hours), else from when it was stored; none without a ticket', () => {
    expect(ticketAgeSeconds(undefined, NOW)).toBeUndefined();
    expect(ticketAgeSeconds({ version: 0, failures: 2 }, NOW)).toBeUndefined();
    expect(ticketAgeSeconds({ value: 't', expiresAt: NOW - 25 * 60_000 + TICKET_LIFE_MS, obtainedAt: NOW - 20 * 60_000, version: 3, failures: 0 }, NOW)).toBe(25 * 60);
    expect(ticketAgeSeconds({ value: 't', obtainedAt: NOW - 90_500, version: 1, failures: 0 }, NOW)).toBe(90);
    expect(ticketAgeSeconds({ value: 't', expiresAt: NOW + 60_000 + TICKET_LIFE_MS, version: 1, failures: 0 }, NOW)).toBe(0);
  });
});

describe('the authorizers needing re-authorization, from the tick outcomes', () => {
  it('counts each authorizer whose token refresh ended in 61023 once, and nothing else', () => {
    const outcomes: TickOutcome[] = [
      { app: 'shop/wx_a', kind: 'access_token', outcome: 'failed', code: 'upstream:61023' },
      { app: 'shop/wx_a', kind: 'access_token', outcome: 'failed', code: 'upstream:61023' }, // a continuation's, the same authorizer
      { app: 'shop/wx_b', kind: 'access_token', outcome: 'blocked', code: 'configuration:61023' },
      { app: 'shop/wx_c', kind: 'access_token', outcome: 'failed', code: 'retry:-1' },
      { app: 'shop/wx_d', kind: 'jsapi_ticket', outcome: 'failed', code: 'upstream:61023' },
      { app: 'shop/wx_e', kind: 'access_token', outcome: 'refreshed' },
      { app: 'oa', kind: 'access_token', outcome: 'failed', code: 'upstream:61023' }, // a configured app is no authorizer
      { app: 'shop/wx_f', kind: 'access_token', outcome: 'failed', code: 'upstream:610231' },
    ];
    expect(reauthorizationsNeeded(outcomes)).toBe(2);
    expect(reauthorizationsNeeded([])).toBe(0);
  });
});
