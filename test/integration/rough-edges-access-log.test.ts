import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../lib/clock.js';
import { captureOutput } from '../support/capture.js';
import { closeSharedDynalite, COMPAT_APPS, httpEvent, json, READ_KEY, startWorld, ticketEvent, type World } from '../support/world.js';

let world: World;
beforeAll(async () => {
  world = await startWorld({ env: { HUB_APPS: JSON.stringify(COMPAT_APPS) } });
});
afterAll(async () => {
  await world.close();
  await closeSharedDynalite();
});

/** Every log line written while `run` runs, parsed (Powertools: DEBUG and INFO to stdout, WARN and ERROR to stderr). */
async function logged(run: () => Promise<unknown>): Promise<{ records: Record<string, any>[]; text: string }> {
  const { text } = await captureOutput(run);
  return { text, records: text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, any>) };
}

/** The world's clock, one millisecond later at each reading: a request then takes some time. */
function ticking(): Clock {
  let extra = 0;
  return { now: () => world.clock.now() + ++extra, sleep: (ms) => world.clock.sleep(ms) };
}

describe('the access line', () => {
  it('at DEBUG, a read logs route, app, caller, status and latency, and no token, key or query', async () => {
    const hub = world.container({}, { logger: new Logger({ serviceName: 'access', logLevel: 'DEBUG' }), clock: ticking() });
    let token = '';
    let ticket = '';
    const { records, text } = await logged(async () => {
      token = json(await hub.getToken(httpEvent({ key: READ_KEY }))).access_token;
      ticket = json(await hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY }))).ticket;
    });
    expect(token).toMatch(/\S{16,}/);
    expect(ticket).toMatch(/\S{16,}/);
    const served = records.filter((r) => r.message === 'request served');
    expect(served).toHaveLength(2);
    expect(served[0]).toMatchObject({ level: 'DEBUG', route: 'GET /v1/apps/{app}/access-token', app: 'oa', caller: 'reader', status: 200 });
    expect(served[1]).toMatchObject({ level: 'DEBUG', route: 'GET /v1/apps/{app}/tickets/{type}', app: 'oa', caller: 'reader', status: 200 });
    for (const s of served) {
      expect(s.ms).toEqual(expect.any(Number));
      expect(s.ms).toBeGreaterThan(0);
    }
    for (const secret of [token, ticket, READ_KEY, ...world.sim.issuedTokens()]) expect(text).not.toContain(secret);
  });

  it('at INFO, a successful read logs nothing; a refusal logs its INFO line with route and latency, no query', async () => {
    const hub = world.container({}, { logger: new Logger({ serviceName: 'access', logLevel: 'INFO' }), clock: ticking() });
    await hub.getToken(httpEvent({ key: READ_KEY })); // a token in the store: the read below fetches nothing
    const quiet = await logged(async () => {
      expect((await hub.getToken(httpEvent({ key: READ_KEY }))).statusCode).toBe(200);
    });
    expect(quiet.records).toEqual([]);

    const refused = await logged(async () => {
      expect((await hub.getToken(httpEvent({ key: READ_KEY, query: 'secret=QUERY_VALUE_NOT_TO_LOG' }))).statusCode).toBe(400);
      expect((await hub.getToken(httpEvent({ key: `${READ_KEY}_wrong` }))).statusCode).toBe(401);
    });
    expect(refused.records).toHaveLength(2);
    expect(refused.records[0]).toMatchObject({ level: 'INFO', message: 'request refused', route: 'GET /v1/apps/{app}/access-token', app: 'oa', caller: 'reader', status: 400, code: 'unexpected_query' });
    expect(refused.records[1]).toMatchObject({ level: 'INFO', message: 'request refused', route: 'GET /v1/apps/{app}/access-token', status: 401 });
    expect(refused.records[1]).not.toHaveProperty('caller');
    for (const r of refused.records) expect(r.ms).toBeGreaterThan(0);
    expect(refused.text).not.toContain('QUERY_VALUE_NOT_TO_LOG');
    expect(refused.text).not.toContain(READ_KEY);
  });
});
