import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createLocalServer } from '../../lib/http/local-server.js';
import { listen } from '../support/listen.js';
import { MINUTE } from '../support/manual-clock.js';
import { ADMIN_KEY, httpEvent, json, PROXY_KEY, READ_KEY, REFRESH_KEY, ticketEvent } from '../support/world.js';
import { useWorld } from '../support/use-world.js';

const OA = 'wx_oa_0001';
const world = useWorld();

const statusEvent = (path: string, key?: string, app?: string) =>
  httpEvent({ method: 'GET', key, path, routeKey: `GET ${app ? '/v1/status/{app}/quota' : path}`, pathParameters: app ? { app } : {} });

describe('the status view', () => {
  it('lists every app and credential with its state, failures and blocks, and the ledger; never a value', async () => {
    const hub = world.container();
    await hub.tick();
    await hub.tickets(ticketEvent({ app: 'oa', type: 'jsapi', key: READ_KEY }));
    world.clock.advance(101 * MINUTE);
    world.sim.failNext({ kind: 'errcode', errcode: 40164 }, 1, OA);
    world.sim.failNext({ kind: 'errcode', errcode: 45009 }, 1, 'wx_other_03');
    await hub.tick();

    const res = await hub.status(statusEvent('/v1/status', ADMIN_KEY));
    expect(res.statusCode).toBe(200);
    const body = json(res);
    const apps = Object.fromEntries(body.apps.map((a: any) => [a.app, a]));
    expect(Object.keys(apps).sort()).toEqual(['crm', 'mp', 'oa', 'other']);
    const kinds = (app: string) => Object.fromEntries(apps[app].credentials.map((c: any) => [c.kind, c]));
    expect(kinds('oa').access_token).toMatchObject({ state: 'backoff', failures: 1, refreshedBy: 'tick', version: 1, lastError: { code: 'configuration:40164' } });
    expect(kinds('oa').access_token.secondsLeft).toBe(19 * 60);
    expect(kinds('oa').access_token.ageSeconds).toBe(101 * 60);
    expect(kinds('oa').access_token.backoffUntil).toBeDefined();
    expect(kinds('oa').jsapi_ticket).toMatchObject({ state: 'ok', refreshedBy: 'tick' });
    expect(kinds('oa').wx_card_ticket).toMatchObject({ state: 'unused' });
    expect(kinds('other').access_token).toMatchObject({ state: 'blocked', lastError: { code: 'quota:45009' } });
    expect(kinds('other').access_token.blockedUntil).toBe('2026-11-23T16:00:00.000Z');
    expect(kinds('mp').access_token).toMatchObject({ state: 'ok', refreshedBy: 'tick' });
    expect(apps.oa.quota).toContainEqual({ scope: 'oa', api: 'token', period: 'day', used: 2, forced: 0, limit: 2000, percent: 0.1 });
    expect(apps.crm.quota).toContainEqual(expect.objectContaining({ scope: 'corp:ww_corp_0001', api: 'wecom_ticket', period: 'hour', limit: 400 }));
    for (const v of [...world.sim.issuedTokens(), ...world.sim.issuedTickets(), ...Object.values(world.secrets), ADMIN_KEY]) expect(res.body).not.toContain(v);
  });

  it('needs the admin scope; a key sees only its apps; health needs nothing and says nothing', async () => {
    const hub = world.container();
    expect((await hub.status(statusEvent('/v1/status', REFRESH_KEY))).statusCode).toBe(403);
    expect((await hub.status(statusEvent('/v1/status', PROXY_KEY))).statusCode).toBe(403);
    expect((await hub.status(statusEvent('/v1/status'))).statusCode).toBe(401);
    const health = await hub.status(statusEvent('/v1/health'));
    expect(health.statusCode).toBe(200);
    expect(json(health)).toEqual({ status: 'ok' });
    const scoped = world.container({
      HUB_API_KEYS: JSON.stringify([{ name: 'oa-ops', sha256: (await import('../../lib/http/auth.js')).hashApiKey(ADMIN_KEY), apps: ['oa'], scopes: ['admin'] }]),
    });
    const only = json(await scoped.status(statusEvent('/v1/status', ADMIN_KEY)));
    expect(only.apps.map((a: any) => a.app)).toEqual(['oa']);
    expect((await scoped.status(statusEvent('/v1/status/mp/quota', ADMIN_KEY, 'mp'))).statusCode).toBe(403);
  });

  it('shows WeChat\'s own count (openapi/quota/get) beside the ledger', async () => {
    const hub = world.container();
    await hub.tick();
    const body = json(await hub.status(statusEvent('/v1/status/oa/quota', ADMIN_KEY, 'oa')));
    expect(body.ledger).toContainEqual(expect.objectContaining({ api: 'token', used: 1 }));
    expect(body.wechat).toEqual({ cgi_path: '/cgi-bin/token', daily_limit: 2000, used: world.sim.calls(OA), remain: 2000 - world.sim.calls(OA) });
    const wecom = json(await hub.status(statusEvent('/v1/status/crm/quota', ADMIN_KEY, 'crm')));
    expect(wecom.wechat.note).toContain('WeCom');
  });

  it('npm run status prints it as a table, failing and blocked rows marked', async () => {
    const hub = world.container();
    await hub.tick();
    world.sim.failNext({ kind: 'errcode', errcode: 45009 }, 1, 'wx_other_03');
    world.clock.advance(101 * MINUTE);
    await hub.tick();
    const server = await listen(createLocalServer(hub));
    try {
      const url = server.url;
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/status.ts', '--url', url, '--key', ADMIN_KEY], { env: { ...process.env, NO_COLOR: '1' } });
      const lines = stdout.split('\n');
      expect(lines.find((l) => /^\s+APP\s+KIND\s+STATE\s+LEFT/.test(l))).toBeDefined();
      expect(lines.find((l) => l.startsWith('! other') && l.includes('blocked') && l.includes('quota:45009'))).toBeDefined();
      expect(lines.find((l) => l.startsWith('  oa ') && l.includes('access_token') && l.includes(' ok '))).toBeDefined();
      expect(stdout).toMatch(/need attention \(marked !\)/);
      for (const v of world.sim.issuedTokens()) expect(stdout).not.toContain(v);
    } finally {
      await server.close();
    }
  });
});
