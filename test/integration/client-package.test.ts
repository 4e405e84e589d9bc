import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalServer } from '../../lib/http/local-server.js';
import { listen, type Listening } from '../support/listen.js';
import { closeSharedDynalite, READ_KEY, startWorld, type World } from '../support/world.js';

/**
 * What a service gets from `npm run pack:client`: the tarball installed into an empty project with
 * npm (offline: a local tarball with no dependencies needs no registry) and imported exactly as the
 * README says, from plain node and from TypeScript, against the real handlers.
 */
const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
const clientSection = readme.slice(readme.indexOf('### The client library'), readme.indexOf('## Running it without watching it'));

let dir: string;
let tarball: string;
let packed: { filename: string; files: { path: string }[] };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hub-client-package-'));
  // `npm run pack:client` is the build (done by the test run's global setup) and then this.
  const { stdout } = await run('npm', ['pack', './client', '--json', '--pack-destination', dir], { cwd: ROOT });
  [packed] = JSON.parse(stdout) as [typeof packed];
  tarball = join(dir, packed.filename);
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'orders-service', private: true, type: 'module' }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: dir });
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await closeSharedDynalite();
});

describe('the packed client library', () => {
  it('is the tarball the README names, built by npm run pack:client', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['pack:client']).toBe('npm run build:client && npm pack ./client');
    expect(clientSection).toContain(`writes ${packed.filename}`);
    expect(clientSection).toContain(`npm install ../wechat-token-hub/${packed.filename}`);
  });

  it('carries its README and the MIT license beside the code and its declarations', async () => {
    expect(packed.files.map((f) => f.path).sort()).toEqual(['LICENSE', 'README.md', 'dist/index.d.ts', 'dist/index.js', 'package.json']);
    const installed = join(dir, 'node_modules/wechat-token-hub');
    expect(await readFile(join(installed, 'LICENSE'), 'utf8')).toBe(await readFile(join(ROOT, 'LICENSE'), 'utf8'));
    expect(JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')).license).toBe('MIT');
    expect(await readFile(join(installed, 'README.md'), 'utf8')).toContain("from 'wechat-token-hub/client'");
    // The declarations name the package as it is imported.
    const dts = await readFile(join(installed, 'dist/index.d.ts'), 'utf8');
    expect(dts).toContain("from 'wechat-token-hub/client'");
    expect(dts).not.toContain('wechat-token-hub-client');
  });

  it('imports as the README says, from plain node, and reads a token from the hub', async () => {
    const imports = [...clientSection.matchAll(/^import \{ (.+) \} from '([^']+)';$/gm)];
    expect(imports.map((m) => m[2])).toEqual(['wechat-token-hub/client']);
    const world: World = await startWorld();
    const hub = world.container();
    const server: Listening = await listen(createLocalServer({
      getToken: (e) => hub.getToken(e), forceRefresh: (e) => hub.forceRefresh(e), tickets: (e) => hub.tickets(e),
      compat: (e) => hub.compat(e), proxy: (e) => hub.proxy(e), status: (e) => hub.status(e),
    }));
    try {
      // The README's first two lines as written, then one read.
      await writeFile(join(dir, 'service.js'), `${imports[0]![0]}
const hub = createTokenHubClient({ baseUrl: process.env.HUB_URL, apiKey: process.env.HUB_KEY });
console.log(await hub.getAccessToken('oa'));
`);
      const { stdout } = await run(process.execPath, ['service.js'], { cwd: dir, env: { ...process.env, HUB_URL: server.url, HUB_KEY: READ_KEY } });
      expect(stdout.trim()).toBe(world.sim.currentToken('wx_oa_0001'));
    } finally {
      await server.close();
      await world.close();
    }
  });

  it('type-checks from TypeScript with node16 module resolution, by its declarations', async () => {
    await writeFile(join(dir, 'service.ts'), `import { createTokenHubClient, TokenHubError, type TokenHubClient } from 'wechat-token-hub/client';
const hub: TokenHubClient = createTokenHubClient({ baseUrl: 'https://hub.example.com', apiKey: 'k' });
const token: Promise<string> = hub.getAccessToken('shop');
export const failed = (e: unknown): number | undefined => (e instanceof TokenHubError ? e.errcode : undefined);
export { token };
`);
    const tsc = join(ROOT, 'node_modules/.bin/tsc');
    const result = await run(tsc, ['--noEmit', '--strict', '--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2022', '--lib', 'es2022,dom', '--types', '', 'service.ts'], { cwd: dir })
      .then(() => 'ok', (e: { stdout?: string }) => e.stdout ?? String(e));
    expect(result).toBe('ok');
    // A name the package does not have is an error, so the check above proves something.
    await writeFile(join(dir, 'wrong.ts'), `import { createTokenHubClient } from 'wechat-token-hub-client';\nexport const c = createTokenHubClient;\n`);
    const wrong = await run(tsc, ['--noEmit', '--module', 'node16', '--moduleResolution', 'node16', '--types', '', 'wrong.ts'], { cwd: dir }).then(() => 'ok', (e: { stdout?: string }) => e.stdout ?? '');
    expect(wrong).toContain('wechat-token-hub-client');
  });
});
