import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * scripts/start.ts (`npm start`) as a user runs it: Ctrl-C sends SIGINT to the whole foreground
 * process group. The script runs in one Node process with tsx's loader (`node --import tsx`), so
 * that its own exit status is what is seen. Through `npx tsx` it would not be: tsx's CLI relays the
 * signal to the script and, when the script's own report of the signal races its relay, exits 130
 * itself; and npm runs the command through `sh -c`, which (dash) dies of the SIGINT, npm re-raising it.
 */
async function startThenSignal(signals: NodeJS.Signals[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', LOG_LEVEL: 'SILENT' };
  for (const k of ['HUB_APPS', 'HUB_API_KEYS', 'HUB_API_KEYS_SSM', 'HUB_APPS_SSM_PATH', 'HUB_AUTH', 'HUB_IAM_PRINCIPALS', 'REFRESH_MARGIN', 'MIN_SERVE']) delete env[k];
  // Its own process group, which the signals are sent to, as a terminal's Ctrl-C is.
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (/wechat-token-hub is running at http:\/\/127\.0\.0\.1:\d+\n/.test(stdout)) resolve();
      });
      void exited.then(() => reject(new Error(`npm start ended before it was running:\n${stdout}\n${stderr}`)));
    });
    for (const s of signals) process.kill(-child.pid!, s);
    return { ...(await exited), stdout, stderr };
  } finally {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  }
}

describe('npm start stops cleanly', () => {
  it.each([
    ['SIGINT (Ctrl-C)', ['SIGINT']],
    ['SIGTERM', ['SIGTERM']],
    ['SIGINT twice at once (tsx relays the terminal\'s Ctrl-C again)', ['SIGINT', 'SIGINT']],
  ] as const)('on %s it closes, says "wechat-token-hub stopped" and exits 0', async (_label, signals) => {
    const { code, signal, stdout, stderr } = await startThenSignal([...signals]);
    expect(stdout).toMatch(/^wechat-token-hub is running at /);
    expect(stdout).toMatch(/\nwechat-token-hub stopped\n$/);
    expect({ code, signal }, stderr).toEqual({ code: 0, signal: null });
  }, 60_000);
});
