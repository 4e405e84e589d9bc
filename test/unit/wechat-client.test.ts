import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WeChatSimulator } from '../../lib/simulator/wechat-simulator.js';
import { WeChatClient } from '../../lib/wechat/client.js';
import {
  ConfigurationError,
  IpBlockedError,
  QuotaExceededError,
  RetryLaterError,
  classifyErrcode,
} from '../../lib/wechat/errors.js';
import { ManualClock } from '../support/manual-clock.js';

const APPID = 'wx_unit_0001';
const SECRET = 'unit-secret-0123456789abcdef';

let clock: ManualClock;
let sim: WeChatSimulator;
let client: WeChatClient;
let base: string;

beforeEach(async () => {
  clock = new ManualClock();
  sim = new WeChatSimulator({ now: () => clock.now(), apps: [{ appid: APPID, secret: SECRET }] });
  base = await sim.listen();
  client = new WeChatClient({
    baseUrl: base,
    clock,
    attemptTimeoutMs: 200,
  });
});
afterEach(async () => {
  await sim.close();
});

describe('WeChatClient', () => {
  it.each(['classic', 'stable'] as const)('fetches a %s token', async (api) => {
    const t = await client.fetchAccessToken({ appid: APPID, secret: SECRET, api });
    expect(t.expiresIn).toBe(7200);
    expect(t.accessToken).toBe(sim.currentToken(APPID, api));
  });

  it('never retries a configuration error, and its message holds neither the secret nor the URL', async () => {
    const error = await client.fetchAccessToken({ appid: APPID, secret: 'wrong-secret-value', api: 'classic' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).errcode).toBe(40001);
    expect(String((error as Error).message)).not.toMatch(/wrong-secret-value|cgi-bin|secret=/);
    expect(sim.calls(APPID)).toBe(1);
  });

  it('wrong secret on stable_token is 40125, a configuration error', async () => {
    const error = await client.fetchAccessToken({ appid: APPID, secret: 'nope-nope', api: 'stable' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).errcode).toBe(40125);
  });

  it('retries -1 and 45011 and then succeeds', async () => {
    sim.failNext({ kind: 'errcode', errcode: -1 });
    sim.failNext({ kind: 'errcode', errcode: 45011 });
    const t = await client.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic' });
    expect(t.accessToken).toBe(sim.currentToken(APPID));
    expect(sim.calls(APPID)).toBe(3);
  });

  it('gives up after its attempts with RetryLaterError', async () => {
    sim.failNext({ kind: 'errcode', errcode: -1 }, 10);
    await expect(client.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic' })).rejects.toBeInstanceOf(RetryLaterError);
    expect(sim.calls(APPID)).toBe(4);
  });

  it('stops retrying at the deadline', async () => {
    const slowClock = new ManualClock(clock.now(), true); // each backoff moves time on
    const c = new WeChatClient({ baseUrl: base, clock: slowClock, backoffBaseMs: 1000, random: () => 1, maxAttempts: 10 });
    sim.failNext({ kind: 'errcode', errcode: -1 }, 10);
    await expect(c.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic', deadline: slowClock.now() + 2500 })).rejects.toBeInstanceOf(RetryLaterError);
    // attempts at 0 s and 1 s; the next backoff (2 s) would pass the deadline
    expect(sim.calls(APPID)).toBe(2);
  });

  it('treats a reset connection and a hang as retry-later network failures', async () => {
    sim.failNext({ kind: 'reset' }, 10);
    const reset = await client.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic' }).catch((e: unknown) => e);
    expect(reset).toBeInstanceOf(RetryLaterError);
    expect((reset as Error).message).toMatch(/^network error/);
    sim.clearFaults();
    sim.failNext({ kind: 'hang' }, 10);
    const hang = await client.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic' }).catch((e: unknown) => e);
    expect(hang).toBeInstanceOf(RetryLaterError);
    expect((hang as Error).message).not.toContain(SECRET);
  });

  it('reports 45009 as quota exhausted and 89507 as an IP blocked for an hour, without retrying', async () => {
    sim.failNext({ kind: 'errcode', errcode: 45009 });
    await expect(client.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic' })).rejects.toBeInstanceOf(QuotaExceededError);
    sim.failNext({ kind: 'errcode', errcode: 89507 });
    const blocked = await client.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic' }).catch((e: unknown) => e);
    expect(blocked).toBeInstanceOf(IpBlockedError);
    expect((blocked as IpBlockedError).blockedForMs).toBe(3_600_000);
    expect(sim.calls(APPID)).toBe(2);
  });

  it('probes a token with getcallbackip', async () => {
    const t = await client.fetchAccessToken({ appid: APPID, secret: SECRET, api: 'classic' });
    expect(await client.isTokenValid(t.accessToken)).toBe(true);
    expect(await client.isTokenValid('not-a-token')).toBe(false);
  });
});

describe('classifyErrcode', () => {
  it.each([
    [-1, true, 'retry_later'],
    [45011, true, 'retry_later'],
    [40001, true, 'configuration'],
    [40001, false, 'refresh'],
    [40014, false, 'refresh'],
    [42001, false, 'refresh'],
    [40013, true, 'configuration'],
    [40164, true, 'configuration'],
    [40243, true, 'configuration'],
    [61024, true, 'configuration'],
    [45009, true, 'quota'],
    [89506, true, 'ip_blocked'],
    [12345, true, 'upstream'],
  ])('errcode %i (token API: %s) is %s', (code, onTokenApi, kind) => {
    expect(classifyErrcode(code, 'x', onTokenApi).kind).toBe(kind);
  });
});

