import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A second, independent stand-in for WeChat's API (api.weixin.qq.com), written from docs/wechat.md
 * alone. It shares no code with lib/simulator (nor with the hub): a bug shared by the hub and its
 * simulator cannot pass a test that runs against this one too. It keeps only what the SDK rotation
 * tests need, and keeps it strict:
 *
 *   GET  /cgi-bin/token?grant_type=client_credential&appid=&secret=   a new token; the previous one
 *                                                                      dies `overlapMs` (5 min) later
 *   GET  /cgi-bin/ticket/getticket?access_token=&type=jsapi           a new jsapi_ticket; it replaces
 *                                                                      the previous one at once
 *   GET  /cgi-bin/getcallbackip?access_token=                          the probe: ip_list or 40001
 *   GET  /cgi-bin/user/info?access_token=&openid=&lang=                ordinary API calls: 40001 for a
 *   GET  /cgi-bin/menu/get?access_token=                               dead token, 42001 for an expired
 *   POST /cgi-bin/message/custom/send?access_token=  {"touser",…}     one, 41001 without one
 *
 * A token is good from its fetch until it expires (`tokenLifeSeconds`) or until `overlapMs` after the
 * next fetch of its app, whichever comes first. A JS-SDK signature is good only when it was made with
 * the latest ticket (conservative: WeChat documents no overlap for tickets). Every request is recorded
 * with its outcome; time is read from the injected `now()` only.
 *
 * Control (for a person running scripts/standin.ts; tests call the methods):
 *   POST /__standin/outside-fetch  {"appid"}   someone with the AppSecret fetches a token outside the hub
 *   GET  /__standin/stats                       fetch counts and rejected calls per app
 */

export interface StandInApp {
  appid: string;
  secret: string;
}

export interface StandInOptions {
  apps: StandInApp[];
  /** Epoch milliseconds; defaults to Date.now (so vitest's fake Date drives it). */
  now?: () => number;
  /** `expires_in` of a new token (WeChat: 7200). */
  tokenLifeSeconds?: number;
  /** `expires_in` of a new ticket (WeChat: 7200). */
  ticketLifeSeconds?: number;
  /** How long the previous token keeps working after a new fetch (WeChat: 5 minutes). */
  overlapMs?: number;
}

export type CallKind = 'token' | 'ticket' | 'probe' | 'api' | 'other';

/** One request as the stand-in saw it. Never holds a secret. */
export interface StandInCall {
  at: number;
  method: string;
  path: string;
  kind: CallKind;
  /** The app whose token (or appid) the request carried, when known. */
  appid?: string;
  /** The access_token it carried (API, ticket and probe calls). */
  token?: string;
  /** 0 when answered successfully. */
  errcode: number;
}

export type SignatureVerdict =
  /** Made with the app's latest, unexpired ticket: wx.config would accept it. */
  | 'latest'
  /** Made with a ticket this stand-in issued earlier and has since replaced: "invalid signature". */
  | 'replaced'
  /** Made with no ticket this stand-in issued (or with an expired one): "invalid signature". */
  | 'unknown';

interface IssuedToken {
  appid: string;
  expiresAt: number;
  /** Set when a newer token of the app was fetched: this one dies then. */
  diesAt?: number;
}

interface AppState extends StandInApp {
  latestToken?: string;
  tickets: { ticket: string; expiresAt: number }[];
  tokenFetches: number;
  outsideFetches: number;
  ticketFetches: number;
}

const TOKEN_INVALID = { errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest' };
const TOKEN_EXPIRED = { errcode: 42001, errmsg: 'access_token expired' };
const TOKEN_MISSING = { errcode: 41001, errmsg: 'access_token missing' };

export class WeChatStandIn {
  readonly #now: () => number;
  readonly #tokenLife: number;
  readonly #ticketLife: number;
  readonly #overlapMs: number;
  readonly #apps = new Map<string, AppState>();
  readonly #tokens = new Map<string, IssuedToken>();
  readonly #calls: StandInCall[] = [];
  #server?: Server;

  constructor(options: StandInOptions) {
    this.#now = options.now ?? (() => Date.now());
    this.#tokenLife = options.tokenLifeSeconds ?? 7200;
    this.#ticketLife = options.ticketLifeSeconds ?? 7200;
    this.#overlapMs = options.overlapMs ?? 5 * 60_000;
    for (const a of options.apps) this.#apps.set(a.appid, { ...a, tickets: [], tokenFetches: 0, outsideFetches: 0, ticketFetches: 0 });
  }

  /** Listen on a free loopback port (or `port`); resolves to the base URL, no trailing slash. */
  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => {
      this.#handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"errcode":-1,"errmsg":"system error"}');
      });
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
    return `http://${host}:${(server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Someone with the AppSecret fetches a token outside the hub (a forgotten cron, a rogue service):
   * the token the hub holds dies `overlapMs` later. Returns the outsider's token.
   */
  outsideFetch(appid: string): string {
    const app = this.#app(appid);
    app.outsideFetches++;
    return this.#issueToken(app);
  }

  /** Whether WeChat accepts this token now. */
  isValid(token: string): boolean {
    return this.#tokenState(token) === 'ok';
  }

  latestToken(appid: string): string | undefined {
    return this.#app(appid).latestToken;
  }

  /** The app's latest ticket, the only one a good signature can be made with. */
  latestTicket(appid: string): string | undefined {
    return this.#app(appid).tickets.at(-1)?.ticket;
  }

  /** Token fetches over /cgi-bin/token (the hub's, and any other caller's), outside fetches, ticket fetches. */
  counts(appid: string): { tokenFetches: number; outsideFetches: number; ticketFetches: number } {
    const { tokenFetches, outsideFetches, ticketFetches } = this.#app(appid);
    return { tokenFetches, outsideFetches, ticketFetches };
  }

  /** Every request so far, oldest first. */
  calls(filter: Partial<Pick<StandInCall, 'kind' | 'appid'>> = {}): StandInCall[] {
    return this.#calls.filter((c) => (filter.kind === undefined || c.kind === filter.kind) && (filter.appid === undefined || c.appid === filter.appid));
  }

  /**
   * What wx.config would make of this signature on `url` (docs/wechat.md §5: sha1 of
   * `jsapi_ticket=…&noncestr=…&timestamp=…&url=…`, the URL without its fragment).
   */
  verifySignature(appid: string, p: { url: string; nonceStr: string; timestamp: number | string; signature: string }): SignatureVerdict {
    const app = this.#app(appid);
    const page = p.url.split('#')[0] ?? '';
    const made = (ticket: string) => createHash('sha1').update(`jsapi_ticket=${ticket}&noncestr=${p.nonceStr}&timestamp=${p.timestamp}&url=${page}`).digest('hex') === p.signature;
    const latest = app.tickets.at(-1);
    if (latest && latest.expiresAt > this.#now() && made(latest.ticket)) return 'latest';
    return app.tickets.slice(0, -1).some((t) => made(t.ticket)) ? 'replaced' : 'unknown';
  }

  /** Fetch counts, and how many calls of each kind were refused, per app (GET /__standin/stats). */
  stats(): Record<string, { tokenFetches: number; outsideFetches: number; ticketFetches: number; rejected: Partial<Record<CallKind, number>> }> {
    const out: ReturnType<WeChatStandIn['stats']> = {};
    for (const appid of this.#apps.keys()) {
      const rejected: Partial<Record<CallKind, number>> = {};
      for (const c of this.calls({ appid })) if (c.errcode !== 0) rejected[c.kind] = (rejected[c.kind] ?? 0) + 1;
      out[appid] = { ...this.counts(appid), rejected };
    }
    return out;
  }

  #app(appid: string): AppState {
    const app = this.#apps.get(appid);
    if (!app) throw new Error(`the stand-in has no app ${appid}`);
    return app;
  }

  #issueToken(app: AppState): string {
    const now = this.#now();
    const previous = app.latestToken === undefined ? undefined : this.#tokens.get(app.latestToken);
    if (previous) previous.diesAt = Math.min(previous.diesAt ?? Infinity, now + this.#overlapMs);
    const token = `SI_${randomBytes(24).toString('base64url')}`;
    this.#tokens.set(token, { appid: app.appid, expiresAt: now + this.#tokenLife * 1000 });
    app.latestToken = token;
    return token;
  }

  #tokenState(token: string | null): 'ok' | 'missing' | 'invalid' | 'expired' {
    if (!token) return 'missing';
    const t = this.#tokens.get(token);
    if (!t) return 'invalid';
    const now = this.#now();
    if (t.diesAt !== undefined && now >= t.diesAt) return 'invalid';
    if (now >= t.expiresAt) return 'expired';
    return 'ok';
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://standin');
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    const q = url.searchParams;
    const send = (status: number, answer: Record<string, unknown>) => {
      res.writeHead(status, { 'content-type': 'application/json; encoding=utf-8' });
      res.end(JSON.stringify(answer));
    };
    const record = (kind: CallKind, answer: Record<string, unknown>, extra: { appid?: string; token?: string } = {}) => {
      this.#calls.push({ at: this.#now(), method, path: url.pathname, kind, ...extra, errcode: typeof answer.errcode === 'number' ? answer.errcode : 0 });
      send(200, answer);
    };

    if (url.pathname === '/__standin/stats' && method === 'GET') return send(200, this.stats());
    if (url.pathname === '/__standin/outside-fetch' && method === 'POST') {
      const appid = parseJson(body).appid;
      if (typeof appid !== 'string' || !this.#apps.has(appid)) return send(404, { error: 'unknown appid' });
      this.outsideFetch(appid);
      return send(200, { ok: true, note: 'the token the hub holds dies in 5 minutes' });
    }

    if (url.pathname === '/cgi-bin/token') {
      const appid = q.get('appid');
      const app = appid ? this.#apps.get(appid) : undefined;
      const answer = (() => {
        if (method !== 'GET') return { errcode: 43001, errmsg: 'require GET method' };
        if (q.get('grant_type') !== 'client_credential') return { errcode: 40002, errmsg: 'invalid grant_type' };
        if (!appid) return { errcode: 41002, errmsg: 'appid missing' };
        if (!app) return { errcode: 40013, errmsg: 'invalid appid' };
        if (!q.get('secret')) return { errcode: 41004, errmsg: 'appsecret missing' };
        if (q.get('secret') !== app.secret) return { errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest' };
        app.tokenFetches++;
        return { access_token: this.#issueToken(app), expires_in: this.#tokenLife };
      })();
      return record('token', answer, app ? { appid: app.appid } : {});
    }

    // Everything else takes a token.
    const token = q.get('access_token');
    const owner = token ? this.#tokens.get(token)?.appid : undefined;
    const state = this.#tokenState(token);
    const refusal = state === 'missing' ? TOKEN_MISSING : state === 'invalid' ? TOKEN_INVALID : state === 'expired' ? TOKEN_EXPIRED : undefined;
    const who = { appid: owner, token: token ?? undefined };

    switch (url.pathname) {
      case '/cgi-bin/ticket/getticket': {
        if (refusal) return record('ticket', refusal, who);
        if (q.get('type') !== 'jsapi') return record('ticket', { errcode: 40097, errmsg: 'invalid args' }, who);
        const app = this.#app(owner!);
        app.ticketFetches++;
        const ticket = { ticket: `SJ_${randomBytes(32).toString('base64url')}`, expiresAt: this.#now() + this.#ticketLife * 1000 };
        app.tickets.push(ticket);
        return record('ticket', { errcode: 0, errmsg: 'ok', ticket: ticket.ticket, expires_in: this.#ticketLife }, who);
      }
      case '/cgi-bin/getcallbackip':
        return record('probe', refusal ?? { ip_list: ['101.226.103.0/25', '101.226.62.0/26'] }, who);
      case '/cgi-bin/user/info': {
        if (refusal) return record('api', refusal, who);
        const openid = q.get('openid');
        if (!openid) return record('api', { errcode: 40003, errmsg: 'invalid openid' }, who);
        return record('api', { subscribe: 1, openid, language: q.get('lang') ?? 'zh_CN', nickname: 'stand-in user', subscribe_time: 1_700_000_000 }, who);
      }
      case '/cgi-bin/menu/get':
        return record('api', refusal ?? { menu: { button: [{ type: 'click', name: 'Hello', key: 'HELLO' }] } }, who);
      case '/cgi-bin/message/custom/send': {
        if (method !== 'POST') return record('api', { errcode: 43002, errmsg: 'require POST method' }, who);
        if (refusal) return record('api', refusal, who);
        const msg = parseJson(body);
        if (typeof msg.touser !== 'string' || typeof msg.msgtype !== 'string') return record('api', { errcode: 47001, errmsg: 'data format error' }, who);
        return record('api', { errcode: 0, errmsg: 'ok' }, who);
      }
      default:
        this.#calls.push({ at: this.#now(), method, path: url.pathname, kind: 'other', ...who, errcode: 404 });
        return send(404, { errcode: 404, errmsg: 'the stand-in does not answer this path' });
    }
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text || '{}') as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
