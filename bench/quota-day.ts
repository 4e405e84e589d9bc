/**
 * The quota cost of a day: 24 h of virtual time against the simulator, services reading an Official
 * Account's token 10 times a second and using it at once, for the hub and for the ways people do this
 * without one. Counted: upstream token fetches, and reads handed a token WeChat had already
 * invalidated (or no token at all). Returns the BENCHMARKS.md section.
 */
import { request } from 'undici';
import { ManualClock } from '../test/support/manual-clock.js';
import { startWorld, type World } from '../test/support/world.js';

const DAY_START = Date.UTC(2026, 10, 23, 16, 0); // a China quota day
const OA = 'wx_oa_0001';

interface Result {
  strategy: string;
  fetches: number;
  reads: number;
  invalid: number;
  failed: number;
  wallMs: number;
}

type Reader = (now: number) => Promise<string | undefined>;

async function fetchToken(world: World): Promise<{ token?: string; expiresIn?: number; errcode?: number }> {
  const res = await request(`${world.wechatBase}/cgi-bin/token?grant_type=client_credential&appid=${OA}&secret=${world.secrets.SECRET_OA}`);
  const body = (await res.body.json()) as { access_token?: string; expires_in?: number; errcode?: number };
  return { token: body.access_token, expiresIn: body.expires_in, errcode: body.errcode };
}

/** Run the day: `perSecond` reads a second, each used against the simulator at once. */
async function run(strategy: string, world: World, setup: (world: World) => Promise<{ read: Reader; everyMinute?: (minute: number) => Promise<void> }>, seconds: number, perSecond: number): Promise<Result> {
  const started = performance.now();
  const { read, everyMinute } = await setup(world);
  const r: Result = { strategy, fetches: 0, reads: 0, invalid: 0, failed: 0, wallMs: 0 };
  for (let s = 0; s < seconds; s++) {
    if (s % 60 === 0) await everyMinute?.(s / 60);
    for (let i = 0; i < perSecond; i++) {
      const now = DAY_START + s * 1000 + i * (1000 / perSecond);
      world.clock.set(now);
      const token = await read(now);
      r.reads++;
      if (token === undefined) r.failed++;
      else if (!world.sim.isValid(token)) r.invalid++;
    }
  }
  r.fetches = world.sim.calls(OA, 'token');
  r.wallMs = performance.now() - started;
  return r;
}

/** The hub: 5 containers, the tick every 5 minutes; a service reads through the refresher (the read route's core). */
const hub = async (world: World) => {
  const containers = Array.from({ length: 5 }, () => world.container());
  let n = 0;
  return {
    everyMinute: async (minute: number) => {
      if (minute % 5 === 0) await containers[0]!.tick();
    },
    read: async () => {
      const c = containers[n++ % containers.length]!;
      try {
        const t = (await c.refresher.get('oa')).value;
        if (world.sim.isValid(t)) return t;
        // 40001: the service reports it, as the hub asks.
        return (await c.refresher.forceRefresh('oa', t)).value;
      } catch {
        return undefined;
      }
    },
  };
};

/** A cron job fetching every 100 minutes; services read what it stored last. */
const cron = async (world: World) => {
  let token: string | undefined;
  return {
    everyMinute: async (minute: number) => {
      if (minute % 100 === 0) token = (await fetchToken(world)).token ?? token;
    },
    read: async () => token,
  };
};

/** The tutorial's code: fetch a token for every use. Once WeChat answers 45009, it does so for the rest of the quota day. */
const everyUse = async (world: World) => {
  let spent = false;
  return {
    read: async () => {
      if (spent) return undefined; // WeChat's answer is 45009 until the next quota day: not asked again here
      const r = await fetchToken(world);
      if (r.errcode === 45009) spent = true;
      return r.token;
    },
  };
};

/** 5 instances, each caching its own token until it expires, and refetching on 40001 (the classic bug). */
const perInstance = async (world: World) => {
  const caches = Array.from({ length: 5 }, () => ({ token: undefined as string | undefined, until: 0 }));
  let n = 0;
  let spent = false;
  const refetch = async (c: { token?: string; until: number }, now: number) => {
    if (spent) return; // 45009 until the next quota day: not asked again here
    const r = await fetchToken(world);
    if (r.errcode === 45009) spent = true;
    if (r.token) Object.assign(c, { token: r.token, until: now + (r.expiresIn! - 200) * 1000 });
  };
  return {
    read: async (now: number) => {
      const c = caches[n++ % caches.length]!;
      if (!c.token || now >= c.until) await refetch(c, now);
      const t = c.token;
      // The API call answers 40001; the instance refetches (as SDKs do) for its next calls, which
      // ends another instance's token (WeChat keeps only the latest and the one before it).
      if (t && !world.sim.isValid(t)) await refetch(c, now);
      return t;
    },
  };
};

export async function quotaDaySection(tiny = false): Promise<string> {
  const seconds = tiny ? 600 : 86_400;
  const perSecond = tiny ? 1 : 10;
  const rows: Result[] = [];
  for (const [name, setup] of [
    ['the hub (5 containers, tick every 5 min)', hub],
    ['cron rate(100 minutes)', cron],
    ['fetch on every use', everyUse],
    ['5 instances, each its own cache', perInstance],
  ] as const) {
    const world = await startWorld({ clock: new ManualClock(DAY_START) });
    try {
      rows.push(await run(name, world, setup, seconds, perSecond));
    } finally {
      await world.close();
    }
  }
  const floor = Math.ceil(seconds / 7200);
  return `## Quota cost of a day

\`npm run bench\` (bench/quota-day.ts): ${seconds / 3600} h of virtual time from a China quota day's start against
the simulator (2000 token fetches a day, a new token invalidates the previous one after 5 minutes),
services reading an Official Account's token ${perSecond} times a second and using it at once. Floor:
${floor} fetches (${seconds} / 7200). "Invalid" counts reads handed a token WeChat had already
invalidated; "no token" reads that got none (fetch on every use: after the 2000th fetch WeChat
answers 45009 for the rest of the day, counted without asking it again).

| strategy | token fetches | ÷ floor | reads | invalid | no token |
|---|---|---|---|---|---|
${rows.map((r) => `| ${r.strategy} | ${r.fetches} | ${(r.fetches / floor).toFixed(1)} | ${r.reads} | ${r.invalid} | ${r.failed} |`).join('\n')}

Goal: the hub at most 15 fetches with no invalid token served: ${rows[0]!.fetches <= 15 && rows[0]!.invalid === 0 ? 'met' : 'missed'} (${rows[0]!.fetches} fetches, ${rows[0]!.invalid} invalid).
A cron job costs as little on a day without faults, but it has no passive refresh and no lease: an
outside fetch, or two copies of the job, and every reader is handed a dead token until its next run.
`;
}
