/**
 * npm run status -- --url <hub URL> --key <admin key> [--json]
 * The hub's state as a table: every app and credential, seconds left, age, version, what refreshed
 * it, failures and the last error, blocks; then the quota ledger. Failing and blocked rows are marked.
 */
import { commandOptions } from './cli.js';

// `npm run status | head`: the reader may leave before the table is written. That is no error:
// stop quietly, as a command in a pipeline does, instead of dying with an EPIPE stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const USAGE = 'usage: npm run status -- --url <hub URL> --key <API key with the admin scope> [--json]';

const values = commandOptions('status', USAGE, { url: { type: 'string' }, key: { type: 'string' }, json: { type: 'boolean' } });
const url = values.url ?? process.env.HUB_URL;
const key = values.key ?? process.env.HUB_ADMIN_KEY;
if (!url || !key) {
  console.error(`npm run status: --url and --key are required (or HUB_URL and HUB_ADMIN_KEY)\n${USAGE}`);
  process.exit(2);
}

interface Credential {
  kind: string;
  state: string;
  secondsLeft?: number;
  ageSeconds?: number;
  version: number;
  refreshedBy?: string;
  failures: number;
  lastError?: { code: string; at: string };
  blockedUntil?: string;
  backoffUntil?: string;
}
interface Quota {
  scope: string;
  api: string;
  period: string;
  used: number;
  forced: number;
  limit?: number;
  percent?: number;
}
interface LastBase {
  lastBase: string | null;
  since: string | null;
}
interface Status {
  generatedAt: string;
  upstream?: { scope: string; wechat: LastBase; wecom: LastBase };
  apps: { app: string; type: string; credentials: Credential[]; quota: Quota[]; platform?: PlatformSection }[];
}
/** A third-party platform's section (lib/platform/platform-status.ts). */
interface PlatformSection {
  ticket: { state: string; ageSeconds?: number; secondsLeft?: number };
  componentToken: { state: string; secondsLeft?: number };
  authorizers: { fresh: number; failing: number; needs_reauthorization: number; revoked: number; counted: number; complete: boolean };
}

// /v1/status pages its apps (100 a page): follow `next` to the end.
let body: Status & { next?: string; error?: { code: string; message: string } } = { generatedAt: '', apps: [] };
for (let cursor: string | undefined, first = true; first || cursor; first = false) {
  let res: Response;
  try {
    res = await fetch(`${url.replace(/\/+$/, '')}/v1/status${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`, { headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(10_000) });
  } catch {
    console.error(`npm run status: the hub at ${url} could not be reached`);
    process.exit(1);
  }
  const page = (await res.json().catch(() => ({}))) as typeof body;
  if (!res.ok) {
    console.error(`npm run status: ${res.status} ${page.error?.code ?? ''}: ${page.error?.message ?? 'the hub refused'}`);
    process.exit(1);
  }
  body = first ? page : { ...page, apps: [...body.apps, ...page.apps] };
  cursor = page.next;
}
if (values.json) {
  console.log(JSON.stringify(body, null, 2));
  process.exit(0);
}

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
const duration = (s?: number) => (s === undefined ? '-' : s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`);
const time = (iso?: string) => (iso ? iso.slice(11, 19) : '');
const BAD = new Set(['failing', 'blocked', 'backoff', 'expired', 'missing']);

function table(header: string[], rows: string[][], mark: boolean[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(paint(1, `  ${line(header)}`));
  rows.forEach((r, i) => console.log(mark[i] ? paint(31, `! ${line(r)}`) : `  ${line(r)}`));
}

console.log(`wechat-token-hub at ${url}, ${body.generatedAt}`);
if (body.upstream) {
  const base = (b: LastBase) => (b.lastBase ? `${b.lastBase} (since ${time(b.since ?? undefined)})` : 'not called yet');
  console.log(`API base that answered last (${body.upstream.scope}): wechat ${base(body.upstream.wechat)}, wecom ${base(body.upstream.wecom)}`);
}
console.log('');
const creds = body.apps.flatMap((a) => a.credentials.map((c) => ({ app: a.app, c })));
table(
  ['APP', 'KIND', 'STATE', 'LEFT', 'AGE', 'VER', 'BY', 'FAIL', 'LAST ERROR', 'BLOCKED/BACKOFF UNTIL'],
  creds.map(({ app, c }) => [
    app,
    c.kind,
    c.state,
    duration(c.secondsLeft),
    duration(c.ageSeconds),
    String(c.version),
    c.refreshedBy ?? '-',
    String(c.failures),
    c.lastError ? `${c.lastError.code} at ${time(c.lastError.at)}` : '-',
    c.blockedUntil ?? c.backoffUntil ?? '-',
  ]),
  creds.map(({ c }) => BAD.has(c.state)),
);
console.log('');
const quota = body.apps.flatMap((a) => a.quota);
table(
  ['QUOTA OF', 'API', 'PERIOD', 'USED', 'FORCED', 'LIMIT', '%'],
  quota.map((q) => [q.scope, q.api, q.period === 'hour' ? 'last 2 hours' : 'today', String(q.used), String(q.forced), q.limit === undefined ? '-' : String(q.limit), q.percent === undefined ? '-' : `${q.percent}%`]),
  quota.map((q) => (q.percent ?? 0) >= 80),
);
const platforms = body.apps.filter((a) => a.platform).map((a) => ({ app: a.app, p: a.platform! }));
if (platforms.length) {
  console.log('');
  table(
    ['PLATFORM', 'TICKET', 'TICKET AGE', 'COMPONENT TOKEN', 'LEFT', 'AUTHORIZERS', 'FRESH', 'FAILING', 'NEEDS RE-AUTH', 'REVOKED'],
    platforms.map(({ app, p }) => [
      app,
      p.ticket.state,
      duration(p.ticket.ageSeconds),
      p.componentToken.state,
      duration(p.componentToken.secondsLeft),
      `${p.authorizers.counted}${p.authorizers.complete ? '' : '+'}`,
      String(p.authorizers.fresh),
      String(p.authorizers.failing),
      String(p.authorizers.needs_reauthorization),
      String(p.authorizers.revoked),
    ]),
    // The alarms' conditions: a ticket over an hour old, an authorizer to authorize again.
    platforms.map(({ p }) => p.ticket.state !== 'ok' || (p.ticket.ageSeconds ?? 0) > 3600 || p.authorizers.needs_reauthorization > 0 || p.authorizers.failing > 0),
  );
}
const bad = creds.filter(({ c }) => BAD.has(c.state)).length;
console.log(`\n${creds.length} credentials, ${bad} need attention${bad ? ' (marked !)' : ''}`);
