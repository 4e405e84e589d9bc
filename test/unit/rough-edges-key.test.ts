import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hashApiKey } from '../../lib/http/auth.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** scripts/key.ts as `npm run key -- …` runs it. */
function key(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/key.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run key', () => {
  it.each(['--help', '-h'])('%s prints the usage, each scope and what it allows, and exits 0', (flag) => {
    const r = key(flag);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^usage: npm run key -- --apps <app,app\|\*> \[--scopes <scope,scope>\] \[--name <label>\]/);
    expect(r.stdout).toMatch(/--scopes <list> +optional, default read/);
    expect(r.stdout).toMatch(/--apps <list> +required/);
    expect(r.stdout).toMatch(/--name <label> +optional/);
    for (const scope of ['read', 'refresh', 'proxy', 'login', 'admin']) expect(r.stdout).toMatch(new RegExp(`^ +${scope} +\\S`, 'm'));
    expect(r.stdout).not.toMatch(/hub_/); // no key is made
  }, 30_000);

  it('bare, prints a one-line error and the usage, and exits 2', () => {
    const r = key();
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    const [first, ...rest] = r.stderr.split('\n');
    expect(first).toBe('npm run key: --apps is required ("*" for every app)');
    expect(rest.join('\n')).toMatch(/^usage: npm run key -- --apps/);
    expect(r.stderr.match(/npm run key: /g)).toHaveLength(1);
  }, 30_000);

  it('an unknown option is an error, with the usage', () => {
    const r = key('--apps', 'shop', '--scope', 'read');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^npm run key: Unknown option '--scope'/);
    expect(r.stderr).toMatch(/\nusage: /);
  }, 30_000);

  it('--scopes is optional: without it the key may read', () => {
    const r = key('--apps', 'shop', '--name', 'orders');
    expect(r.status).toBe(0);
    const made = /^ {2}(hub_\S+)$/m.exec(r.stdout)![1]!;
    const entry = JSON.parse(/^ {2}(\{.*\})$/m.exec(r.stdout)![1]!);
    expect(entry).toEqual({ name: 'orders', sha256: hashApiKey(made), apps: ['shop'], scopes: ['read'] });
  }, 30_000);

  it('every npm run key command in the README runs as written in a shell, its \'*\' quoted', () => {
    const readme = readFileSync(`${ROOT}README.md`, 'utf8');
    const commands = [...readme.matchAll(/npm run key -- (--apps [^`\n#]*?)\s*(?:`|#|\n)/g)].map((m) => m[1]!).filter((c) => !c.includes('<'));
    expect(commands.some((c) => c.includes("--apps '*'"))).toBe(true);
    for (const args of commands) {
      // In the repository's root, where an unquoted * would become README.md, package.json, …
      const r = spawnSync('sh', ['-c', `"${process.execPath}" --import tsx scripts/key.ts ${args}`], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
      expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 0, stderr: '' });
      const entry = JSON.parse(/^ +(\{.*\})$/m.exec(r.stdout)![1]!) as { apps: string[] };
      expect(entry.apps).toEqual(/--apps (\S+)/.exec(args)![1]!.replace(/['"]/g, '').split(','));
    }
  }, 60_000);

  it('an unquoted * that the shell expanded is refused with the hint to quote it', () => {
    const r = spawnSync('sh', ['-c', `"${process.execPath}" --import tsx scripts/key.ts --apps * --scopes admin`], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(/^npm run key: Unexpected argument .* \(for every app, quote the '\*': --apps '\*'\)$/);
  }, 30_000);
});
