import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A stand-in for WeChat's token APIs (api.weixin.qq.com), for tests and `npm start`.
 * It shares no code with the hub's WeChat client on purpose: a shared bug would pass every test.
 *
 *   GET  /cgi-bin/token?grant_type=client_credential&appid=&secret=
 *   POST /cgi-bin/stable_token  {"grant_type","appid","secret","force_refresh"}
 *   GET  /cgi-bin/getcallbackip?access_token=
 *   POST /__sim/fail  {"appid"?, "errcode"? | "mode": "hang"|"reset", "times"?}   (control)
 *   GET  /__sim/stats                                                            (control)
 */

export interface SimulatedApp {
  appid: string;
  secret: string;
  /** /cgi-bin/token calls a day before 45009 (WeChat: 2000 for an Official Account). */
  dailyQuota?: number;
}

export type SimulatedFault =
  | { kind: 'errcode'; errcode: number; errmsg?: string }
  | { kind: 'hang' }
  | { kind: 'reset' };

export type SimulatedEndpoint = 'token' | 'stable_token' | 'getcallbackip';

export interface SimulatorOptions {
  /** The simulator's clock (epoch ms); tests pass a virtual one. */
  now?: () => number;
  apps?: SimulatedApp[];
  /** expires_in of a new token, seconds. */
  tokenTtlSeconds?: number;
  /** How long the previous token stays valid after a new fetch. */
  overlapMs?: number;
  dailyQuota?: number;
  stableDailyQuota?: number;
}

interface Issued {
  token: string;
  expiresAt: number;
}

interface TokenState {
  current?: Issued;
  previous?: Issued;
}

interface AppState {
  app: SimulatedApp;
  classic: TokenState;
  stable: TokenState;
  lastStableForceAt?: number;
  /** `${day}:${endpoint}` → calls. */
  counts: Map<string, number>;
}

interface PendingFault {
  appid: string | '*';
  endpoints: SimulatedEndpoint[];
  fault: SimulatedFault;
  remaining: number;
}

const ERRMSG: Record<number, string> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40013: 'invalid appid',
  40125: 'invalid appsecret',
  40164: 'invalid ip 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in whitelist rid: 0000',
  41001: 'access_token missing',
  41002: 'appid missing',
  41004: 'appsecret missing',
  42001: 'access_token expired',
  43002: 'require POST method',
  45009: 'reach max api daily quota limit',
  45011: 'api minute-quota reach limit mustslower retry next minute',
  47001: 'data format error',
};

const OVERLAP_MS = 5 * 60_000;
const STABLE_FORCE_SPACING_MS = 30_000;
const STABLE_FORCE_DAILY = 20;

export class WeChatSimulator {
  readonly #now: () => number;
  readonly #apps = new Map<string, AppState>();
  readonly #ttl: number;
  readonly #overlap: number;
  readonly #quota: number;
  readonly #stableQuota: number;
  readonly #faults: PendingFault[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #issued: string[] = [];
  #server?: Server;

  constructor(options: SimulatorOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#ttl = options.tokenTtlSeconds ?? 7200;
    this.#overlap = options.overlapMs ?? OVERLAP_MS;
    this.#quota = options.dailyQuota ?? 2000;
    this.#stableQuota = options.stableDailyQuota ?? 500_000;
    for (const app of options.apps ?? []) this.addApp(app);
  }

  addApp(app: SimulatedApp): void {
    this.#apps.set(app.appid, { app, classic: {}, stable: {}, counts: new Map() });
  }

  /** Change an app's secret, as an administrator resetting the AppSecret would. */
  setSecret(appid: string, secret: string): void {
    this.#state(appid).app.secret = secret;
  }

  /**
   * Make every token of an app invalid at once, as WeChat does when the AppSecret is reset or
   * another party fetched tokens for the same app: the hub's token is then truly stale.
   */
  revokeTokens(appid: string): void {
    const s = this.#state(appid);
    s.classic = {};
    s.stable = {};
  }

  /** Every token this simulator has issued, for tests that check none of them leaks. */
  issuedTokens(): readonly string[] {
    return this.#issued;
  }

  /** Answer the next `times` calls (of an app, or any) with this fault instead. */
  failNext(fault: SimulatedFault, times = 1, appid: string | '*' = '*', endpoints: SimulatedEndpoint[] = ['token', 'stable_token']): void {
    this.#faults.push({ appid, endpoints, fault, remaining: times });
  }

  clearFaults(): void {
    this.#faults.length = 0;
  }

  /** Calls of an endpoint by an app on the current day (China time), failed ones included. */
  calls(appid: string, endpoint: SimulatedEndpoint | 'stable_token_force' = 'token'): number {
    return this.#state(appid).counts.get(`${this.#day()}:${endpoint}`) ?? 0;
  }

  /** The token WeChat would accept right now as the latest, if any. */
  currentToken(appid: string, api: 'classic' | 'stable' = 'classic'): string | undefined {
    const s = this.#state(appid)[api].current;
    return s && s.expiresAt > this.#now() ? s.token : undefined;
  }

  isValid(token: string): boolean {
    return [...this.#apps.values()].some((s) => this.#validIn(s.classic, token) || this.#validIn(s.stable, token));
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => {
      this.#handle(req, res).catch(() => {
        if (!res.headersSent) this.#json(res, { errcode: -1, errmsg: 'system error' });
      });
    });
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    this.#server = server;
    await new Promise<void>((resolve) => server.listen(port, host, resolve));
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('simulator has no address');
    return `http://${host}:${addr.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const body = await readBody(req);
    switch (url.pathname) {
      case '/cgi-bin/token':
        return this.#classic(req, res, url);
      case '/cgi-bin/stable_token':
        return this.#stableToken(req, res, body);
      case '/cgi-bin/getcallbackip':
        return this.#callbackIp(res, url);
      case '/__sim/fail':
        return this.#control(res, body);
      case '/__sim/stats':
        return this.#json(res, this.#stats());
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  }

  #classic(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const appid = url.searchParams.get('appid');
    const secret = url.searchParams.get('secret');
    const state = appid ? this.#apps.get(appid) : undefined;
    if (state) this.#count(state, 'token');
    if (this.#injected(res, appid, 'token')) return;
    if (req.method !== 'GET') return this.#error(res, 43002 - 1); // 43001: require GET method
    if (url.searchParams.get('grant_type') !== 'client_credential') return this.#error(res, 40002);
    if (!appid) return this.#error(res, 41002);
    if (!secret) return this.#error(res, 41004);
    if (!state) return this.#error(res, 40013);
    if (secret !== state.app.secret) return this.#error(res, 40001);
    if (this.calls(appid, 'token') > (state.app.dailyQuota ?? this.#quota)) return this.#error(res, 45009);
    const issued = this.#rotate(state.classic);
    this.#json(res, { access_token: issued.token, expires_in: Math.round((issued.expiresAt - this.#now()) / 1000) });
  }

  #stableToken(req: IncomingMessage, res: ServerResponse, raw: string): void {
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(raw || '{}') as Record<string, unknown>;
    } catch {
      return this.#error(res, 47001);
    }
    const appid = typeof body.appid === 'string' ? body.appid : undefined;
    const state = appid ? this.#apps.get(appid) : undefined;
    if (state) this.#count(state, 'stable_token');
    if (this.#injected(res, appid ?? null, 'stable_token')) return;
    if (req.method !== 'POST') return this.#error(res, 43002);
    if (body.grant_type !== 'client_credential') return this.#error(res, 40002);
    if (!appid) return this.#error(res, 41002);
    if (typeof body.secret !== 'string' || !body.secret) return this.#error(res, 41004);
    if (!state) return this.#error(res, 40013);
    if (body.secret !== state.app.secret) return this.#error(res, 40125);
    if (this.calls(appid, 'stable_token') > this.#stableQuota) return this.#error(res, 45009);
    const now = this.#now();
    const cur = state.stable.current;
    let issued: Issued;
    if (body.force_refresh === true) {
      this.#count(state, 'stable_token_force');
      if (this.calls(appid, 'stable_token_force') > STABLE_FORCE_DAILY) return this.#error(res, 45009);
      const spaced = state.lastStableForceAt === undefined || now - state.lastStableForceAt >= STABLE_FORCE_SPACING_MS;
      // Within 30 s of the last force "no refresh happens": the current token comes back.
      issued = spaced || !cur || cur.expiresAt <= now ? this.#rotate(state.stable) : cur;
      if (spaced) state.lastStableForceAt = now;
    } else {
      // Normal mode: the same token until its last 5 minutes, then a new one.
      issued = cur && cur.expiresAt - now > OVERLAP_MS ? cur : this.#rotate(state.stable);
    }
    this.#json(res, { access_token: issued.token, expires_in: Math.round((issued.expiresAt - now) / 1000) });
  }

  #callbackIp(res: ServerResponse, url: URL): void {
    const token = url.searchParams.get('access_token');
    const owner = token ? [...this.#apps.values()].find((s) => s.classic.current?.token === token || s.classic.previous?.token === token || s.stable.current?.token === token || s.stable.previous?.token === token) : undefined;
    if (owner) this.#count(owner, 'getcallbackip');
    if (this.#injected(res, owner?.app.appid ?? null, 'getcallbackip')) return;
    if (!token) return this.#error(res, 41001);
    if (this.isValid(token)) return this.#json(res, { ip_list: ['101.226.103.0/25', '101.226.62.0/26'] });
    if (owner) return this.#error(res, 42001);
    return this.#error(res, 40001);
  }

  #control(res: ServerResponse, raw: string): void {
    try {
      const b = JSON.parse(raw) as { appid?: string; errcode?: number; mode?: 'hang' | 'reset'; times?: number; endpoints?: SimulatedEndpoint[] };
      const fault: SimulatedFault = b.mode ? { kind: b.mode } : { kind: 'errcode', errcode: Number(b.errcode ?? -1) };
      this.failNext(fault, b.times ?? 1, b.appid ?? '*', b.endpoints);
      this.#json(res, { errcode: 0, errmsg: 'ok' });
    } catch {
      this.#error(res, 47001);
    }
  }

  #stats(): Record<string, Record<string, number>> {
    const day = this.#day();
    const out: Record<string, Record<string, number>> = {};
    for (const [appid, s] of this.#apps) {
      out[appid] = {};
      for (const [k, v] of s.counts) if (k.startsWith(`${day}:`)) out[appid][k.slice(day.length + 1)] = v;
    }
    return out;
  }

  /** Apply a pending fault; true when the answer has been taken care of. */
  #injected(res: ServerResponse, appid: string | null, endpoint: SimulatedEndpoint): boolean {
    const i = this.#faults.findIndex((f) => f.remaining > 0 && f.endpoints.includes(endpoint) && (f.appid === '*' || f.appid === appid));
    if (i < 0) return false;
    const pending = this.#faults[i]!;
    if (--pending.remaining === 0) this.#faults.splice(i, 1);
    const { fault } = pending;
    if (fault.kind === 'hang') return true; // never answer; the client's timeout must fire
    if (fault.kind === 'reset') {
      res.socket?.destroy();
      return true;
    }
    this.#json(res, { errcode: fault.errcode, errmsg: fault.errmsg ?? ERRMSG[fault.errcode] ?? 'error' });
    return true;
  }

  #rotate(s: TokenState): Issued {
    const now = this.#now();
    if (s.current && s.current.expiresAt > now) {
      s.previous = { token: s.current.token, expiresAt: Math.min(s.current.expiresAt, now + this.#overlap) };
    } else {
      s.previous = undefined;
    }
    s.current = { token: newToken(), expiresAt: now + this.#ttl * 1000 };
    this.#issued.push(s.current.token);
    return s.current;
  }

  #validIn(s: TokenState, token: string): boolean {
    const now = this.#now();
    return (s.current?.token === token && s.current.expiresAt > now) || (s.previous?.token === token && s.previous.expiresAt > now);
  }

  #count(state: AppState, endpoint: string): void {
    const key = `${this.#day()}:${endpoint}`;
    state.counts.set(key, (state.counts.get(key) ?? 0) + 1);
  }

  #day(): string {
    return new Date(this.#now() + 8 * 3_600_000).toISOString().slice(0, 10);
  }

  #state(appid: string): AppState {
    const s = this.#apps.get(appid);
    if (!s) throw new Error(`simulator has no app ${appid}`);
    return s;
  }

  #error(res: ServerResponse, errcode: number): void {
    this.#json(res, { errcode, errmsg: ERRMSG[errcode] ?? (errcode === 43001 ? 'require GET method' : 'error') });
  }

  #json(res: ServerResponse, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(200, { 'content-type': 'application/json; encoding=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
  }
}

function newToken(): string {
  // Shaped like WeChat's: a numeric prefix, then URL-safe characters; well under 512.
  return `${90 + Math.floor(Math.random() * 9)}_${randomBytes(96).toString('base64url')}`;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 65_536) break;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
