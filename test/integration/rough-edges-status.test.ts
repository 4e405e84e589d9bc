import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it, vi } from 'vitest';
import { createLocalServer } from '../../lib/http/local-server.js';
import { listen } from '../support/listen.js';
import { ADMIN_KEY, httpEvent, json, REFRESH_KEY } from '../support/world.js';
import { useWorld } from '../support/use-world.js';

const MP = 'wx_mp_0002'; // a stable_token app
const world = useWorld();

const statusEvent = () => httpEvent({ method: 'GET', key: ADMIN_KEY, path: '/v1/status', routeKey: 'GET /v1/status' });

describe('the status view and npm run status', () => {
  it('a stable_token app\'s forced refreshes are shown against WeChat\'s 20 a day, in /v1/status, npm run status and QuotaUsedPercent', async () => {
    const lines: string[] = [];
    const hub = world.container({}, { metrics: new Metrics({ namespace: 'WechatTokenHubTest', serviceName: 'hub' }) });
    const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => (lines.push(String(chunk)), true));
    try {
      const stale = json(await hub.getToken(httpEvent({ app: 'mp', key: REFRESH_KEY }))).access_token;
      world.sim.revokeTokens(MP);
      world.clock.advance(11_000);
      const forced = json(await hub.forceRefresh(httpEvent({ app: 'mp', key: REFRESH_KEY, body: { stale_token: stale } })));
      expect(forced).toMatchObject({ refreshed: true, changed: true });
      await hub.tick();
    } finally {
      out.mockRestore();
    }
    const mp = json(await hub.status(statusEvent())).apps.find((a: { app: string }) => a.app === 'mp');
    expect(mp.quota).toEqual([
      { scope: 'mp', api: 'stable_token', period: 'day', used: 1, forced: 0, limit: 500_000, percent: 0 },
      { scope: 'mp', api: 'stable_token_force', period: 'day', used: 1, forced: 1, limit: 20, percent: 5 },
    ]);
    // The tick's gauge carries it, so the quota alarm sees the forced refreshes too.
    const emf = lines.flatMap((l) => l.split('\n')).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(emf).toContainEqual(expect.objectContaining({ app: 'mp', api: 'stable_token_force', QuotaUsedPercent: 5 }));
    // An app of the classic token API has no such row.
    const oa = json(await hub.status(statusEvent())).apps.find((a: { app: string }) => a.app === 'oa');
    expect(oa.quota.map((q: { api: string }) => q.api)).toEqual(['token', 'ticket_jsapi', 'ticket_wx_card']);

    const server = await listen(createLocalServer(hub));
    try {
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/status.ts', '--url', server.url, '--key', ADMIN_KEY], { env: { ...process.env, NO_COLOR: '1' } });
      expect(stdout.split('\n').find((l) => /^\s+mp\s+stable_token_force\s+today\s+1\s+1\s+20\s+5%$/.test(l))).toBeDefined();
    } finally {
      await server.close();
    }
  });

  it('npm run status | head: a reader that leaves early ends it quietly, exit 0, no EPIPE stack trace', async () => {
    const hub = world.container();
    await hub.tick();
    const server = await listen(createLocalServer(hub));
    try {
      for (const extra of [[], ['--json']]) {
        const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/status.ts', '--url', server.url, '--key', ADMIN_KEY, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
        child.stdout.destroy(); // the reader is gone before the first line: every write meets EPIPE
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
        expect({ extra, code, stderr }).toEqual({ extra, code: 0, stderr: '' });
      }
    } finally {
      await server.close();
    }
  });
});
