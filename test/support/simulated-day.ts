import { request } from 'undici';
import type { Hub } from '../../lib/hub.js';
import type { TickOutcome } from '../../lib/refresher.js';
import { MINUTE } from './manual-clock.js';
import { CRM, httpEvent, OTHER_APP_KEY, READ_KEY, REFRESH_KEY, type World } from './world.js';

/** The world's apps: name, simulator id, the simulator's endpoint for its token, and the ledger's API. */
export const DAY_APPS = [
  { app: 'oa', id: 'wx_oa_0001', endpoint: 'token', api: 'token' },
  { app: 'mp', id: 'wx_mp_0002', endpoint: 'stable_token', api: 'stable_token' },
  { app: 'other', id: 'wx_other_03', endpoint: 'token', api: 'token' },
  { app: 'crm', id: CRM, endpoint: 'wecom_gettoken', api: 'gettoken' },
] as const;

export interface DayOptions {
  /** Lambda-like hubs the services' reads are spread over (each its own clients and caches); the first also ticks. */
  containers: number;
  /** Reads per app every `readEveryMinutes` (each read is used against the simulator at once). */
  readsPerApp: number;
  readEveryMinutes: number;
  /** Sprinkle WeChat faults over the day (-1 bursts, a hang, a reset, 45011). */
  faults: boolean;
  /** Minute of the day at which someone outside the hub fetches oa's token with its AppSecret. */
  outsideFetchAtMinute?: number;
  /** How much of the day to run (default all 24 h): the benchmarks' tiny size in CI. */
  minutes?: number;
}

export interface DayReport {
  reads: number;
  /** WeChat token calls made outside the hub (the outside fetch and its retries). */
  outsideCalls: number;
  /** Token calls the simulator counted per app (the hub's and, for oa, the outside one). */
  wechatCalls: Record<string, number>;
  /** What the hub's ledger counted per app. */
  ledger: Record<string, number>;
  /** Reads handed a token the simulator rejects, and whether the forced refresh that followed healed it. */
  rejected: { minute: number; app: string; healed: boolean }[];
  /** Reads that failed outright (no token at all), by minute and status. */
  failedReads: { minute: number; app: string; status: number }[];
  ticks: { minute: number; outcomes: TickOutcome[] }[];
  wallMs: number;
}

/**
 * 24 hours of virtual time from the start of a China quota day: the tick every 5 minutes, services
 * reading tokens, using them against the simulator and reporting a rejected one through the forced
 * refresh, with faults and an outside fetch if asked.
 */
export async function simulateDay(world: World, options: DayOptions): Promise<DayReport> {
  const started = performance.now();
  const hubs: Hub[] = Array.from({ length: options.containers }, () => world.container());
  const report: DayReport = { reads: 0, outsideCalls: 0, wechatCalls: {}, ledger: {}, rejected: [], failedReads: [], ticks: [], wallMs: 0 };
  const start = world.clock.now();
  const faults = new Map<number, () => void>(
    options.faults
      ? [
          [97, () => world.sim.failNext({ kind: 'errcode', errcode: -1 }, 2, '*', ['token', 'stable_token', 'wecom_gettoken'])],
          [301, () => world.sim.failNext({ kind: 'hang' }, 1, '*', ['token', 'stable_token', 'wecom_gettoken'])],
          [503, () => world.sim.failNext({ kind: 'reset' }, 1, '*', ['token', 'stable_token', 'wecom_gettoken'])],
          [707, () => world.sim.failNext({ kind: 'errcode', errcode: 45011 }, 1, '*', ['token', 'stable_token', 'wecom_gettoken'])],
          [1103, () => world.sim.failNext({ kind: 'errcode', errcode: -1 }, 3, '*', ['token', 'stable_token', 'wecom_gettoken'])],
        ]
      : [],
  );
  for (let minute = 0; minute < (options.minutes ?? 24 * 60); minute++) {
    world.clock.set(start + minute * MINUTE);
    faults.get(minute)?.();
    if (minute === options.outsideFetchAtMinute) report.outsideCalls = await outsideFetch(world);
    if (minute % 5 === 0) report.ticks.push({ minute, outcomes: await hubs[0]!.tick() });
    if (minute % options.readEveryMinutes !== 0) continue;
    for (const { app } of DAY_APPS) {
      for (let r = 0; r < options.readsPerApp; r++) {
        const hub = hubs[(minute + r) % hubs.length]!;
        const res = await hub.getToken(httpEvent({ key: app === 'other' ? OTHER_APP_KEY : READ_KEY, app }));
        report.reads++;
        if (res.statusCode !== 200) {
          report.failedReads.push({ minute, app, status: res.statusCode ?? 0 });
          continue;
        }
        const token = (JSON.parse(res.body!) as { access_token: string }).access_token;
        if (world.sim.isValid(token)) continue;
        // The service's WeChat call answered 40001: it reports the token through the forced refresh.
        const healed = await hub.forceRefresh(httpEvent({ key: app === 'other' ? OTHER_APP_KEY : REFRESH_KEY, app, body: { stale_token: token } }));
        const fresh = healed.statusCode === 200 ? (JSON.parse(healed.body!) as { access_token: string }).access_token : undefined;
        report.rejected.push({ minute, app, healed: fresh !== undefined && world.sim.isValid(fresh) });
      }
    }
  }
  const day = new Date(start + 8 * 3_600_000).toISOString().slice(0, 10);
  for (const a of DAY_APPS) {
    report.wechatCalls[a.app] = world.sim.calls(a.id, a.endpoint as 'token');
    report.ledger[a.app] = (await world.store.readQuota(a.app, a.api, day)).count;
  }
  report.wallMs = performance.now() - started;
  return report;
}

/** Someone with the AppSecret fetches oa's token outside the hub (WeChat then drops the hub's after 5 minutes). */
async function outsideFetch(world: World): Promise<number> {
  // Like any script, it tries again when WeChat is busy (a sprinkled fault may meet it): every try counts at WeChat.
  for (let tries = 1; ; tries++) {
    const res = await request(`${world.wechatBase}/cgi-bin/token?grant_type=client_credential&appid=wx_oa_0001&secret=${world.secrets.SECRET_OA}`, { headersTimeout: 1000, bodyTimeout: 1000 }).catch(() => undefined);
    const body = res ? ((await res.body.json().catch(() => ({}))) as { access_token?: string }) : {};
    if (body.access_token || tries >= 5) return tries;
  }
}
