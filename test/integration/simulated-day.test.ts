import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../support/manual-clock.js';
import { DAY_APPS, simulateDay } from '../support/simulated-day.js';
import { closeSharedDynalite, startWorld } from '../support/world.js';

/** A China quota day starts at 16:00 UTC. */
const DAY_START = Date.UTC(2026, 10, 23, 16, 0);
afterAll(closeSharedDynalite);

/** A day of virtual time is a long run on a shared 2-core machine: not a timing assertion, just room. */
const DAY_TIMEOUT_MS = 120_000;

describe('a simulated day', () => {
  it('fault-free: no service is handed a token WeChat rejects, at most 15 token fetches per app, the ledger equals WeChat\'s count', async () => {
    const world = await startWorld({ clock: new ManualClock(DAY_START) });
    try {
      const day = await simulateDay(world, { containers: 3, readsPerApp: 1, readEveryMinutes: 1, faults: false });
      expect(day.rejected).toEqual([]);
      expect(day.failedReads).toEqual([]);
      for (const { app } of DAY_APPS) {
        expect(day.wechatCalls[app], app).toBeLessThanOrEqual(15);
        expect(day.wechatCalls[app], app).toBeGreaterThanOrEqual(12); // 86400 / 7200
        expect(day.ledger[app], app).toBe(day.wechatCalls[app]);
      }
    } finally {
      await world.close();
    }
  }, DAY_TIMEOUT_MS);

  it('with faults and one outside fetch: only a read after the outside fetch gets a rejected token, healed by one forced refresh; the ledger still equals WeChat\'s count', async () => {
    const world = await startWorld({ clock: new ManualClock(DAY_START) });
    try {
      const outside = 777;
      const day = await simulateDay(world, { containers: 3, readsPerApp: 1, readEveryMinutes: 1, faults: true, outsideFetchAtMinute: outside });
      expect(day.failedReads).toEqual([]);
      // WeChat keeps the hub's token 5 more minutes after the outside fetch. The first service to be
      // refused reports it and the forced refresh heals it for everyone (had no service read, the next
      // tick's probe would have: faults.test.ts, self-healing).
      expect(day.rejected).toHaveLength(1);
      const [r] = day.rejected;
      expect(r!.app).toBe('oa');
      expect(r!.minute).toBeGreaterThanOrEqual(outside + 5);
      expect(r!.minute).toBeLessThan(outside + 10);
      expect(r!.healed).toBe(true);
      for (const { app } of DAY_APPS) {
        // The outside fetch is WeChat's count, not the hub's.
        expect(day.ledger[app], app).toBe(day.wechatCalls[app]! - (app === 'oa' ? day.outsideCalls : 0));
      }
    } finally {
      await world.close();
    }
  }, DAY_TIMEOUT_MS);
});
