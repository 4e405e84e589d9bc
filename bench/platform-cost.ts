/**
 * The monthly AWS bill of a third-party platform's authorizers (1,000 and 10,000), extending the
 * cost model of bench/cost.ts with what the platform benchmarks measured: DynamoDB units per
 * refresh, per probe, per read and per event (bench/platform-scale.ts, bench/platform-day.ts), the
 * refreshes an authorizer needs a day (the day), the tick's invocations and their duration (the
 * 10,000 run), the table's size (the day). Every assumption is stated in the section it returns.
 */
import { PRICES } from './cost.js';
import type { Meter } from './ddb-meter.js';
import type { PlatformDay } from './platform-day.js';
import type { PlatformScale } from './platform-scale.js';

/** bench/cost.ts's prices, and the storage lines it had no need of (us-east-1 list prices, 2025). */
export const PLATFORM_PRICES = {
  ...PRICES,
  /** Continuous backups (PITR), per GB-month of table data. */
  pitrPerGbMonth: 0.2,
  /** Standard table class storage, per GB-month past the first 25 GB (free tier, every month). */
  storagePerGbMonth: 0.25,
  storageFreeGb: 25,
};

const DAY_S = 86_400;
const MONTH_DAYS = 30;
const TICKS_PER_DAY = DAY_S / 300;
const MEMORY_GB = 0.25; // serverless.yml: memorySize 256 for every function
const SHARDS = 16;
const BUDGET = 400; // TICK_INVOCATION_BUDGET
/** Assumed: token reads reaching the hub, per authorizer (services cache the token between reads). */
const READS_PER_AUTHORIZER_PER_MINUTE = 1;
/** Assumed: (re-)authorizations a month, as a share of the authorizers. */
const AUTHORIZATIONS_PER_MONTH = 0.1;
/** Assumed billed durations (bench/cost.ts: ~10 ms a read); an event: api_query_auth and its writes. */
const READ_S = 0.01;
const EVENT_S = 0.1;
/** Warm containers reading the key list (a SecureString) every SECRET_CACHE_TTL (60 s), as bench/cost.ts. */
const READ_CONTAINERS = 2;

const units = (m: Meter, per: number) => ({ rru: m.rru / per, wru: (m.wru + m.gsiWru) / per, requests: m.requests / per });
const ddb = (u: { rru: number; wru: number }, times: number) => ((u.rru * times) / 1e6) * PLATFORM_PRICES.dynamoReadPerMillion + ((u.wru * times) / 1e6) * PLATFORM_PRICES.dynamoWritePerMillion;
const lambda = (invocations: number, seconds: number) => (invocations / 1e6) * PLATFORM_PRICES.lambdaPerMillion + seconds * MEMORY_GB * PLATFORM_PRICES.lambdaPerGbSecondArm;
const usd = (x: number) => (x < 0.005 && x > 0 ? '< $0.01' : `$${x.toFixed(2)}`);

/** Invocations of one tick with `due` credentials due: one, or past the budget the scheduled one and a shard each it hands on. */
function invocationsPerTick(due: number): number {
  if (due <= BUDGET) return 1;
  const kept = Math.max(1, Math.floor(BUDGET / (due / SHARDS)));
  return 1 + (SHARDS - kept);
}

export interface PlatformCostInputs {
  day: PlatformDay;
  scale: PlatformScale;
}

export function platformCostSection({ day, scale }: PlatformCostInputs, command: string): string {
  const n = scale.authorizers;
  const none = scale.nothingDue.meter;
  const perRefresh = { rru: (scale.refresh.meter.rru - none.rru) / n, wru: (scale.refresh.meter.wru + scale.refresh.meter.gsiWru - none.wru - none.gsiWru) / n };
  const pnone = scale.probeNothingDue.meter;
  const pn = scale.probeAuthorizers;
  const perProbe = { rru: (scale.probe.meter.rru - pnone.rru) / pn, wru: (scale.probe.meter.wru + scale.probe.meter.gsiWru - pnone.wru - pnone.gsiWru) / pn };
  const perTick = units(none, 1);
  const perRead = units(day.readsMeter, day.reads);
  const perTicket = units(day.ticketMeter, day.ticketPushes);
  const perAuthorization = units(day.authMeter, day.authorizers);
  // Refreshes an authorizer needs a day (the day's fetches, by the tick and by reads, over 24 h).
  const refreshesPerDay = (day.fetchesTotal / day.authorizers) * (1440 / day.minutes);
  // Lambda seconds: the 10,000 run's invocations added up, per refresh and per probe; one invocation with nothing due.
  const sPerRefresh = (scale.refresh.run.sumMs - scale.nothingDue.run.sumMs) / 1000 / n;
  const sPerProbe = (scale.probe.run.sumMs - scale.probeNothingDue.run.sumMs) / 1000 / pn;
  const sPerInvocation = scale.nothingDue.run.sumMs / 1000;
  // The table: bytes per authorizer (its row, its token's item, its ledger rows kept about three days by their TTL), +100 bytes an item (AWS's overhead).
  const t = day.table.byType;
  const bytesPerAuthorizer = ((t.CRED?.bytes ?? 0) + (t.PRINCIPAL?.bytes ?? 0) + 3 * (t.QUOTA?.bytes ?? 0) + 100 * ((t.CRED?.items ?? 0) + (t.PRINCIPAL?.items ?? 0) + 3 * (t.QUOTA?.items ?? 0))) / day.authorizers;
  // gsi1 projects every attribute of a credential and a principal row: stored again (storage, not PITR).
  const indexBytesPerAuthorizer = ((t.CRED?.bytes ?? 0) + (t.PRINCIPAL?.bytes ?? 0) + 100 * ((t.CRED?.items ?? 0) + (t.PRINCIPAL?.items ?? 0))) / day.authorizers;

  const month = (authorizers: number, selfHealInterval: number | undefined) => {
    const probesPerDay = selfHealInterval === undefined ? 0 : DAY_S / Math.max(300, selfHealInterval);
    const refreshes = authorizers * refreshesPerDay * MONTH_DAYS;
    const probes = authorizers * probesPerDay * MONTH_DAYS;
    const ticks = TICKS_PER_DAY * MONTH_DAYS;
    const duePerTick = (authorizers * (refreshesPerDay + probesPerDay)) / TICKS_PER_DAY;
    const tickInvocations = ticks * invocationsPerTick(duePerTick);
    const reads = authorizers * READS_PER_AUTHORIZER_PER_MINUTE * 60 * 24 * MONTH_DAYS;
    const pushes = (DAY_S / 600) * MONTH_DAYS;
    const authorizations = authorizers * AUTHORIZATIONS_PER_MONTH;
    const events = pushes + authorizations;
    const gb = (authorizers * bytesPerAuthorizer) / 2 ** 30;
    const kms = ((READ_CONTAINERS * DAY_S * MONTH_DAYS) / 60 + 2 * events + refreshesPerDay * MONTH_DAYS) / 1e4 * PLATFORM_PRICES.kmsPerTenThousand;
    const lines = {
      ddbRefresh: ddb(perRefresh, refreshes),
      ddbProbe: ddb(perProbe, probes),
      ddbTick: ddb(perTick, ticks),
      ddbReads: ddb(perRead, reads),
      ddbEvents: ddb(perTicket, pushes) + ddb(perAuthorization, authorizations),
      lambdaTick: lambda(tickInvocations, tickInvocations * sPerInvocation + refreshes * sPerRefresh + probes * sPerProbe),
      lambdaReads: lambda(reads, reads * READ_S),
      lambdaEvents: lambda(events, events * EVENT_S),
      api: ((reads + events) / 1e6) * PLATFORM_PRICES.httpApiPerMillion,
      pitr: gb * PLATFORM_PRICES.pitrPerGbMonth,
      storage: Math.max(0, gb + (authorizers * indexBytesPerAuthorizer) / 2 ** 30 - PLATFORM_PRICES.storageFreeGb) * PLATFORM_PRICES.storagePerGbMonth,
      kms,
    };
    const total = Object.values(lines).reduce((a, x) => a + x, 0);
    const readCost = (reads / 1e6) * PLATFORM_PRICES.httpApiPerMillion + lines.lambdaReads + lines.ddbReads;
    return { ...lines, total, readCost, refreshes, probes, reads, tickInvocations, duePerTick, gb, events };
  };
  const sizes = [1000, 10_000];
  const at = sizes.map((a) => month(a, 1800));
  const atDefault = sizes.map((a) => month(a, 300));
  const off = sizes.map((a) => month(a, undefined));
  const line = (what: string, f: (m: ReturnType<typeof month>) => string) => `| ${what} | ${at.map(f).join(' | ')} |`;
  const M = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(1)} M` : `${Math.round(x / 1e3)} k`);
  const u = (x: { rru: number; wru: number }) => `${x.rru.toFixed(2)} RRU + ${x.wru.toFixed(2)} WRU`;
  return `## Third-party platform: what 1,000 and 10,000 authorizers cost a month

A model (\`${command}\`, bench/platform-cost.ts) extending the one above with the platform benchmarks'
measured counts, per month of 30 days, one platform, \`SELF_HEAL_INTERVAL=1800\` (the README's advice at
thousands of credentials). Prices: ${PLATFORM_PRICES.date}: Lambda $${PLATFORM_PRICES.lambdaPerMillion}/M requests and $${PLATFORM_PRICES.lambdaPerGbSecondArm}/GB-s
(arm64), HTTP API $${PLATFORM_PRICES.httpApiPerMillion}/M, DynamoDB on-demand $${PLATFORM_PRICES.dynamoReadPerMillion}/M read request units and $${PLATFORM_PRICES.dynamoWritePerMillion}/M write
request units (the prices since AWS's cut of 1 November 2024), point-in-time recovery $${PLATFORM_PRICES.pitrPerGbMonth}/GB-month, storage
$${PLATFORM_PRICES.storagePerGbMonth}/GB-month past ${PLATFORM_PRICES.storageFreeGb} GB, KMS $${PLATFORM_PRICES.kmsPerTenThousand}/10k: check before relying.

Measured (DynamoDB units: the table's as dynalite sizes the items, gsi1's writes counted per bench/ddb-meter.ts):
- a renewal: ${u(perRefresh)} (bench/platform-scale.ts), ${(sPerRefresh * 1000).toFixed(1)} ms of tick invocation time (with ${scale.latencyMs} ms of
  WeChat latency, TICK_CONCURRENCY 16, here); ${refreshesPerDay.toFixed(2)} renewals per authorizer a day (bench/platform-day.ts, by the tick and by reads);
- a self-heal probe: ${u(perProbe)} (bench/platform-scale.ts, over ${pn.toLocaleString('en')} authorizers), ${(sPerProbe * 1000).toFixed(1)} ms; ${DAY_S / 1800} a day per authorizer at 1800 s (${DAY_S / 300} at the default 300 s);
- a tick with nothing due: ${u(perTick)} (${perTick.requests} requests; each due-index query reads a page of up to 100 entries, due or not, so its units grow with the index), ${(sPerInvocation * 1000).toFixed(0)} ms; ${TICKS_PER_DAY} ticks a day; a tick with more than
  TICK_INVOCATION_BUDGET (400) due fans out (${at.map((m, i) => `${sizes[i]!.toLocaleString('en')}: ${m.duePerTick.toFixed(0)} due a tick, ${(m.tickInvocations / (TICKS_PER_DAY * MONTH_DAYS)).toFixed(0)} invocation${m.tickInvocations > TICKS_PER_DAY * MONTH_DAYS ? 's' : ''}`).join('; ')});
- a token read: ${u(perRead)} (its principal row and its token, both consistent reads: at ${READS_PER_AUTHORIZER_PER_MINUTE} read a minute
  per authorizer the 30 s container caches rarely hold them; a read that finds the token due also renews it);
- a ticket push (every 10 minutes): ${u(perTicket)}; an authorization event: ${u(perAuthorization)};
- the table: ${(bytesPerAuthorizer / 1024).toFixed(2)} KB per authorizer (its row, its token's item, its ledger rows, which TTL keeps about three days; +100 bytes an item), stored again in gsi1 (all attributes projected); PITR is billed on the table only.

Assumed: **${READS_PER_AUTHORIZER_PER_MINUTE} token read a minute per authorizer** reaching the hub through API Gateway (services cache
the token between reads), ~${READ_S * 1000} ms billed per read (as above), ~${EVENT_S * 1000} ms per event, ${AUTHORIZATIONS_PER_MONTH * 100} % of the authorizers (re)authorizing
in a month; KMS: ${READ_CONTAINERS} warm read containers decrypting the key list every 60 s, the event function the platform's message
token and EncodingAESKey per push, the tick the component secret per component token. Not included: CloudWatch,
data transfer, forced refreshes, NAT.

| line (per month) | 1,000 authorizers | 10,000 authorizers |
|---|---|---|
${line('renewals', (m) => M(m.refreshes))}
${line('self-heal probes', (m) => M(m.probes))}
${line(`token reads (assumed: ${READS_PER_AUTHORIZER_PER_MINUTE} a minute per authorizer)`, (m) => M(m.reads))}
${line('DynamoDB: renewals', (m) => usd(m.ddbRefresh))}
${line('DynamoDB: self-heal probes', (m) => usd(m.ddbProbe))}
${line('DynamoDB: the ticks\' constant (due-index queries)', (m) => usd(m.ddbTick))}
${line('DynamoDB: token reads', (m) => usd(m.ddbReads))}
${line('DynamoDB: event URL (ticket pushes, authorizations)', (m) => usd(m.ddbEvents))}
${line('Lambda: the tick and its fan-out', (m) => `${usd(m.lambdaTick)} (${M(m.tickInvocations)} invocations)`)}
${line('Lambda: token reads', (m) => usd(m.lambdaReads))}
${line('Lambda: event URL', (m) => `${usd(m.lambdaEvents)} (${M(m.events)} invocations)`)}
${line('API Gateway (token reads and pushes)', (m) => usd(m.api))}
${line('point-in-time recovery', (m) => `${usd(m.pitr)} (${(m.gb * 1024).toFixed(1)} MB)`)}
${line('storage', (m) => usd(m.storage))}
${line('KMS', (m) => usd(m.kms))}
${line('**total**', (m) => `**${usd(m.total)}**`)}

At the default \`SELF_HEAL_INTERVAL=300\` (a probe every tick) the probes cost ${atDefault.map((m) => usd(m.ddbProbe)).join(' and ')} in DynamoDB
(totals ${atDefault.map((m) => usd(m.total)).join(' and ')}); with \`SELF_HEAL=off\`, ${off.map((m) => usd(m.total)).join(' and ')}. As for configured apps, the read rate
dominates: each further read a minute per authorizer adds ${at.map((m) => usd(m.readCost)).join(' and ')}; the hub's own work
(renewals, the tick, the event URL) is ${at.map((m) => usd(m.ddbRefresh + m.ddbTick + m.ddbEvents + m.lambdaTick + m.lambdaEvents)).join(' and ')}.
`;
}
