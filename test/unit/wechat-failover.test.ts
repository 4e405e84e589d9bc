import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../lib/clock.js';
import { WeChatSimulator } from '../../lib/simulator/wechat-simulator.js';
import { UpstreamBases } from '../../lib/wechat/bases.js';
import { WeChatClient, type RequestHooks } from '../../lib/wechat/client.js';
import { ConfigurationError, RetryLaterError } from '../../lib/wechat/errors.js';
import { PassthroughError, WeChatPassthrough } from '../../lib/wechat/passthrough.js';
import { closedPort, listen, type Listening } from '../support/listen.js';
import { ManualClock } from '../support/manual-clock.js';

/**
 * WeChat's disaster-recovery domain: two (or more) bases, the first one down in each of the ways a
 * host can be down, the simulator as the one that works. Every count is checked against what the
 * servers received: the caller counts its first request, onRetry one more, onUnsent one fewer.
 */

const APPID = 'wx_failover_01';
const SECRET = 'failover-secret-0123456789abcdef';
const CORP = 'ww_failover_corp';
const WECOM_SECRET = 'failover-wecom-secret-0123456789';
/** A host whose name never resolves (RFC 6761 reserves .invalid). */
const NO_DNS = 'http://wechat-primary.invalid';

let clock: ManualClock;
let sim: WeChatSimulator;
let simBase: string;
const closers: (() => Promise<void>)[] = [];

beforeEach(async () => {
  clock = new ManualClock();
  sim = new WeChatSimulator({ now: () => clock.now(), apps: [{ appid: APPID, secret: SECRET }], wecomApps: [{ corpid: CORP, agentid: 1000002, secret: WECOM_SECRET }] });
  simBase = await sim.listen();
  closers.push(() => sim.close());
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

/** A TCP server that reads a request, then resets the connection (or, `hang`, never answers). Counts requests it received. */
async function brokenServer(mode: 'reset' | 'hang', onRequest?: () => void): Promise<{ url: string; received: () => number }> {
  let received = 0;
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('data', () => {
      received++;
      onRequest?.();
      if (mode === 'reset') socket.resetAndDestroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received: () => received };
}

/** A plain HTTP server answering every request with `answer`, counting them. */
async function httpServer(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; received: () => number }> {
  let received = 0;
  const server = createHttpServer((req, res) => {
    received++;
    req.resume();
    req.on('end', () => answer(req, res));
  });
  const l: Listening = await listen(server);
  closers.push(() => l.close());
  return { url: l.url, received: () => received };
}

/** The counting hooks, and what the caller's ledger holds: its own first count, +1 per retry, -1 per unsent. */
function counter(): RequestHooks & { retries: number; unsent: number; counted: () => number } {
  const c = {
    retries: 0,
    unsent: 0,
    onRetry: async () => {
      c.retries++;
    },
    onUnsent: async () => {
      c.unsent++;
    },
    counted: () => 1 + c.retries - c.unsent,
  };
  return c;
}

const client = (bases: string[], options: Partial<ConstructorParameters<typeof WeChatClient>[0]> = {}) =>
  new WeChatClient({ baseUrl: bases, clock, attemptTimeoutMs: 300, random: () => 0, ...options });
const origin = (base: string) => new URL(base).origin;

describe('WeChatClient with a disaster-recovery base', () => {
  it('fetches the token from the fallback when the primary refuses connections; onUnsent takes the refused request back', async () => {
    const primary = await closedPort();
    const c = client([primary, simBase]);
    const hooks = counter();
    const t = await c.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic', deadline: clock.now() + 2_000, ...hooks });
    expect(t.accessToken).toBe(sim.currentToken(APPID));
    expect(hooks).toMatchObject({ retries: 1, unsent: 1 });
    expect(hooks.counted()).toBe(sim.calls(APPID));
    expect(sim.calls(APPID)).toBe(1);
    expect(c.lastBase).toBe(origin(simBase));
  });

  it('fetches the token from the fallback when the primary\'s name does not resolve (DNS failure); onUnsent takes it back', async () => {
    const c = client([NO_DNS, simBase], { attemptTimeoutMs: 3_000 });
    const hooks = counter();
    const t = await c.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'stable', ...hooks });
    expect(t.accessToken).toBe(sim.currentToken(APPID, 'stable'));
    expect(hooks).toMatchObject({ retries: 1, unsent: 1 });
    expect(hooks.counted()).toBe(sim.calls(APPID, 'stable_token'));
    expect(c.lastBase).toBe(origin(simBase));
  });

  it('fetches the token from the fallback when the primary resets the connection; the reset request stays counted (WeChat may have received it)', async () => {
    const primary = await brokenServer('reset');
    const c = client([primary.url, simBase]);
    const hooks = counter();
    const t = await c.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic', ...hooks });
    expect(t.accessToken).toBe(sim.currentToken(APPID));
    expect(hooks).toMatchObject({ retries: 1, unsent: 0 });
    expect(primary.received()).toBe(1);
    expect(hooks.counted()).toBe(primary.received() + sim.calls(APPID));
  });

  it('fetches the token from the fallback within the deadline when the primary never answers (attempt timeout)', async () => {
    const primary = await brokenServer('hang');
    // The real clock here: the deadline is real time, and the answer must come before it.
    const c = new WeChatClient({ baseUrl: [primary.url, simBase], clock: systemClock, attemptTimeoutMs: 200 });
    const hooks = counter();
    const deadline = Date.now() + 4_000;
    const t = await c.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic', deadline, ...hooks });
    expect(Date.now()).toBeLessThan(deadline);
    expect(t.accessToken).toBe(sim.currentToken(APPID));
    expect(hooks).toMatchObject({ retries: 1, unsent: 0 });
    expect(hooks.counted()).toBe(primary.received() + sim.calls(APPID));
    expect(c.lastBase).toBe(origin(simBase));
  });

  it('gives a primary that never answers only the time left before the deadline, and starts no fallback request after it', async () => {
    // The request reaches the hanging primary when the deadline is 100 ms away; the clock then
    // jumps past it. The attempt must be cut at 100 ms (not attemptTimeoutMs, 30 s: the test would
    // time out), and no request may go to the fallback.
    const primary = await brokenServer('hang', () => clock.advance(1_000));
    const c = client([primary.url, simBase], { attemptTimeoutMs: 30_000 });
    const hooks = counter();
    const error = await c.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic', deadline: clock.now() + 100, ...hooks }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryLaterError);
    expect(sim.calls(APPID)).toBe(0);
    expect(hooks).toMatchObject({ retries: 0, unsent: 0 });
    expect(c.lastBase).toBeUndefined();
  });

  it('fetches a JS-SDK ticket from the fallback when the primary refuses connections', async () => {
    const token = (await client([simBase]).fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic' })).accessToken;
    const c = client([await closedPort(), simBase]);
    const hooks = counter();
    const t = await c.fetchTicket({ path: '/cgi-bin/ticket/getticket', accessToken: token, type: 'jsapi', ...hooks });
    expect(t.ticket).toBe(sim.currentTicket(APPID, 'jsapi'));
    expect(hooks).toMatchObject({ retries: 1, unsent: 1 });
    expect(hooks.counted()).toBe(sim.calls(APPID, 'ticket_jsapi'));
  });

  it('fetches a WeCom token from the fallback when the primary\'s name does not resolve; onUnsent takes it back', async () => {
    const c = client([NO_DNS, simBase], { platform: 'wecom', attemptTimeoutMs: 3_000 });
    const hooks = counter();
    await c.fetchWeComToken({ corpid: CORP, secret: WECOM_SECRET, ...hooks });
    expect(hooks).toMatchObject({ retries: 1, unsent: 1 });
    expect(hooks.counted()).toBe(sim.calls(`${CORP}/1000002`, 'wecom_gettoken'));
  });

  it('does not try an errcode answer (40164) of the primary on the fallback', async () => {
    const fallback = new WeChatSimulator({ now: () => clock.now(), apps: [{ appid: APPID, secret: SECRET }] });
    const fallbackBase = await fallback.listen();
    closers.push(() => fallback.close());
    sim.failNext({ kind: 'errcode', errcode: 40164 });
    const c = client([simBase, fallbackBase]);
    const hooks = counter();
    const error = await c.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic', ...hooks }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).errcode).toBe(40164);
    expect(fallback.calls(APPID)).toBe(0);
    expect(hooks).toMatchObject({ retries: 0, unsent: 0 });
    expect(hooks.counted()).toBe(sim.calls(APPID));
    expect(c.lastBase).toBe(origin(simBase));
  });

  it('retries -1 from the primary on the primary, never on the fallback', async () => {
    const fallback = await httpServer((_req, res) => res.end('{}'));
    sim.failNext({ kind: 'errcode', errcode: -1 }, 2);
    const c = client([simBase, fallback.url]);
    const hooks = counter();
    const t = await c.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic', ...hooks });
    expect(t.accessToken).toBe(sim.currentToken(APPID));
    expect(fallback.received()).toBe(0);
    expect(hooks).toMatchObject({ retries: 2, unsent: 0 });
    expect(hooks.counted()).toBe(sim.calls(APPID));
  });

  it('gives up on -1 after its attempts on the primary without asking the fallback', async () => {
    const fallback = await httpServer((_req, res) => res.end('{}'));
    sim.failNext({ kind: 'errcode', errcode: -1 }, 10);
    const c = client([simBase, fallback.url]);
    const hooks = counter();
    await expect(c.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic', ...hooks })).rejects.toBeInstanceOf(RetryLaterError);
    expect(sim.calls(APPID)).toBe(4);
    expect(fallback.received()).toBe(0);
    expect(hooks.counted()).toBe(4);
  });

  it('retries an HTTP 502 of the primary on the primary, never on the fallback', async () => {
    const primary = await httpServer((_req, res) => {
      res.statusCode = 502;
      res.end('bad gateway');
    });
    const c = client([primary.url, simBase]);
    const hooks = counter();
    await expect(c.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic', ...hooks })).rejects.toBeInstanceOf(RetryLaterError);
    expect(primary.received()).toBe(4);
    expect(sim.calls(APPID)).toBe(0);
    expect(hooks.counted()).toBe(primary.received());
    expect(c.lastBase).toBe(origin(primary.url));
  });

  it('fails with a RetryLaterError naming no host, URL or secret when every base is unreachable, and onUnsent takes back every request', async () => {
    const c = client([await closedPort(), NO_DNS], { attemptTimeoutMs: 3_000 });
    const hooks = counter();
    const error = await c.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic', ...hooks }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryLaterError);
    expect((error as Error).message).toMatch(/^network error \((ECONNREFUSED|ENOTFOUND|EAI_AGAIN)\)$/);
    expect(String((error as Error).stack)).not.toMatch(/secret|invalid|127\.0\.0\.1|cgi-bin/);
    // one free failover, then maxAttempts (4) counted attempts going round the list
    expect(hooks).toMatchObject({ retries: 4, unsent: 5 });
    expect(hooks.counted()).toBe(0);
    expect(c.lastBase).toBeUndefined();
  });

  it('starts with the fallback for 60 s after the primary was unreachable, then tries the primary first again', async () => {
    const primary = await closedPort();
    const c = client([primary, simBase]);
    const first = counter();
    await c.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic', ...first });
    expect(first).toMatchObject({ retries: 1, unsent: 1 });

    clock.advance(59_000);
    const sticky = counter();
    await c.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic', ...sticky });
    expect(sticky).toMatchObject({ retries: 0, unsent: 0 }); // straight to the fallback

    clock.advance(2_000);
    const again = counter();
    await c.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic', ...again });
    expect(again).toMatchObject({ retries: 1, unsent: 1 }); // the primary first, still down
    expect(first.counted() + sticky.counted() + again.counted()).toBe(sim.calls(APPID));
  });

  it('goes back to the primary once it answers again after the 60 s, and lastBase and since follow it', async () => {
    const primaryBase = await closedPort();
    const c = client([primaryBase, simBase]);
    await c.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic' });
    expect(c.lastBaseInfo).toEqual({ lastBase: origin(simBase), since: clock.now() });

    const primary = new WeChatSimulator({ now: () => clock.now(), apps: [{ appid: APPID, secret: SECRET }] });
    await primary.listen(Number(new URL(primaryBase).port));
    closers.push(() => primary.close());
    clock.advance(61_000);
    const t = await c.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic' });
    expect(t.accessToken).toBe(primary.currentToken(APPID));
    expect(c.lastBaseInfo).toEqual({ lastBase: origin(primaryBase), since: clock.now() });
  });

  it('reports lastBase as an origin only: no path, no query', async () => {
    const c = client([await closedPort(), `${simBase}/`]);
    expect(c.lastBase).toBeUndefined();
    await c.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic' });
    expect(c.lastBase).toBe(origin(simBase));
    expect(c.lastBase).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});

describe('WeChatPassthrough with a disaster-recovery base', () => {
  const call = { method: 'POST', path: '/cgi-bin/message/custom/send', query: new URLSearchParams({ access_token: 'tok-not-in-errors' }), body: Buffer.from('{"touser":"o1"}'), contentType: 'application/json' };
  const ok = () => httpServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"errcode":0,"errmsg":"ok"}');
  });

  it('sends the call to the fallback when the primary refuses connections (it provably was not sent)', async () => {
    const fallback = await ok();
    const p = new WeChatPassthrough({ baseUrl: [await closedPort(), fallback.url], clock });
    const res = await p.send(call);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(fallback.received()).toBe(1);
    expect(p.lastBase).toBe(origin(fallback.url));
  });

  it('sends the call to the fallback when the primary\'s name does not resolve', async () => {
    const fallback = await ok();
    const p = new WeChatPassthrough({ baseUrl: [NO_DNS, fallback.url], clock, timeoutMs: 3_000 });
    expect((await p.send(call)).status).toBe(200);
    expect(fallback.received()).toBe(1);
  });

  it('does not send the call to the fallback after the primary timed out (it may have been sent)', async () => {
    const primary = await brokenServer('hang');
    const fallback = await ok();
    const p = new WeChatPassthrough({ baseUrl: [primary.url, fallback.url], clock, timeoutMs: 200 });
    const error = await p.send(call).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PassthroughError);
    expect((error as Error).message).not.toMatch(/tok-not-in-errors|127\.0\.0\.1|cgi-bin/);
    expect(primary.received()).toBe(1);
    expect(fallback.received()).toBe(0);
    expect(p.lastBase).toBeUndefined();
  });

  it('does not send the call to the fallback after the primary reset the connection', async () => {
    const primary = await brokenServer('reset');
    const fallback = await ok();
    const p = new WeChatPassthrough({ baseUrl: [primary.url, fallback.url], clock });
    await expect(p.send(call)).rejects.toBeInstanceOf(PassthroughError);
    expect(primary.received()).toBe(1);
    expect(fallback.received()).toBe(0);
  });

  it('passes the primary\'s HTTP 503 back without asking the fallback', async () => {
    const primary = await httpServer((_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const fallback = await ok();
    const p = new WeChatPassthrough({ baseUrl: [primary.url, fallback.url], clock });
    expect((await p.send(call)).status).toBe(503);
    expect(fallback.received()).toBe(0);
    expect(p.lastBase).toBe(origin(primary.url));
  });

  it('starts with the fallback at once when it shares UpstreamBases with a client that found the primary down', async () => {
    const primaryBase = await closedPort();
    const bases = new UpstreamBases([primaryBase, simBase], { clock });
    const c = new WeChatClient({ baseUrl: bases, clock, attemptTimeoutMs: 300 });
    const token = (await c.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic' })).accessToken;
    // The primary is back (listening, counting), but within the 60 s the fallback goes first.
    let primaryReceived = 0;
    const back = createHttpServer((_req, res) => {
      primaryReceived++;
      res.end('{"errcode":0}');
    });
    await new Promise<void>((r) => back.listen(Number(new URL(primaryBase).port), '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => back.close(() => r())));
    clock.advance(30_000);
    const p = new WeChatPassthrough({ baseUrl: bases, clock });
    const res = await p.send({ method: 'GET', path: '/cgi-bin/getcallbackip', query: new URLSearchParams({ access_token: token }) });
    expect(JSON.parse(res.body.toString())).toHaveProperty('ip_list');
    expect(p.lastBase).toBe(origin(simBase));
    expect(primaryReceived).toBe(0);
  });
});
