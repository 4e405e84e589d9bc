import { describe, expect, it } from 'vitest';
import { ConfigurationInvalidError, loadConfig } from '../../lib/config.js';

const app = { name: 'oa', appid: 'wx_1', type: 'official_account', tokenApi: 'classic', secret: { env: 'S1' } };
const base = { HUB_APPS: JSON.stringify([app]), S1: 'secret' };

function error(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigurationInvalidError);
    return (e as Error).message;
  }
  throw new Error('configuration was accepted');
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig(base);
    expect(c.wechatApiBase).toBe('https://api.weixin.qq.com');
    expect(c.timings).toMatchObject({ refreshMarginMs: 1_200_000, minServeMs: 60_000, leaseMs: 15_000, cacheTtlMs: 30_000 });
    expect(c.apps[0]).toMatchObject({ name: 'oa', tokenApi: 'classic' });
    expect(c.port).toBe(3000);
    expect(c.logLevel).toBe('INFO');
  });

  it.each([
    ['0', 0],
    ['8080', 8080],
    ['65535', 65535],
  ])('takes PORT=%s (0: a free port)', (port, expected) => {
    expect(loadConfig({ ...base, PORT: port }).port).toBe(expected);
  });

  it.each([
    ['debug', 'DEBUG'],
    ['Warn', 'WARN'],
    ['SILENT', 'SILENT'],
    ['error', 'ERROR'],
  ])('takes LOG_LEVEL=%s in any case', (level, expected) => {
    expect(loadConfig({ ...base, LOG_LEVEL: level }).logLevel).toBe(expected);
  });

  it('takes a REFRESH_MARGIN between MIN_SERVE and a token\'s life', () => {
    expect(loadConfig({ ...base, REFRESH_MARGIN: '7199', MIN_SERVE: '60' }).timings.refreshMarginMs).toBe(7_199_000);
    expect(loadConfig({ ...base, REFRESH_MARGIN: '61', MIN_SERVE: '60' }).timings.refreshMarginMs).toBe(61_000);
  });

  it('names an app by its appid when no name is given', () => {
    const { name: _omit, ...noName } = app;
    expect(loadConfig({ ...base, HUB_APPS: JSON.stringify([noName]) }).apps[0]!.name).toBe('wx_1');
  });

  it.each([
    [{ HUB_APPS: undefined }, /HUB_APPS: is required/],
    [{ HUB_APPS: '[' }, /HUB_APPS: is not valid JSON/],
    [{ HUB_APPS: '[]' }, /HUB_APPS: must list at least one app/],
    [{ HUB_APPS: JSON.stringify([{ ...app, type: 'game' }]) }, /HUB_APPS\[0\]\.type/],
    [{ HUB_APPS: JSON.stringify([{ ...app, tokenApi: 'fast' }]) }, /HUB_APPS\[0\]\.tokenApi/],
    [{ HUB_APPS: JSON.stringify([{ ...app, secret: 'plain' }]) }, /HUB_APPS\[0\]\.secret/],
    [{ HUB_APPS: JSON.stringify([{ ...app, secret: { env: 'MISSING' } }]) }, /HUB_APPS\[0\]\.secret: environment variable MISSING is not set/],
    [{ HUB_APPS: JSON.stringify([app, app]) }, /HUB_APPS\[1\]\.name: duplicate/],
    [{ HUB_APPS: JSON.stringify([{ ...app, extra: 1 }]) }, /HUB_APPS\[0\]/],
    [{ HUB_API_KEYS: JSON.stringify([{ name: 'k', sha256: 'abc', apps: ['*'], scopes: ['read'] }]) }, /HUB_API_KEYS\[0\]\.sha256/],
    [{ HUB_API_KEYS: JSON.stringify([{ name: 'k', sha256: 'a'.repeat(64), apps: ['nope'], scopes: ['read'] }]) }, /HUB_API_KEYS\[0\]\.apps\[0\]: no app is named "nope"/],
    [{ HUB_API_KEYS: JSON.stringify([{ name: 'k', sha256: 'a'.repeat(64), apps: ['*'], scopes: ['write'] }]) }, /HUB_API_KEYS\[0\]\.scopes\[0\]/],
    [{ WECHAT_API_BASE: 'ftp://x' }, /WECHAT_API_BASE/],
    [{ LEASE: '5' }, /LEASE: must be longer than UPSTREAM_DEADLINE/],
    [{ REFRESH_MARGIN: '-3' }, /REFRESH_MARGIN/],
    [{ PORT: 'abc' }, /^Invalid configuration: PORT: must be a port number 0-65535$/],
    [{ PORT: '-1' }, /^Invalid configuration: PORT: must be a port number 0-65535$/],
    [{ PORT: '70000' }, /^Invalid configuration: PORT: must be a port number 0-65535$/],
    [{ PORT: '65536' }, /^Invalid configuration: PORT: must be a port number 0-65535$/],
    [{ PORT: '' }, /^Invalid configuration: PORT: must be a port number 0-65535$/],
    [{ PORT: '80.5' }, /^Invalid configuration: PORT: must be a port number 0-65535$/],
    [{ LOG_LEVEL: 'VERBOSE' }, /^Invalid configuration: LOG_LEVEL: must be one of DEBUG, INFO, WARN, ERROR, SILENT$/],
    [{ LOG_LEVEL: '' }, /^Invalid configuration: LOG_LEVEL: must be one of DEBUG, INFO, WARN, ERROR, SILENT$/],
    [{ REFRESH_MARGIN: '7200' }, /^Invalid configuration: REFRESH_MARGIN: must be less than 7200 \(a token lives at most 7200 s\)$/],
    [{ REFRESH_MARGIN: '86400' }, /^Invalid configuration: REFRESH_MARGIN: must be less than 7200/],
    [{ REFRESH_MARGIN: '60' }, /^Invalid configuration: REFRESH_MARGIN: must be more than MIN_SERVE$/],
    [{ REFRESH_MARGIN: '300', MIN_SERVE: '600' }, /^Invalid configuration: REFRESH_MARGIN: must be more than MIN_SERVE$/],
    [{ HUB_AUTH: 'iam' }, /HUB_IAM_PRINCIPALS: must list at least one principal/],
    [{ HUB_AUTH: 'oauth' }, /HUB_AUTH/],
    [{ HUB_AUTH: 'iam', HUB_IAM_PRINCIPALS: JSON.stringify([{ name: 'x', arn: 'arn:aws:iam::1:role/x', apps: ['*'], scopes: ['read'] }]) }, /HUB_IAM_PRINCIPALS\[0\]\.arn/],
  ])('refuses %j naming the field', (patch, message) => {
    const env: Record<string, string> = { ...base };
    for (const [k, v] of Object.entries(patch)) if (v === undefined) delete env[k]; else env[k] = v;
    expect(error(env)).toMatch(message);
  });
});
