import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { hashApiKey } from '../../lib/http/auth.js';
import { realWeChatWarning } from '../../lib/local/local-settings.js';
import { runLocal } from '../../lib/local/run-local.js';
import { WeChatSimulator } from '../../lib/simulator/wechat-simulator.js';

/**
 * `npm start` with HUB_DATA_DIR keeps its DynamoDB on disk, so a restart serves the tokens it has
 * instead of fetching new ones (each would replace the deployed hub's); and it warns when your own
 * apps are fetched from WeChat itself.
 */
const KEY = 'data_dir_test_key_0123456789';
const SECRET = 'data-dir-app-secret-0001';
const APPS = JSON.stringify([{ name: 'shop', appid: 'wx_data_dir_01', type: 'official_account', secret: { env: 'SHOP_SECRET' } }]);
const KEYS = JSON.stringify([{ name: 'svc', sha256: hashApiKey(KEY), apps: ['shop'], scopes: ['read'] }]);
let sim: WeChatSimulator;
let base: string;
let dir: string;

beforeEach(async () => {
  sim = new WeChatSimulator({ apps: [{ appid: 'wx_data_dir_01', secret: SECRET }] });
  base = await sim.listen(0);
  dir = await mkdtemp(join(tmpdir(), 'hub-data-dir-'));
});
afterEach(async () => {
  await sim.close();
  await rm(dir, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}) => ({ PORT: '0', LOG_LEVEL: 'SILENT', WECHAT_API_BASE: base, SHOP_SECRET: SECRET, HUB_APPS: APPS, HUB_API_KEYS: KEYS, ...extra });

async function startReadStop(extra: Record<string, string>): Promise<{ token: string; lines: string[] }> {
  const lines: string[] = [];
  const hub = await runLocal(env(extra), (l) => lines.push(l));
  try {
    const res = await request(`${hub.url}/v1/apps/shop/access-token`, { headers: { authorization: `Bearer ${KEY}` } });
    const body = (await res.body.json()) as { access_token: string };
    expect(res.statusCode).toBe(200);
    return { token: body.access_token, lines };
  } finally {
    await hub.close();
  }
}

describe('npm start with HUB_DATA_DIR', () => {
  it('a restart serves the token it has: WeChat is asked once across two runs', async () => {
    const first = await startReadStop({ HUB_DATA_DIR: dir });
    expect(first.lines).toContain(`DynamoDB (dynalite, on disk in ${join(dir, 'dynalite')}): ${/http:\S+/.exec(first.lines.find((l) => l.startsWith('DynamoDB'))!)![0]}`);
    const second = await startReadStop({ HUB_DATA_DIR: dir });
    expect(second.token).toBe(first.token);
    expect(sim.calls('wx_data_dir_01', 'token')).toBe(1);
  });

  it('without it, everything is in memory and each start fetches a new token', async () => {
    const first = await startReadStop({});
    expect(first.lines.find((l) => l.startsWith('DynamoDB'))).toMatch(/^DynamoDB \(dynalite, in memory\): /);
    const second = await startReadStop({});
    expect(second.token).not.toBe(first.token);
    expect(sim.calls('wx_data_dir_01', 'token')).toBe(2);
  });

  it('is refused, naming HUB_DATA_DIR, when empty or when a file is in the way', async () => {
    await expect(runLocal(env({ HUB_DATA_DIR: '' }), () => {})).rejects.toThrow(/^Invalid configuration: HUB_DATA_DIR: must be a directory path/);
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    await expect(runLocal(env({ HUB_DATA_DIR: file }), () => {})).rejects.toThrow(/^Invalid configuration: HUB_DATA_DIR: cannot keep the store in .*a-file \(a file is in the way\)$/);
  });
});

describe('npm start with a HUB_DATA_DIR another one has', () => {
  it('is refused at once, naming HUB_DATA_DIR and the directory; a pid file of a process that is gone is taken over', async () => {
    const lines: string[] = [];
    const hub = await runLocal(env({ HUB_DATA_DIR: dir }), (l) => lines.push(l));
    try {
      await expect(runLocal(env({ HUB_DATA_DIR: dir }), () => {})).rejects.toThrow(/^Invalid configuration: HUB_DATA_DIR: .*dynalite is in use by another npm start; stop it/);
    } finally {
      await hub.close();
    }
    // Killed without closing: its pid file stays, naming a process that no longer runs.
    const gone = spawnSync(process.execPath, ['-e', '']).pid!;
    await writeFile(join(dir, 'dynalite', 'npm-start.pid'), String(gone));
    const again = await startReadStop({ HUB_DATA_DIR: dir });
    expect(again.lines[0]).toMatch(/^wechat-token-hub is running at /);
    expect(sim.calls('wx_data_dir_01', 'token')).toBe(1); // and it still had the first run's token
  });
});

describe('npm start with real WeChat credentials', () => {
  const config = (extra: Record<string, string>) => loadConfig({ SHOP_SECRET: SECRET, HUB_APPS: APPS, HUB_API_KEYS: KEYS, ...extra });

  it('warns that each local fetch replaces the deployed hub\'s token, when HUB_APPS are fetched from WeChat itself', () => {
    const warning = realWeChatWarning(config({}), true, undefined);
    expect(warning).toMatch(/^WARNING: HUB_APPS are real apps, fetched from https:\/\/api\.weixin\.qq\.com, https:\/\/api2\.weixin\.qq\.com: /);
    expect(warning).toMatch(/WeChat stops accepting that one 5 minutes later\. Use a test account locally, and HUB_DATA_DIR/);
    expect(realWeChatWarning(config({ WECHAT_API_BASE: 'https://hk.api.weixin.qq.com' }), true, '/data')).toMatch(/fetched from https:\/\/hk\.api\.weixin\.qq\.com: .*Use a test account locally\.$/);
    const wecom = loadConfig({ CRM: 'x', HUB_APPS: JSON.stringify([{ name: 'crm', type: 'wecom', corpid: 'ww1', agentid: 1000002, secret: { env: 'CRM' } }]), HUB_API_KEYS: KEYS.replace('"shop"', '"crm"') });
    expect(realWeChatWarning(wecom, true, undefined)).toMatch(/fetched from https:\/\/qyapi\.weixin\.qq\.com:/);
  });

  it('does not warn for the demo apps or a simulator on this machine, and npm start prints none then', async () => {
    expect(realWeChatWarning(config({}), false, undefined)).toBeUndefined();
    for (const local of ['http://127.0.0.1:41235', 'http://localhost:8080', 'http://[::1]:9000']) {
      expect(realWeChatWarning(config({ WECHAT_API_BASE: local }), true, undefined)).toBeUndefined();
    }
    const { lines } = await startReadStop({});
    expect(lines.join('\n')).not.toMatch(/WARNING/);
    expect(lines[0]).toMatch(/^wechat-token-hub is running at /);
  });
});
