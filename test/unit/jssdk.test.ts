import { describe, expect, it } from 'vitest';
import { jsapiSignature, nonceStr, withoutFragment } from '../../lib/jssdk.js';

describe('JS-SDK signature', () => {
  it('matches the worked example of the JS-SDK documentation (docs/wechat.md §5)', () => {
    expect(
      jsapiSignature({
        ticket: 'sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg',
        nonceStr: 'Wm3WZYTPz0wzccnW',
        timestamp: 1414587457,
        url: 'http://mp.weixin.qq.com?params=value',
      }),
    ).toBe('0f9de62fce790f9a083d5c99e95740ceb90c27ed');
  });

  it('matches the older revision of the example, and drops the fragment before signing', () => {
    const p = { ticket: 'sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg', nonceStr: 'Wm3WZYTPz0wzccnW', timestamp: 1414587457 };
    expect(jsapiSignature({ ...p, url: 'http://mp.weixin.qq.com' })).toBe('f4d90daf4b3bca3078ab155816175ba34c443a7b');
    expect(jsapiSignature({ ...p, url: 'http://mp.weixin.qq.com#/a?b=c' })).toBe('f4d90daf4b3bca3078ab155816175ba34c443a7b');
  });

  it('signs the URL exactly as given (no normalisation), up to the first #', () => {
    expect(withoutFragment('https://a.example/p?x=1#y#z')).toBe('https://a.example/p?x=1');
    expect(withoutFragment('HTTP://A.example:80/%7e?q= ')).toBe('HTTP://A.example:80/%7e?q= ');
  });

  it('nonces are 16 letters and digits, and differ', () => {
    const a = nonceStr();
    expect(a).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(nonceStr()).not.toBe(a);
  });
});
