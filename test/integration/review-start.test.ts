import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { runLocal } from '../../lib/local/run-local.js';

/**
 * Security review, finding i (npm start): with real apps (HUB_APPS) and no HUB_API_KEYS, npm start
 * minted an all-scope key for every app and printed it 7 times, once in a ?secret= URL.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REAL_APPS = JSON.stringify([{ name: 'shop', appid: 'wx_shop_01', type: 'official_account', tokenApi: 'classic', secret: { env: 'SHOP_SECRET' } }]);

/** runLocal's outcome: the error it refused with, or (closed again at once) the lines it printed. */
async function startOutcome(env: Record<string, string>): Promise<{ error?: Error; lines: string[] }> {
  const lines: string[] = [];
  try {
    const hub = await runLocal({ PORT: '0', LOG_LEVEL: 'SILENT', ...env }, (l) => lines.push(l));
    await hub.close();
    return { lines };
  } catch (error) {
    return { error: error as Error, lines };
  }
}

/** scripts/start.ts as `npm start` runs it, until it exits or says it is running (then it is stopped). */
async function npmStart(extra: Record<string, string>) {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', LOG_LEVEL: 'SILENT', ...extra };
  for (const k of ['HUB_API_KEYS', 'HUB_API_KEYS_SSM', 'HUB_APPS_SSM_PATH', 'HUB_AUTH', 'HUB_IAM_PRINCIPALS']) delete env[k];
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const running = new Promise<'running'>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (/wechat-token-hub is running at /.test(stdout)) resolve('running');
    });
  });
  const first = await Promise.race([exited, running]);
  if (first === 'running') {
    child.kill('SIGTERM');
    await exited;
    return { code: 'running' as const, stdout, stderr };
  }
  return { code: first, stdout, stderr };
}

describe('npm start hands out no key it was not asked for', () => {
  it('with HUB_APPS set and no HUB_API_KEYS, runLocal refuses to start and says how to make a key (npm run key)', async () => {
    const { error, lines } = await startOutcome({ HUB_APPS: REAL_APPS, SHOP_SECRET: 'not-used-0000', WECHAT_API_BASE: 'http://127.0.0.1:9' });
    expect(error?.message).toMatch(/HUB_API_KEYS/);
    expect(error?.message).toMatch(/npm run key/);
    expect(lines.join('\n')).not.toMatch(/hub_[A-Za-z0-9_-]{16,}/);
  });

  it('with HUB_APPS set and no HUB_API_KEYS, npm start exits non-zero with that message and prints no key', async () => {
    const { code, stdout, stderr } = await npmStart({ HUB_APPS: REAL_APPS, SHOP_SECRET: 'not-used-0000', WECHAT_API_BASE: 'http://127.0.0.1:9' });
    expect(code).not.toBe('running');
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/HUB_API_KEYS/);
    expect(stderr).toMatch(/npm run key/);
    expect(`${stdout}${stderr}`).not.toMatch(/hub_[A-Za-z0-9_-]{16,}/);
  }, 60_000);

  it('with the demo (no HUB_APPS) it prints the demo key exactly once, on its own labelled line, and the curl lines work with it', async () => {
    const lines: string[] = [];
    const hub = await runLocal({ PORT: '0', LOG_LEVEL: 'SILENT' }, (l) => lines.push(l));
    try {
      const text = lines.join('\n');
      const keys = text.match(/hub_[A-Za-z0-9_-]{16,}/g) ?? [];
      expect(keys).toHaveLength(1);
      const key = keys[0]!;
      expect(lines.filter((l) => l.includes(key))).toEqual([expect.stringMatching(/^Demo API key \(read, refresh, proxy, login, admin on every app; shown once\): hub_/)]);
      expect(text).not.toMatch(/secret=hub_/);
      expect(text).toContain('$HUB_KEY');
      // The key printed is the key that works.
      const res = await request(`${hub.url}/v1/apps/demo/access-token`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
    } finally {
      await hub.close();
    }
  });
});
