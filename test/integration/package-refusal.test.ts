import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * `sls package` (as `sls deploy` runs it) refuses a broken configuration with the field named,
 * before anything is bundled (deploy/check-config.cjs). Slow (a serverless start each), so two
 * cases, run at once. Each packages into a temporary folder: the refusal comes before packaging's
 * cleanup, so the project's own .serverless (which CI's `npx sls package` writes) is never touched.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SLS = join(ROOT, 'node_modules', '.bin', 'sls');
const out = mkdtempSync(join(tmpdir(), 'hub-package-refusal-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function slsPackage(apps: string, folder: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      SLS,
      ['package', '--stage', 'refusal', '--package', join(out, folder), `--param=apps=${apps}`],
      { cwd: ROOT, timeout: 90_000, env: { ...process.env, SHOP_SECRET: 'set-on-the-packaging-machine' } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}\n${stderr}` }),
    );
  });
}

describe('sls package with a broken apps param', () => {
  it('refuses invalid JSON and an {"env": …} secret, naming the field and the param', { timeout: 120_000 }, async () => {
    const serverlessDir = join(ROOT, '.serverless');
    const before = existsSync(serverlessDir) ? statSync(serverlessDir).mtimeMs : undefined;
    const [json, env] = await Promise.all([
      slsPackage('[{"name":"shop",}]', 'json'),
      slsPackage(JSON.stringify([{ name: 'shop', appid: 'wx_shop', type: 'official_account', secret: { env: 'SHOP_SECRET' } }]), 'env'),
    ]);
    expect(json.code).not.toBe(0);
    expect(json.output).toContain('Invalid configuration: HUB_APPS: is not valid JSON');
    expect(json.output).toContain('HUB_APPS is the stage param "apps"');
    expect(json.output).not.toContain('Service packaged');
    expect(env.code).not.toBe(0);
    expect(env.output).toContain('Invalid configuration: HUB_APPS[0].secret: {"env": "SHOP_SECRET"} cannot work in AWS');
    expect(env.output).toContain('{"ssm": "/wechat-token-hub/<stage>/shop"}');
    // Nothing was packaged, and the project's own package is as it was.
    expect(existsSync(join(out, 'json'))).toBe(false);
    expect(existsSync(join(out, 'env'))).toBe(false);
    expect(existsSync(serverlessDir) ? statSync(serverlessDir).mtimeMs : undefined).toBe(before);
  });
});
