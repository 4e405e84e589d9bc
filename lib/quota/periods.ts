/** WeChat's quotas reset at midnight in China (UTC+8, no daylight saving). */
const OFFSET = 8 * 3_600_000;
const DAY = 86_400_000;

/** The quota day of an instant, `YYYY-MM-DD` in Asia/Shanghai. */
export function quotaDay(now: number): string {
  return new Date(now + OFFSET).toISOString().slice(0, 10);
}

/** The instant the next quota day starts. */
export function nextQuotaDayStart(now: number): number {
  return Math.floor((now + OFFSET) / DAY) * DAY + DAY - OFFSET;
}

const HOUR = 3_600_000;

/** The hour of an instant, `YYYY-MM-DDTHH` in Asia/Shanghai (WeCom's hourly limits). */
export function quotaHour(now: number): string {
  return new Date(now + OFFSET).toISOString().slice(0, 13);
}

/** The instant the next hour starts. */
export function nextHourStart(now: number): number {
  return Math.floor(now / HOUR) * HOUR + HOUR;
}
