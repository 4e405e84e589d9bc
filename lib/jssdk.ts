import { createHash, randomBytes } from 'node:crypto';

/**
 * The JS-SDK signature (docs/wechat.md §5; WeCom uses the same for wx.config and wx.agentConfig):
 * sha1 of `jsapi_ticket=…&noncestr=…&timestamp=…&url=…`, fields in ASCII order, raw values (not
 * URL-escaped), the URL without its fragment, as lowercase hex.
 */
export function jsapiSignature(p: { ticket: string; nonceStr: string; timestamp: number; url: string }): string {
  const string1 = `jsapi_ticket=${p.ticket}&noncestr=${p.nonceStr}&timestamp=${p.timestamp}&url=${withoutFragment(p.url)}`;
  return createHash('sha1').update(string1, 'utf8').digest('hex');
}

/** The page URL as WeChat signs it: everything before the first `#`, otherwise exactly as given. */
export function withoutFragment(url: string): string {
  const hash = url.indexOf('#');
  return hash < 0 ? url : url.slice(0, hash);
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A 16-character nonce of letters and digits (WeChat's examples use this shape). */
export function nonceStr(): string {
  return [...randomBytes(16)].map((b) => ALPHABET[b % ALPHABET.length]).join('');
}
