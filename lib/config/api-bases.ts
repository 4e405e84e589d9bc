import * as z from 'zod/mini';
import { ConfigurationInvalidError, parse } from './parse.js';

/**
 * WeChat's and WeCom's API bases (WECHAT_API_BASES / WECHAT_API_BASE, WECOM_API_BASES /
 * WECOM_API_BASE): the defaults, and the parsing of a comma-separated list in the order of
 * preference (http(s) URLs without a query or fragment, none listed twice).
 */

/** WeChat's general domain, then the disaster-recovery domain WeChat publishes for when the first cannot be reached. */
export const DEFAULT_WECHAT_API_BASES = ['https://api.weixin.qq.com', 'https://api2.weixin.qq.com'] as const;
/** WeCom has one domain. */
export const DEFAULT_WECOM_API_BASES = ['https://qyapi.weixin.qq.com'] as const;

const BASE_MESSAGE = 'must be an http(s) URL without a query or fragment, e.g. https://api2.weixin.qq.com';
const apiBaseList = z.array(
  z.url({ protocol: /^https?$/, error: BASE_MESSAGE }).check(z.refine((u) => {
    // (zod runs this check after a failed z.url too: no URL, no second message)
    const url = URL.canParse(u) ? new URL(u) : undefined;
    return !url || (!url.search && !url.hash && !url.username && !url.password && !u.includes('?') && !u.includes('#'));
  }, BASE_MESSAGE)),
).check(
  z.minLength(1, 'must list at least one URL, comma-separated'),
  z.superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((u, i) => {
      if (!URL.canParse(u)) return;
      const key = new URL(u).href.replace(/\/$/, '');
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: [i], message: 'is listed twice' });
      seen.add(key);
    });
  }),
);

/**
 * The bases of one platform: `<field>S` (a comma-separated list), else `<field>` (one base), else the
 * defaults. Setting both is refused: which one was meant cannot be known.
 */
export function apiBases(list: string | undefined, single: string | undefined, field: string, defaults: readonly string[]): string[] {
  if (list !== undefined && single !== undefined) {
    throw new ConfigurationInvalidError(`Invalid configuration: ${field}S: set either ${field}S (a list) or ${field} (one base), not both`);
  }
  if (single !== undefined) return [single];
  if (list === undefined) return [...defaults];
  const items = list.trim() === '' ? [] : list.split(',').map((u) => u.trim());
  return parse(apiBaseList, items, `${field}S`);
}
