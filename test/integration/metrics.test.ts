import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { closeSharedDynalite, httpEvent, json, READ_KEY, REFRESH_KEY, startWorld } from '../support/world.js';

afterAll(closeSharedDynalite);

describe('metrics', () => {
  it('counts refreshes, failures and refused rotations per app, in EMF, with nothing secret', async () => {
    const lines: string[] = [];
    const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
      lines.push(String(chunk));
      return true;
    });
    const world = await startWorld();
    try {
      const hub = world.container({}, { metrics: new Metrics({ namespace: 'WechatTokenHubTest', serviceName: 'hub' }) });
      const t = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token;
      await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, body: { stale_token: t } })); // still valid: not rotated
      world.sim.revokeTokens('wx_oa_0001');
      world.clock.advance(11_000);
      world.sim.failNext({ kind: 'errcode', errcode: 40164 });
      await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, body: { stale_token: t } }));
    } finally {
      out.mockRestore();
      await world.close();
    }
    const emf = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((m) => '_aws' in m);
    const count = (name: string) => emf.filter((m) => m[name] === 1 && m.app === 'oa').length;
    expect(count('TokenRefreshed')).toBe(1);
    expect(count('ForcedRefreshNotRotated')).toBe(1);
    expect(count('TokenRefreshFailed')).toBe(1);
    const text = lines.join('');
    for (const v of [...Object.values(world.secrets), ...world.sim.issuedTokens()]) expect(text).not.toContain(v);
  });
});
