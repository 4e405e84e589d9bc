import { describe, expect, it } from 'vitest';
import { ConfigurationInvalidError, loadConfig, parseApiKeys, parseAppEntry } from '../../lib/config.js';
import { checkStackEnvironment } from '../../lib/config/stack.js';
import { runLocal } from '../../lib/local/run-local.js';

/**
 * WeCom secrets without an agentid, and the refusals a deploy needs (issue 13): what the functions
 * would otherwise find only in AWS, on every request. Each message names the field.
 */
const oa = { name: 'oa', appid: 'wx_1', type: 'official_account', secret: { env: 'S1' } };
const crm = { name: 'crm', type: 'wecom', corpid: 'ww_corp', agentid: 1000002, secret: { env: 'S2' } };
const contacts = { name: 'contacts', type: 'wecom', corpid: 'ww_corp', secret: { env: 'S3' } };
const key = (name: string, c = 'a') => ({ name, sha256: c.repeat(64), apps: ['*'], scopes: ['read'] });
const principal = (name: string, role = 'orders') => ({ name, arn: `arn:aws:iam::123456789012:role/${role}`, apps: ['*'], scopes: ['read'] });
const base = { HUB_APPS: JSON.stringify([oa, crm]), S1: 's1', S2: 's2', S3: 's3' };
/** The Lambda environment serverless.yml gives the functions, with the default params. */
const stack = {
  HUB_APPS: '[]',
  HUB_APPS_SSM_PATH: '/wechat-token-hub/dev/apps/',
  HUB_API_KEYS_SSM: '/wechat-token-hub/dev/api-keys',
  HUB_AUTH: 'key',
  HUB_IAM_PRINCIPALS: '[]',
  WECHAT_API_BASES: 'https://api.weixin.qq.com,https://api2.weixin.qq.com',
  WECOM_API_BASES: 'https://qyapi.weixin.qq.com',
  REFRESH_MARGIN: '1200',
  FORCED_DAILY_BUDGET: '200',
  TABLE_NAME: { Ref: 'TokenTable' },
  POWERTOOLS_SERVICE_NAME: 'wechat-token-hub',
  POWERTOOLS_LOG_LEVEL: 'INFO',
};
const ssmApp = { name: 'shop', appid: 'wx_shop', type: 'official_account', secret: { ssm: '/wechat-token-hub/dev/shop' } };

function error(run: () => unknown): string {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigurationInvalidError);
    return (e as Error).message;
  }
  throw new Error('configuration was accepted');
}

describe('a WeCom secret without an agentid', () => {
  it('is taken with a name, and keeps the <corpid>-<agentid> default name for an app with one', () => {
    const c = loadConfig({ ...base, HUB_APPS: JSON.stringify([{ ...crm, name: undefined }, contacts]) });
    expect(c.apps.map((a) => a.name)).toEqual(['ww_corp-1000002', 'contacts']);
    expect(c.apps[1]).toMatchObject({ type: 'wecom', corpid: 'ww_corp', tickets: [] });
    expect((c.apps[1] as { agentid?: number }).agentid).toBeUndefined();
    expect(loadConfig({ ...base, HUB_APPS: JSON.stringify([{ ...contacts, tickets: ['jsapi'] }]) }).apps[0]!.tickets).toEqual(['jsapi']);
    // In SSM the parameter's last segment is the name.
    expect(parseAppEntry(JSON.stringify({ ...contacts, name: undefined }), '/wechat-token-hub/dev/apps/hr-sync').name).toBe('hr-sync');
  });

  it.each([
    [{ ...crm, agentid: 0 }, /^Invalid configuration: HUB_APPS\[0\]\.agentid: must be the app's AgentId \(a positive integer\); leave agentid out/],
    [{ ...crm, agentid: -5 }, /HUB_APPS\[0\]\.agentid: must be the app's AgentId/],
    [{ ...crm, agentid: 1.5 }, /HUB_APPS\[0\]\.agentid: must be the app's AgentId/],
    [{ ...crm, agentid: '1000002' }, /HUB_APPS\[0\]\.agentid: must be the app's AgentId/],
    [{ ...contacts, name: undefined }, /^Invalid configuration: HUB_APPS\[0\]\.name: is required for a WeCom secret without an agentid/],
    [{ ...contacts, tickets: ['agent_config'] }, /^Invalid configuration: HUB_APPS\[0\]\.tickets: agent_config .* needs an agentid/],
  ])('refuses %j naming the field', (entry, message) => {
    expect(error(() => loadConfig({ ...base, HUB_APPS: JSON.stringify([entry]) }))).toMatch(message);
  });
});

describe('refusals that would otherwise surface only in AWS', () => {
  it('takes FORCED_DAILY_BUDGET up to WeChat\'s daily quota, and an empty key list with IAM or keys in SSM', () => {
    expect(loadConfig({ ...base, FORCED_DAILY_BUDGET: '2000' }).timings.forcedDailyBudget).toBe(2000);
    expect(loadConfig({ ...base, HUB_API_KEYS: '[]', HUB_API_KEYS_SSM: '/hub/keys' }).apiKeys).toEqual([]);
    expect(loadConfig({ ...base, HUB_API_KEYS: '[]', HUB_AUTH: 'iam', HUB_IAM_PRINCIPALS: JSON.stringify([principal('orders')]) }).apiKeys).toEqual([]);
    expect(loadConfig(base).apiKeys).toEqual([]); // unset: no keys (npm start says what to do)
  });

  it.each([
    [{ FORCED_DAILY_BUDGET: '2001' }, /^Invalid configuration: FORCED_DAILY_BUDGET: must be at most 2000, WeChat's daily access_token quota/],
    [{ HUB_API_KEYS: '[]' }, /^Invalid configuration: HUB_API_KEYS: no keys: nobody could call the hub/],
    [{ HUB_API_KEYS: JSON.stringify([key('orders'), key('orders', 'b')]) }, /^Invalid configuration: HUB_API_KEYS\[1\]\.name: duplicate key name "orders"/],
    [{ HUB_API_KEYS: JSON.stringify([key('orders'), key('billing')]) }, /^Invalid configuration: HUB_API_KEYS\[1\]\.sha256: the same sha256 as an earlier entry/],
    [{ HUB_AUTH: 'iam', HUB_IAM_PRINCIPALS: JSON.stringify([principal('a', 'x'), principal('a', 'y')]) }, /^Invalid configuration: HUB_IAM_PRINCIPALS\[1\]\.name: duplicate principal name "a"/],
    [{ HUB_APPS: '' }, /^Invalid configuration: HUB_APPS: is set but empty: give a JSON array, or leave the variable unset$/],
    [{ HUB_API_KEYS: '' }, /^Invalid configuration: HUB_API_KEYS: is set but empty/],
    [{ HUB_IAM_PRINCIPALS: '' }, /^Invalid configuration: HUB_IAM_PRINCIPALS: is set but empty/],
  ])('refuses %j naming the field', (patch, message) => {
    expect(error(() => loadConfig({ ...base, ...patch }))).toMatch(message);
  });

  it('npm start takes HUB_APPS=\'\' and HUB_API_KEYS=\'\' as set (and refuses them), not as "run the demo"', async () => {
    await expect(runLocal({ HUB_APPS: '' }, () => {})).rejects.toThrow(/^Invalid configuration: HUB_APPS: is set but empty/);
    await expect(runLocal({ HUB_API_KEYS: '' }, () => {})).rejects.toThrow(/^Invalid configuration: HUB_API_KEYS: is set but empty/);
    await expect(runLocal({ HUB_API_KEYS: '[]' }, () => {})).rejects.toThrow(/^Invalid configuration: HUB_API_KEYS: no keys/);
  });

  it('refuses duplicate key names in the key list read from SSM too (the same schema)', () => {
    expect(error(() => parseApiKeys(JSON.stringify([key('a'), key('a', 'b')]), 'HUB_API_KEYS_SSM'))).toMatch(/HUB_API_KEYS_SSM\[1\]\.name: duplicate key name "a"/);
  });
});

describe('the package-time check of the stack (deploy/check-config.cjs)', () => {
  it('takes the default params, and apps with SSM secrets (a WeCom secret without an agentid among them)', () => {
    expect(checkStackEnvironment(stack).apps).toEqual([]);
    const apps = [ssmApp, { ...contacts, secret: { ssm: '/wechat-token-hub/dev/contacts' } }];
    expect(checkStackEnvironment({ ...stack, HUB_APPS: JSON.stringify(apps) }).apps.map((a) => a.name)).toEqual(['shop', 'contacts']);
  });

  it.each([
    [{ HUB_APPS: '[{"name":"shop",}]' }, /^Invalid configuration: HUB_APPS: is not valid JSON\n {2}\(HUB_APPS is the stage param "apps"/],
    [{ HUB_APPS: '' }, /^Invalid configuration: HUB_APPS: is set but empty/],
    [{ HUB_APPS: JSON.stringify([{ ...ssmApp, type: 'game' }]) }, /^Invalid configuration: HUB_APPS\[0\]\.type: .*\n {2}\(HUB_APPS is the stage param "apps"/],
    [{ HUB_APPS: JSON.stringify([{ ...ssmApp, secret: { env: 'SHOP_SECRET' } }]) }, /^Invalid configuration: HUB_APPS\[0\]\.secret: \{"env": "SHOP_SECRET"\} cannot work in AWS .*\{"ssm": "\/wechat-token-hub\/<stage>\/shop"\}/],
    [{ FORCED_DAILY_BUDGET: '5000' }, /^Invalid configuration: FORCED_DAILY_BUDGET: must be at most 2000.*\n {2}\(FORCED_DAILY_BUDGET is the stage param "forcedDailyBudget"/],
    [{ FORCED_DAILY_BUDGET: 5000 }, /^Invalid configuration: FORCED_DAILY_BUDGET: must be at most 2000/],
    [{ HUB_AUTH: 'iam' }, /^Invalid configuration: HUB_IAM_PRINCIPALS: must list at least one principal.*\n {2}\(HUB_IAM_PRINCIPALS is the stage param "iamPrincipals"/],
    [{ WECHAT_API_BASES: 'https://api.weixin.qq.com,https://api.weixin.qq.com' }, /^Invalid configuration: WECHAT_API_BASES\[1\]: is listed twice\n {2}\(WECHAT_API_BASES is the stage param "wechatApiBases"/],
    [{ REFRESH_MARGIN: '9000' }, /^Invalid configuration: REFRESH_MARGIN: must be less than 7200/],
  ])('refuses %j naming the field and its param', (patch, message) => {
    expect(error(() => checkStackEnvironment({ ...stack, ...patch }))).toMatch(message);
  });

  it('refuses an {"env": …} secret even when the packaging machine has that variable set', () => {
    const env = { ...stack, HUB_APPS: JSON.stringify([{ ...ssmApp, secret: { env: 'SHOP_SECRET' } }]), SHOP_SECRET: 'set-here-but-not-in-lambda' };
    expect(error(() => checkStackEnvironment(env))).toMatch(/HUB_APPS\[0\]\.secret: \{"env": "SHOP_SECRET"\} cannot work in AWS/);
  });
});
