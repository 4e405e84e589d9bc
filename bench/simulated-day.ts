/**
 * The simulated day at benchmark size: 24 h of virtual time, 5 containers, every app read 10 times a
 * minute by services that use each token against the simulator; once fault-free, once with faults
 * and an outside fetch. Returns the BENCHMARKS.md section (bench/run.ts writes it).
 */
import { ManualClock } from '../test/support/manual-clock.js';
import { DAY_APPS, simulateDay, type DayReport } from '../test/support/simulated-day.js';
import { startWorld } from '../test/support/world.js';

const DAY_START = Date.UTC(2026, 10, 23, 16, 0); // a China quota day

async function day(faults: boolean, tiny: boolean): Promise<DayReport> {
  const world = await startWorld({ clock: new ManualClock(DAY_START) });
  try {
    return tiny
      ? await simulateDay(world, { containers: 2, readsPerApp: 1, readEveryMinutes: 5, faults, outsideFetchAtMinute: faults ? 97 : undefined, minutes: 120 })
      : await simulateDay(world, { containers: 5, readsPerApp: 10, readEveryMinutes: 1, faults, outsideFetchAtMinute: faults ? 777 : undefined });
  } finally {
    await world.close();
  }
}

export async function simulatedDaySection(tiny = false): Promise<string> {
  const rows: string[] = [];
  for (const faults of [false, true]) {
    const r = await day(faults, tiny);
    for (const { app } of DAY_APPS) {
      rows.push(
        `| ${faults ? 'faults + outside fetch' : 'fault-free'} | ${app} | ${r.wechatCalls[app]} | ${r.ledger[app]} | ${app === 'oa' ? r.outsideCalls : 0} | ${r.rejected.filter((x) => x.app === app).length} | ${r.rejected.filter((x) => x.app === app && !x.healed).length} | ${r.failedReads.filter((x) => x.app === app).length} |`,
      );
    }
    rows.push(`| | all | | | | | | ${r.reads} reads in ${(r.wallMs / 1000).toFixed(1)} s wall |`);
  }
  return `## A simulated day

\`npm run bench\` (bench/simulated-day.ts): 24 h of virtual time from a China quota day's start, the
tick every 5 minutes, 5 containers, every app read 10 times a minute by services that use the token
against the simulator at once and report a rejected one through the forced refresh. The faulty day
has -1 bursts, a hang, a connection reset, a 45011, and at 12:57 someone outside the hub fetches oa's
token with its AppSecret (WeChat drops the hub's 5 minutes later). Apps: oa (classic token), mp
(stable_token), other (classic), crm (WeCom).

| day | app | WeChat token calls | hub ledger | outside calls | reads handed a rejected token | not healed by one forced refresh | failed reads |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}
`;
}
