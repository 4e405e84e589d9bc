import { execFileSync, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * scripts/start.ts (`npm start`) as a user runs it: Ctrl-C sends SIGINT to the whole foreground
 * process group. The script runs in one Node process with tsx's loader (`node --import tsx`), so
 * that its own exit status is what is seen. Through `npx tsx` it would not be: tsx's CLI relays the
 * signal to the script and, when the script's own report of the signal races its relay, exits 130
 * itself; and npm runs the command through `sh -c`, which (dash) dies of the SIGINT, npm re-raising it,
 * and dies of npm's SIGTERM without passing it on, leaving node running. So the script is
 * `exec node …`: the shell becomes node, and npm's signals and exit status are node's.
 */
async function startThenSignal(signals: NodeJS.Signals[], how: { npm?: boolean; to?: 'group' | 'leader' } = {}) {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', LOG_LEVEL: 'SILENT' };
  for (const k of ['HUB_APPS', 'HUB_API_KEYS', 'HUB_API_KEYS_SSM', 'HUB_APPS_SSM_PATH', 'HUB_AUTH', 'HUB_IAM_PRINCIPALS', 'REFRESH_MARGIN', 'MIN_SERVE']) delete env[k];
  // Its own process group, which the signals are sent to, as a terminal's Ctrl-C is.
  const [command, args] = how.npm ? ['npm', ['start']] : [process.execPath, ['--import', 'tsx', 'scripts/start.ts']];
  const child = spawn(command, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (/wechat-token-hub is running at http:\/\/127\.0\.0\.1:\d+\n/.test(stdout)) resolve();
      });
      void exited.then(() => reject(new Error(`npm start ended before it was running:\n${stdout}\n${stderr}`)));
    });
    const url = /running at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)![1]!;
    const tree = descendantsOf(child.pid!);
    const children = tree.filter((p) => p.ppid === child.pid).map((p) => p.command);
    const nodes = tree.filter((p) => /(^|\/)node$/.test(p.command)).map((p) => p.pid);
    for (const s of signals) process.kill(how.to === 'leader' ? child.pid! : -child.pid!, s);
    const status = await exited;
    const left = nodes.filter(alive);
    if (left.length === 0) await closed; // all its output read (a process left behind would hold the pipes open)
    return { ...status, stdout, stderr, url, children, left };
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL'); // the process group: whatever is left of it
    } catch {
      // nothing is
    }
  }
}

/** The processes below `pid` (children, theirs, …), with their command names (ps -A works on Linux and macOS alike). */
function descendantsOf(pid: number): { pid: number; ppid: number; command: string }[] {
  const table = execFileSync('ps', ['-A', '-o', 'pid=,ppid=,comm='], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), command: m[3]!.trim() }));
  const below = (p: number): typeof table => table.filter((r) => r.ppid === p).flatMap((r) => [r, ...below(r.pid)]);
  return below(pid);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Whether something still accepts connections at the URL's port. */
const listening = (url: string) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

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

  it.each([
    ['SIGTERM sent to npm itself', ['SIGTERM'], 'leader'],
    ['Ctrl-C (SIGINT to the terminal\'s process group: npm and node)', ['SIGINT'], 'group'],
  ] as const)('through npm, on %s, node closes, no process is left listening, and npm exits 0', async (_label, signals, to) => {
    const { code, signal, stdout, stderr, url, children, left } = await startThenSignal([...signals], { npm: true, to });
    expect(left).toEqual([]);
    expect(await listening(url)).toBe(false);
    expect(children).toEqual(['node']); // node itself, not a shell in between
    expect(stdout).toMatch(/\nwechat-token-hub stopped\n$/);
    expect({ code, signal }, stderr).toEqual({ code: 0, signal: null });
  }, 60_000);
});
