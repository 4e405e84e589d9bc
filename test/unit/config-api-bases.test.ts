import { describe, expect, it } from 'vitest';
import { ConfigurationInvalidError, loadConfig } from '../../lib/config.js';

const app = { name: 'oa', appid: 'wx_1', type: 'official_account', tokenApi: 'classic', secret: { env: 'S1' } };
const base = { HUB_APPS: JSON.stringify([app]), S1: 'secret' };

function error(env: Record<string, string>): string {
  try {
    loadConfig({ ...base, ...env });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigurationInvalidError);
    return (e as Error).message;
  }
  throw new Error('configuration was accepted');
}

describe('WECHAT_API_BASES and WECOM_API_BASES', () => {
  it('default to WeChat\'s general and disaster-recovery domains, and to WeCom\'s one domain', () => {
    const c = loadConfig(base);
    expect(c.wechatApiBases).toEqual(['https://api.weixin.qq.com', 'https://api2.weixin.qq.com']);
    expect(c.wechatApiBase).toBe('https://api.weixin.qq.com');
    expect(c.wecomApiBases).toEqual(['https://qyapi.weixin.qq.com']);
    expect(c.wecomApiBase).toBe('https://qyapi.weixin.qq.com');
  });

  it('take a comma-separated list in the order given, spaces around the commas allowed', () => {
    const c = loadConfig({ ...base, WECHAT_API_BASES: 'https://hk.api.weixin.qq.com, https://api.weixin.qq.com ,https://api2.weixin.qq.com' });
    expect(c.wechatApiBases).toEqual(['https://hk.api.weixin.qq.com', 'https://api.weixin.qq.com', 'https://api2.weixin.qq.com']);
    expect(c.wechatApiBase).toBe('https://hk.api.weixin.qq.com');
  });

  it('are just that one base when only WECHAT_API_BASE (or WECOM_API_BASE) is set', () => {
    const c = loadConfig({ ...base, WECHAT_API_BASE: 'http://127.0.0.1:41235', WECOM_API_BASE: 'http://127.0.0.1:41236' });
    expect(c.wechatApiBases).toEqual(['http://127.0.0.1:41235']);
    expect(c.wecomApiBases).toEqual(['http://127.0.0.1:41236']);
  });

  it.each([
    [{ WECHAT_API_BASES: '' }, /^Invalid configuration: WECHAT_API_BASES: must list at least one URL, comma-separated$/],
    [{ WECHAT_API_BASES: 'https://api.weixin.qq.com,' }, /^Invalid configuration: WECHAT_API_BASES\[1\]: must be an http\(s\) URL/],
    [{ WECHAT_API_BASES: 'https://api.weixin.qq.com,ftp://api2.weixin.qq.com' }, /^Invalid configuration: WECHAT_API_BASES\[1\]: must be an http\(s\) URL/],
    [{ WECHAT_API_BASES: 'api2.weixin.qq.com' }, /^Invalid configuration: WECHAT_API_BASES\[0\]: must be an http\(s\) URL/],
    [{ WECHAT_API_BASES: 'https://api.weixin.qq.com/?x=1' }, /^Invalid configuration: WECHAT_API_BASES\[0\]: must be an http\(s\) URL without a query or fragment/],
    [{ WECHAT_API_BASES: 'https://api.weixin.qq.com,https://api.weixin.qq.com/' }, /^Invalid configuration: WECHAT_API_BASES\[1\]: is listed twice$/],
    [{ WECHAT_API_BASES: 'https://api2.weixin.qq.com', WECHAT_API_BASE: 'https://api.weixin.qq.com' }, /^Invalid configuration: WECHAT_API_BASES: set either WECHAT_API_BASES \(a list\) or WECHAT_API_BASE \(one base\), not both$/],
    [{ WECOM_API_BASES: 'qyapi' }, /^Invalid configuration: WECOM_API_BASES\[0\]: must be an http\(s\) URL/],
    [{ WECOM_API_BASES: 'https://qyapi.weixin.qq.com', WECOM_API_BASE: 'https://qyapi.weixin.qq.com' }, /^Invalid configuration: WECOM_API_BASES: set either/],
  ])('refuses %j naming the field', (patch, message) => {
    expect(error(patch)).toMatch(message);
  });
});
