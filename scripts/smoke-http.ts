/**
 * The smoke test's HTTP part (npm run smoke): every route of a deployed hub answers as the README
 * documents, without the hub ever calling WeChat for it. Each request is one the hub refuses after
 * authenticating the key and before any upstream call (a query string where none is allowed, a
 * ticket type that does not exist, a credential API the proxy never forwards, an unknown appid), so
 * it reaches the route's own Lambda function, which loads its configuration and reads the key
 * list from SSM, and no token is fetched. The status view (scope admin) then shows whether the
 * tick has refreshed each app's token, and why not.
 */
export interface Result {
  status: 'ok' | 'fail' | 'skip';
  what: string;
  detail?: string;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json?: any;
}

/** What WeChat's refusals in the status view mean for a new deployment (docs/wechat.md §3, §6, §8). */
const HINTS: Record<string, string> = {
  '40164': 'the IP is not on the Official Account\'s IP whitelist: deploy with --param=egress=create and whitelist output EgressIp (README, Fixed egress IP)',
  '60020': 'the IP is not on the WeCom app\'s trusted IPs: deploy with --param=egress=create and add output EgressIp (README, Fixed egress IP)',
  '61004': 'the IP is not whitelisted: deploy with --param=egress=create and whitelist output EgressIp',
  '40013': 'the appid (or corpid) is wrong',
  '40125': 'the AppSecret in SSM is wrong',
  '40001': 'the secret in SSM is wrong',
  '40091': 'the WeCom secret in SSM is wrong',
  '89503': 'WeChat asks an administrator to confirm this IP in the console',
  '89501': 'WeChat waits for an administrator to confirm this IP in the console',
};

export async function httpChecks(base: string, key: string, timeoutMs = 15_000): Promise<Result[]> {
  const url = base.replace(/\/+$/, '');
  const results: Result[] = [];
  const record = (ok: boolean, what: string, detail?: string) => results.push({ status: ok ? 'ok' : 'fail', what, detail });
  const call = async (method: string, path: string, opts: { key?: string; body?: unknown } = {}): Promise<Answer> => {
    const headers: Record<string, string> = {};
    if (opts.key) headers.authorization = `Bearer ${opts.key}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    try {
      const res = await fetch(`${url}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), signal: AbortSignal.timeout(timeoutMs) });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        /* not JSON: the checks below say so */
      }
      return { status: res.status, headers: res.headers, text, json };
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
      return { status: 0, headers: new Headers(), text: `no answer: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}${cause ? ` (${cause.code ?? cause.message})` : ''}` };
    }
  };
  const said = (a: Answer) => (a.status === 0 ? a.text : `answered ${a.status} ${a.text.slice(0, 200)}`);
  const hubHeaders = (a: Answer) => a.headers.get('cache-control') === 'no-store' && a.headers.get('x-content-type-options') === 'nosniff';
  /** A documented refusal: one of the statuses and codes, in the hub's error shape and headers. */
  const refused = async (method: string, path: string, expected: [number, string][], opts: { key?: string; body?: unknown } = {}) => {
    const a = await call(method, path, opts);
    const code = a.json?.error?.code;
    const hit = expected.find(([s, c]) => s === a.status && c === code);
    record(hit !== undefined && typeof a.json?.error?.message === 'string' && hubHeaders(a), `${method} ${path.replace(/\?.*/, '')}: ${hit ? `${hit[0]} ${hit[1]}` : `one of ${expected.map(([s, c]) => `${s} ${c}`).join(', ')}`}`, hit ? undefined : said(a));
  };
  /** A WeChat-compatible path: HTTP 200 with WeChat's {"errcode","errmsg"}. */
  const wechatStyle = async (method: string, path: string, errcodes: number[], body?: unknown) => {
    const a = await call(method, path, { body });
    const ok = a.status === 200 && errcodes.includes(a.json?.errcode) && typeof a.json?.errmsg === 'string' && hubHeaders(a);
    record(ok, `${method} ${path.replace(/\?.*/, '')}: errcode ${errcodes.join(' or ')}, WeChat's way`, ok ? undefined : said(a));
  };

  const health = await call('GET', '/v1/health');
  record(health.status === 200 && health.text === '{"status":"ok"}' && hubHeaders(health), 'GET /v1/health: 200 {"status":"ok"} without a key', health.status === 200 ? undefined : said(health));
  if (health.status === 0) return results; // nothing answers at that URL: the rest would say the same

  await refused('GET', '/v1/status', [[401, 'unauthorized']]);
  const status = await call('GET', '/v1/status', { key });
  const apps: { app: string; type: string; credentials: { kind: string; state: string; refreshedAt?: string; refreshedBy?: string; lastError?: { code: string; message: string } }[] }[] = status.json?.apps ?? [];
  const statusOk = status.status === 200 && Array.isArray(status.json?.apps) && typeof status.json?.generatedAt === 'string' && hubHeaders(status);
  record(statusOk, `GET /v1/status: 200 with the apps the key may see (${apps.length})`, statusOk ? undefined : `${said(status)}${status.status === 403 ? ' (the smoke test needs a key with the admin scope: npm run key -- --apps "*" --scopes admin)' : ''}`);

  // A real app when there is one: its route functions then also load the app. Any key answer is
  // documented: 403 forbidden (the key lacks the scope) or the refusal past the scope check.
  const app = apps[0]?.app ?? 'smoke-no-such-app';
  const scoped = (code: [number, string]): [number, string][] => [[403, 'forbidden'], code, ...(apps.length ? [] : [[404, 'unknown_app'] as [number, string]])];
  await refused('GET', `/v1/status/smoke-no-such-app/quota`, [[404, 'unknown_app'], [403, 'forbidden']], { key });
  await refused('GET', `/v1/apps/${app}/access-token?smoke=1`, [[401, 'unauthorized']]);
  await refused('GET', `/v1/apps/${app}/access-token?smoke=1`, scoped([400, 'unexpected_query']), { key });
  await refused('POST', `/v1/apps/${app}/access-token/refresh?smoke=1`, scoped([400, 'unexpected_query']), { key, body: { stale_token: 'smoke' } });
  await refused('GET', `/v1/apps/${app}/tickets/smoke`, scoped([404, 'unknown_ticket_type']), { key });
  await refused('POST', `/v1/apps/${app}/tickets/smoke/refresh`, scoped([404, 'unknown_ticket_type']), { key, body: { stale_ticket: 'smoke' } });
  await refused('POST', `/v1/apps/${app}/jsapi-signature?smoke=1`, scoped([400, 'unexpected_query']), { key, body: { url: 'https://example.com/' } });
  await refused('GET', `/v1/apps/${app}/wechat/cgi-bin/token`, scoped([403, 'path_not_allowed']), { key });
  // The WeChat-compatible paths, with an appid and a token no app has: refused before any upstream call.
  await wechatStyle('GET', '/cgi-bin/token?grant_type=client_credential&appid=wx_smoke_no_such_app&secret=smoke', [40013]);
  await wechatStyle('POST', '/cgi-bin/stable_token', [40013], { grant_type: 'client_credential', appid: 'wx_smoke_no_such_app', secret: 'smoke' });
  await wechatStyle('GET', '/cgi-bin/ticket/getticket?type=jsapi&access_token=smoke_not_a_token', [40001, 40014]);
  await wechatStyle('GET', '/cgi-bin/gettoken?corpid=ww_smoke_no_such_corp&corpsecret=smoke', [40013]);
  await wechatStyle('GET', '/cgi-bin/get_jsapi_ticket?access_token=smoke_not_a_token', [40001, 40014]);
  await wechatStyle('GET', '/cgi-bin/ticket/get?type=agent_config&access_token=smoke_not_a_token', [40001, 40014]);
  await wechatStyle('GET', '/cgi-bin/smoke-check', [41001]);
  await refused('GET', '/smoke-no-such-route', [[404, 'route_not_found']]);

  // The tick: every app's token refreshed (it runs every 5 minutes), and if not, what WeChat said.
  if (!statusOk) results.push({ status: 'skip', what: 'the tick refreshed every app\'s access_token', detail: 'needs the status view (an admin key)' });
  else if (apps.length === 0) results.push({ status: 'skip', what: 'the tick refreshed every app\'s access_token', detail: 'no apps configured yet (README, Apps in SSM)' });
  else {
    for (const a of apps) {
      const token = a.credentials.find((c) => c.kind === 'access_token');
      const good = token !== undefined && (token.state === 'ok' || token.state === 'failing') && token.refreshedAt !== undefined;
      const errcode = token?.lastError?.code.split(':')[1] ?? '';
      const why = token?.lastError ? `${token.state}: ${token.lastError.code} ${token.lastError.message}${HINTS[errcode] ? ` (${HINTS[errcode]})` : ''}` : `${token?.state ?? 'no access_token'}: the tick has not refreshed it yet (it runs every 5 minutes: wait and run again)`;
      record(good, `app ${a.app}: access_token ${good ? `${token!.state}, refreshed at ${token!.refreshedAt} by ${token!.refreshedBy ?? '?'}` : 'refreshed'}`, good && !token!.lastError ? undefined : why);
    }
  }
  return results;
}
