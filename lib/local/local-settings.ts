import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { ConfigurationInvalidError, type HubConfig } from '../config.js';

/**
 * What only `npm start` reads: where it keeps its DynamoDB (HUB_DATA_DIR), and whether its apps are
 * real WeChat apps (a warning, not a refusal).
 */

/**
 * HUB_DATA_DIR: the directory `npm start` keeps its DynamoDB in (dynalite on disk, under
 * `<dir>/dynalite`), so that a restart serves the tokens and tickets it has instead of fetching new
 * ones. Unset: everything in memory. Created if missing; refused, naming the variable, when empty,
 * not a directory, or not writable.
 */
export async function dataDirOf(env: Record<string, string | undefined>): Promise<string | undefined> {
  const value = env.HUB_DATA_DIR;
  if (value === undefined) return undefined;
  if (value.trim() === '') throw invalid('must be a directory path (it is set but empty; unset it to keep everything in memory)');
  const dir = join(resolve(value), 'dynalite');
  try {
    await mkdir(dir, { recursive: true });
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw invalid(`cannot keep the store in ${value} (${code === 'EEXIST' || code === 'ENOTDIR' ? 'a file is in the way' : code === 'EACCES' ? 'not writable' : code ?? 'not a directory'})`);
  }
  return dir;
}

/** Data directories this process has open (a second claim from the same process is refused too). */
const claimed = new Set<string>();

/**
 * Claim the data directory for this process: LevelDB opens a directory once, and a second
 * `npm start` on it would wait forever on the store, so it is refused at once instead, naming the
 * process that has it. A pid file left by a process that no longer runs (killed) is taken over.
 * Resolves to the release.
 */
export async function claimDataDir(dir: string): Promise<() => Promise<void>> {
  const file = join(dir, 'npm-start.pid');
  const holder = Number(await readFile(file, 'utf8').catch(() => ''));
  const running = Number.isInteger(holder) && holder > 0 && holder !== process.pid && isRunning(holder);
  if (claimed.has(dir) || running) {
    throw invalid(`${dir} is in use by another npm start${running ? ` (process ${holder})` : ''}; stop it, or give this one another directory`);
  }
  claimed.add(dir);
  await writeFile(file, String(process.pid));
  return async () => {
    claimed.delete(dir);
    await rm(file, { force: true });
  };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const invalid = (why: string) => new ConfigurationInvalidError(`Invalid configuration: HUB_DATA_DIR: ${why}`);

/** localhost, 127.0.0.0/8, ::1: a simulator or a stand-in on this machine, not WeChat. */
function isLoopback(base: string): boolean {
  const host = new URL(base).hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host.startsWith('::ffff:127.');
}

/**
 * A warning when `npm start` runs your own apps against WeChat itself (an API base that is not on
 * this machine): every token it fetches replaces the one the deployed hub serves, which WeChat stops
 * accepting 5 minutes later. Undefined for the demo apps and for bases on loopback (simulators).
 */
export function realWeChatWarning(config: HubConfig, ownApps: boolean, dataDir: string | undefined): string | undefined {
  if (!ownApps) return undefined;
  const platforms = new Set(config.appsSsmPath ? ['wechat', 'wecom'] : config.apps.map((a) => (a.type === 'wecom' ? 'wecom' : 'wechat')));
  const bases = [...platforms].flatMap((p) => (p === 'wecom' ? config.wecomApiBases : config.wechatApiBases));
  const remote = bases.filter((b) => !isLoopback(b));
  if (remote.length === 0) return undefined;
  return (
    `WARNING: HUB_APPS are real apps, fetched from ${remote.join(', ')}: each token this local hub fetches replaces ` +
    'the one your deployed hub (or any other service) serves, and WeChat stops accepting that one 5 minutes later. ' +
    `Use a test account locally${dataDir ? '.' : ', and HUB_DATA_DIR so that a restart fetches no new tokens.'}`
  );
}
