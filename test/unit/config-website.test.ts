import { describe, expect, it } from 'vitest';
import { ConfigurationInvalidError, loadConfig, parseAppEntry } from '../../lib/config.js';

/** The website app type (Open Platform website and mobile apps: login only) and the `login` scope. */
const site = { name: 'site', appid: 'wx_site_1', type: 'website', secret: { env: 'S1' } };
const SOME_KEY = { name: 'k', sha256: 'a'.repeat(64), apps: ['*'], scopes: ['read'] };
const env = (apps: unknown[], keys: unknown[] = [SOME_KEY]) => ({ HUB_APPS: JSON.stringify(apps), HUB_API_KEYS: JSON.stringify(keys), S1: 'secret' });

function error(e: Record<string, string>): string {
  try {
    loadConfig(e);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigurationInvalidError);
    return (err as Error).message;
  }
  throw new Error('configuration was accepted');
}

describe('a website app', () => {
  it('takes an appid and a secret, and has no tickets and no proxy paths', () => {
    expect(loadConfig(env([site])).apps[0]).toEqual({ ...site, compat: false, tickets: [], proxyPaths: [] });
  });

  it('is named by its appid by default, in HUB_APPS and in SSM', () => {
    const { name: _, ...unnamed } = site;
    expect(loadConfig(env([unnamed])).apps[0]!.name).toBe('wx_site_1');
    expect(parseAppEntry(JSON.stringify(unnamed), '/wechat-token-hub/prod/apps/web').name).toBe('web');
  });

  it.each([
    ['tokenApi', { tokenApi: 'classic' }],
    ['tickets', { tickets: ['jsapi'] }],
    ['proxyPaths', { proxyPaths: ['/cgi-bin/'] }],
  ])('refuses %s, naming the field', (field, extra) => {
    expect(error(env([{ ...site, ...extra }]))).toMatch(new RegExp(`HUB_APPS\\[0\\].*${field}`));
  });

  it('shares the compat appids with Official Accounts and Mini Programs', () => {
    const oa = { name: 'oa', appid: 'wx_site_1', type: 'official_account', secret: { env: 'S1' }, compat: true };
    expect(error(env([oa, { ...site, compat: true }]))).toMatch(/HUB_APPS\[1\]\.compat: another compat app has appid/);
  });

  it('is named among the types when the type is wrong', () => {
    expect(error(env([{ ...site, type: 'web' }]))).toBe('Invalid configuration: HUB_APPS[0].type: must be official_account, mini_program, wecom, website or platform');
  });
});

describe('the login scope', () => {
  it('is a scope a key may hold', () => {
    const key = { name: 'k', sha256: 'a'.repeat(64), apps: ['site'], scopes: ['login'] };
    expect(loadConfig(env([site], [key])).apiKeys[0]!.scopes).toEqual(['login']);
  });
});
