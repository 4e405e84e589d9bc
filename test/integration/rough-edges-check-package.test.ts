import { readFile } from 'node:fs/promises';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { httpEvent, json, READ_KEY } from '../support/world.js';
import { useWorld } from '../support/use-world.js';

/**
 * `npm run check-package` runs every bundled handler in its own process; their metrics (EMF JSON
 * lines on stdout) are not its report. It sets POWERTOOLS_METRICS_DISABLED, which the installed
 * Powertools Metrics honours: the hub's metrics then write nothing, while they do without it.
 */
const world = useWorld();
afterEach(() => void vi.unstubAllEnvs());

async function stdoutOfATick(): Promise<string> {
  const lines: string[] = [];
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => (lines.push(String(chunk)), true));
  try {
    const hub = world.container({}, { metrics: new Metrics({ namespace: 'WechatTokenHubTest', serviceName: 'hub' }) });
    await hub.tick();
    expect(json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token).toBe(world.sim.currentToken('wx_oa_0001'));
  } finally {
    out.mockRestore();
  }
  return lines.join('');
}

describe('npm run check-package output', () => {
  it('has no raw metric JSON: the bundles run with POWERTOOLS_METRICS_DISABLED, which silences the hub\'s EMF lines', async () => {
    const script = await readFile(new URL('../../scripts/check-package.ts', import.meta.url), 'utf8');
    expect(script).toMatch(/POWERTOOLS_METRICS_DISABLED: 'true'/);
    expect(await stdoutOfATick()).toContain('"_aws"'); // the gauges and counts, as in Lambda
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    expect(await stdoutOfATick()).toBe('');
  });
});
