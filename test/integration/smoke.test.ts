import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../lib/http/auth.js';
import { runLocal, type LocalHub } from '../../lib/local/run-local.js';
import { WeChatSimulator } from '../../lib/simulator/wechat-simulator.js';
import { closedPort } from '../support/listen.js';

/**
 * `npm run smoke` against `npm start`'s local server (the same handlers as the Lambda functions),
 * with the simulator standing in for WeChat: every route answers as documented, no WeChat call is
 * made, and what WeChat said when the tick could not refresh an app is named.
 */
const run = promisify(execFile);
const ADMIN = 'smoke_admin_key_0123456789';
const EVERYTHING = 'smoke_all_scopes_key_0123456789';

async function smoke(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'scripts/smoke.ts', ...args], { timeout: 60_000 });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

async function startHub(sim: WeChatSimulator, base: string, apps: object[], env: Record<string, string>): Promise<LocalHub> {
  return runLocal(
    {
      PORT: '0',
      WECHAT_API_BASE: base,
      WECOM_API_BASE: base,
      HUB_APPS: JSON.stringify(apps),
      HUB_API_KEYS: JSON.stringify([
        { name: 'ops', sha256: hashApiKey(ADMIN), apps: ['*'], scopes: ['admin'] },
        { name: 'all', sha256: hashApiKey(EVERYTHING), apps: ['*'], scopes: ['read', 'refresh', 'proxy', 'admin'] },
      ]),
      LOG_LEVEL: 'SILENT',
      ...env,
    },
    () => {},
  );
}

describe('npm run smoke against npm start', () => {
  const sim = new WeChatSimulator({
    apps: [{ appid: 'wx_smoke_shop', secret: 'shop-secret-000' }],
    wecomApps: [{ corpid: 'ww_smoke_corp', agentid: 1000002, secret: 'crm-secret-000' }],
  });
  let hub: LocalHub;
  let wechatCalls = 0;
  beforeAll(async () => {
    const base = await sim.listen();
    hub = await startHub(
      sim,
      base,
      [
        { name: 'shop', appid: 'wx_smoke_shop', type: 'official_account', secret: { env: 'SHOP_SECRET' }, compat: true },
        { name: 'crm', type: 'wecom', corpid: 'ww_smoke_corp', agentid: 1000002, secret: { env: 'CRM_SECRET' }, compat: true },
      ],
      { SHOP_SECRET: 'shop-secret-000', CRM_SECRET: 'crm-secret-000' },
    );
    // Counted from here: the start's own tick has fetched the tokens.
    sim.onRequest(() => {
      wechatCalls++;
    });
  });
  afterAll(async () => {
    await hub?.close();
    await sim.close();
  });

  it.each([
    ['an admin key', ADMIN, '403 forbidden'],
    ['a key with every scope', EVERYTHING, '400 unexpected_query'],
  ])('passes every check with %s, and the hub calls WeChat not once', async (_what, key, tokenRoute) => {
    const { code, out } = await smoke('--url', hub.url, '--key', key);
    expect(out).toMatch(/^smoke test: 21 passed, 0 failed, 1 skipped$/m);
    expect(code).toBe(0);
    for (const line of [
      'ok   GET /v1/health: 200 {"status":"ok"} without a key',
      'ok   GET /v1/status: 401 unauthorized',
      'ok   GET /v1/status: 200 with the apps the key may see (2)',
      `ok   GET /v1/apps/shop/access-token: ${tokenRoute}`,
      'ok   GET /v1/apps/shop/wechat/cgi-bin/token: 403 ',
      'ok   GET /cgi-bin/token: errcode 40013, WeChat\'s way',
      'ok   GET /cgi-bin/gettoken: errcode 40013, WeChat\'s way',
      'ok   GET /smoke-no-such-route: 404 route_not_found',
      'ok   app shop: access_token ok, refreshed at ',
      'ok   app crm: access_token ok, refreshed at ',
      'skip the alarms and the tick (CloudWatch)\n       a local server (npm start) has no stack',
    ]) {
      expect(out).toContain(line);
    }
    expect(wechatCalls).toBe(0);
  });

  it('fails, naming each route and what it answered, with a key the hub does not know', async () => {
    const { code, out } = await smoke('--url', hub.url, '--key', 'not_a_key_of_this_hub_000000');
    expect(code).toBe(1);
    expect(out).toContain('FAIL GET /v1/status: 200 with the apps the key may see (0)\n       answered 401 {"error":{"code":"unauthorized"');
    expect(out).toContain('FAIL GET /v1/apps/smoke-no-such-app/access-token: one of 403 forbidden, 400 unexpected_query, 404 unknown_app\n       answered 401');
    expect(out).toContain('skip the tick refreshed every app\'s access_token\n       needs the status view (an admin key)');
  });

  it('fails when nothing answers at the URL, and prints its usage without --url and --key', async () => {
    const nothing = await smoke('--url', await closedPort(), '--key', ADMIN);
    expect(nothing.code).toBe(1);
    expect(nothing.out).toMatch(/FAIL GET \/v1\/health: 200 \{"status":"ok"\} without a key\n {7}no answer: TypeError: fetch failed \(ECONNREFUSED\)/);
    const usage = await smoke('--url', hub.url);
    expect(usage.code).toBe(2);
    expect(usage.out).toContain('usage: npm run smoke -- --url <hub URL> --key <API key with the admin scope>');
  });
});

describe('npm run smoke when the tick could not refresh an app', () => {
  const sim = new WeChatSimulator({ apps: [{ appid: 'wx_smoke_oa', secret: 'oa-secret-000' }] });
  let hub: LocalHub;
  beforeAll(async () => {
    const base = await sim.listen();
    // An Official Account whose IP whitelist does not hold the hub's address (egress=none).
    sim.failNext({ kind: 'errcode', errcode: 40164 }, 5, 'wx_smoke_oa');
    hub = await startHub(sim, base, [{ name: 'oa', appid: 'wx_smoke_oa', type: 'official_account', secret: { env: 'OA_SECRET' } }], { OA_SECRET: 'oa-secret-000' });
  });
  afterAll(async () => {
    await hub?.close();
    await sim.close();
  });

  it('names WeChat\'s errcode and the way out (a fixed egress IP on the whitelist)', async () => {
    const { code, out } = await smoke('--url', hub.url, '--key', ADMIN);
    expect(code).toBe(1);
    expect(out).toMatch(/FAIL app oa: access_token refreshed\n {7}\w+: configuration:40164 .*deploy with --param=egress=create and whitelist output EgressIp/);
    expect(out).toMatch(/^smoke test: 19 passed, 1 failed, 1 skipped$/m);
  });
});
