import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextQuotaDayStart, quotaDay } from '../../lib/quota/periods.js';

describe('quota day (Asia/Shanghai)', () => {
  it('midnight in China is 16:00 UTC the day before', () => {
    expect(quotaDay(Date.UTC(2026, 10, 23, 15, 59, 59, 999))).toBe('2026-11-23');
    expect(quotaDay(Date.UTC(2026, 10, 23, 16, 0, 0))).toBe('2026-11-24');
    expect(nextQuotaDayStart(Date.UTC(2026, 10, 23, 10))).toBe(Date.UTC(2026, 10, 23, 16));
  });

  it('the next day starts after now, within a day, and is where the day changes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_000_000_000_000 }), (now) => {
        const next = nextQuotaDayStart(now);
        expect(next).toBeGreaterThan(now);
        expect(next - now).toBeLessThanOrEqual(86_400_000);
        expect(quotaDay(next - 1)).toBe(quotaDay(now));
        expect(quotaDay(next)).not.toBe(quotaDay(now));
      }),
    );
  });
});
