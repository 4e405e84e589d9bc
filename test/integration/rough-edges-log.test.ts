import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, describe, expect, it } from 'vitest';
import { captureOutput } from '../support/capture.js';
import { closeSharedDynalite, httpEvent, READ_KEY, startWorld } from '../support/world.js';

afterAll(closeSharedDynalite);

describe('refresh failure logging', () => {
  it('a refresh WeChat refuses logs an ERROR line with the errcode and a reason, and no reserved-key warning', async () => {
    // Powertools writes INFO and DEBUG to stdout, WARN and ERROR (its reserved-key warning too) to stderr: both are captured.
    const logger = new Logger({ serviceName: 'rough-edges', logLevel: 'INFO' });
    const world = await startWorld({ logger });
    let status: number | undefined;
    const { lines } = await captureOutput(async () => {
      try {
        world.sim.failNext({ kind: 'errcode', errcode: 40164 }, 1, 'wx_oa_0001');
        status = (await world.container().getToken(httpEvent({ key: READ_KEY }))).statusCode;
      } finally {
        await world.close();
      }
    });
    expect(status).toBe(502);
    const records = lines.join('').split('\n').filter((l) => l.trim().startsWith('{'));
    expect(records.length).toBeGreaterThan(0);
    for (const line of records) expect(line).not.toMatch(/reserved key/i);
    const errors = records.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.level === 'ERROR');
    // The refresh's own line (the request's 502 has a line of its own).
    const refresh = errors.filter((r) => /refresh failed/.test(String(r.message)));
    expect(refresh).toHaveLength(1);
    const [error] = refresh;
    expect(JSON.stringify(error)).toContain('40164');
    expect(error!.reason).toEqual(expect.any(String));
    expect(error!.reason).toContain('40164');
  });
});
