import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, describe, expect, it } from 'vitest';
import { captureOutput } from '../support/capture.js';
import { MINUTE } from '../support/manual-clock.js';
import { closeSharedDynalite, httpEvent, json, OTHER_APP_KEY, READ_KEY, REFRESH_KEY, startWorld } from '../support/world.js';

afterAll(closeSharedDynalite);

describe('redaction', () => {
  it('no log line of a whole flow holds a secret or a token WeChat issued', async () => {
    const logger = new Logger({ serviceName: 'redaction', logLevel: 'DEBUG' });
    const world = await startWorld({ logger });
    const { lines } = await captureOutput(async () => {
      try {
        const hub = world.container();
        const OA = 'wx_oa_0001';
        // fetch, read, tick
        const t1 = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token;
        await hub.getToken(httpEvent({ key: READ_KEY, app: 'mp' }));
        await hub.tick();
        // forced refresh of a valid token (probe), of a revoked one (fetch), of a rotated one
        await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, body: { stale_token: t1 } }));
        world.sim.revokeTokens(OA);
        await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, body: { stale_token: t1 } }));
        await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, body: { stale_token: t1 } }));
        // failures upstream
        world.clock.advance(101 * MINUTE);
        world.sim.failNext({ kind: 'errcode', errcode: -1 }, 2, OA);
        await hub.tick();
        world.clock.advance(101 * MINUTE);
        world.sim.failNext({ kind: 'errcode', errcode: 40164 }, 5);
        await hub.tick();
        world.sim.failNext({ kind: 'reset' }, 20);
        await hub.tick();
        world.sim.clearFaults();
        // a wrong secret: WeChat refuses and its answer is logged
        world.setSecret('SECRET_OA', 'wrong-secret-that-must-not-leak');
        world.clock.advance(MINUTE);
        await world.container().getToken(httpEvent({ key: READ_KEY }));
        world.setSecret('SECRET_OA', world.secrets.SECRET_OA!);
        // bad input, including a secret and a token sent where they do not belong
        await hub.getToken(httpEvent({ key: `${READ_KEY}x` }));
        await hub.getToken(httpEvent({ key: OTHER_APP_KEY }));
        await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, body: { stale_token: world.secrets.SECRET_OA, x: t1 } }));
        await hub.forceRefresh(httpEvent({ key: REFRESH_KEY, body: `{"stale_token": "${t1}` }));
        await hub.getToken(httpEvent({ key: READ_KEY, query: `secret=${world.secrets.SECRET_MP}` }));
      } finally {
        await world.close();
      }
    });
    const logged = lines.join('');
    expect(lines.length).toBeGreaterThan(10); // the flow did log
    expect(logged).toContain('token refreshed');
    expect(logged).toContain('token refresh failed');
    const forbidden = [...Object.values(world.secrets), 'wrong-secret-that-must-not-leak', ...world.sim.issuedTokens(), READ_KEY, REFRESH_KEY];
    expect(world.sim.issuedTokens().length).toBeGreaterThan(3);
    for (const f of forbidden) expect(logged).not.toContain(f);
  });
});
