import { randomBytes } from 'node:crypto';
import { Credential, newWeChatToken, type Issued } from './issuer.js';
import { encryptedPush, eventXml } from './msg-crypt.js';
import type { SimState, WeChatRecord } from './state.js';
import type { SimulatedAuthorization, SimulatedPlatform, SimulatedPush } from './types.js';

/**
 * WeChat third-party platforms (开放平台第三方平台, "components"; docs/wechat.md §10): their verify
 * tickets, component tokens, pre-auth and authorization codes, the accounts that authorized them and
 * the encrypted events pushed to their event URL. The routes are in platform-api.ts.
 */

export const TICKET_LIFE_MS = 12 * 3_600_000;
export const PRE_AUTH_LIFE_S = 1800;
export const AUTH_CODE_LIFE_S = 600;
/** WeChat pushes a ticket every 10 minutes. */
export const TICKET_PUSH_INTERVAL_MS = 10 * 60_000;
const PUSH_TIMEOUT_MS = 5000;
const DEFAULT_FUNCS = [1, 15, 4, 7, 2, 3, 11, 6, 5, 8, 9, 10, 12, 13, 14, 16];

/** An account that authorized a platform. */
export interface Authorizer {
  appid: string;
  refreshToken: string;
  /** When it (last) authorized, epoch seconds. */
  authTime: number;
  funcs: number[];
  /** Its access tokens got by this platform (the same object as in its WeChatRecord's `authorizer`). */
  tokens: Credential;
  /** WeChat refuses its refresh token (61023) though the list still shows it: only a new authorization helps. */
  broken?: boolean;
}

export interface PlatformRecord {
  platform: SimulatedPlatform;
  counts: Map<string, number>;
  /** The latest pushed ticket first, then the previous one: only these two are accepted. */
  tickets: { value: string; issuedAt: number }[];
  tokens: Credential;
  eventUrl?: string;
  pushes: SimulatedPush[];
  preAuthCodes: Map<string, number>;
  /** authorization code → the authorizer, its expiry, and whether it was used. */
  codes: Map<string, { authorizer: string; expiresAt: number; used: boolean }>;
  authorizers: Map<string, Authorizer>;
}

export class SimPlatforms {
  readonly platforms = new Map<string, PlatformRecord>();
  /** Every verify ticket, pre-auth code, authorization code and refresh token issued (tokens go to SimState.issuedTokens). */
  readonly issued: string[] = [];
  readonly #inFlight = new Set<Promise<SimulatedPush>>();
  #timer?: ReturnType<typeof setInterval>;

  constructor(readonly sim: SimState) {}

  add(platform: SimulatedPlatform): void {
    this.platforms.set(platform.appid, {
      platform: { ...platform },
      counts: new Map(),
      tickets: [],
      tokens: new Credential(),
      pushes: [],
      preAuthCodes: new Map(),
      codes: new Map(),
      authorizers: new Map(),
    });
  }

  record(appid: string): PlatformRecord {
    const p = this.platforms.get(appid);
    if (!p) throw new Error(`simulator has no platform ${appid}`);
    return p;
  }

  /** Today's calls per platform and endpoint, for /__sim/stats. */
  stats(): Record<string, Record<string, number>> {
    const day = this.sim.day();
    const out: Record<string, Record<string, number>> = {};
    for (const [id, p] of this.platforms) {
      out[id] = Object.fromEntries([...p.counts].filter(([k]) => k.startsWith(`${day}:`)).map(([k, v]) => [k.slice(day.length + 1), v]));
    }
    return out;
  }

  /** The platform whose latest or previous component token this is, valid or not. */
  tokenOwner(token: string): PlatformRecord | undefined {
    return [...this.platforms.values()].find((p) => p.tokens.holds(token));
  }

  issueComponentToken(p: PlatformRecord): Issued {
    const issued = p.tokens.issue(newWeChatToken(), this.sim.now(), this.sim.settings.tokenTtlMs, this.sim.settings.overlapMs);
    this.sim.issuedTokens.push(issued.value);
    return issued;
  }

  issuePreAuthCode(p: PlatformRecord): string {
    const code = this.#remember(`preauthcode@@@${randomBytes(48).toString('base64url')}`);
    p.preAuthCodes.set(code, this.sim.now() + PRE_AUTH_LIFE_S * 1000);
    return code;
  }

  /** A new authorizer access token; the previous one stays valid for the overlap. */
  issueAuthorizerToken(a: Authorizer): Issued {
    return this.sim.issueToken(this.sim.record(a.appid), a.tokens, newWeChatToken(), this.sim.settings.overlapMs);
  }

  /**
   * The refresh token api_authorizer_token answers: with `rotateRefreshTokens`, a new one, which
   * replaces the one sent (that one then answers 61023); without, the same one.
   */
  answeredRefreshToken(p: PlatformRecord, a: Authorizer): string {
    if (p.platform.rotateRefreshTokens) a.refreshToken = this.#remember(`refreshtoken@@@${randomBytes(32).toString('base64url')}`);
    return a.refreshToken;
  }

  /** A new ticket (the previous one stays accepted), POSTed to the event URL. */
  pushTicket(appid: string): Promise<SimulatedPush & { ticket: string }> {
    const p = this.record(appid);
    const ticket = this.#remember(`ticket@@@${randomBytes(48).toString('base64url')}`);
    p.tickets = [{ value: ticket, issuedAt: this.sim.now() }, ...p.tickets].slice(0, 2);
    return this.#push(p, 'component_verify_ticket', { ComponentVerifyTicket: ticket }).then((push) => ({ ...push, ticket }));
  }

  /**
   * An account authorizes the platform (again: `updateauthorized`, and a new refresh token replaces the
   * old one, whose access tokens then live at most the overlap). Pushes the event; returns the code.
   */
  async authorize(appid: string, authorizerAppid: string, o: SimulatedAuthorization = {}) {
    const p = this.record(appid);
    const now = this.sim.now();
    const account = this.#account(authorizerAppid);
    let tokens = account.authorizer.get(appid);
    if (!tokens) account.authorizer.set(appid, (tokens = new Credential()));
    const again = p.authorizers.has(authorizerAppid);
    if (again) tokens.expireBy(now + this.sim.settings.overlapMs);
    const funcs = o.funcs ?? p.authorizers.get(authorizerAppid)?.funcs ?? DEFAULT_FUNCS;
    const refreshToken = this.#remember(`refreshtoken@@@${randomBytes(32).toString('base64url')}`);
    p.authorizers.set(authorizerAppid, { appid: authorizerAppid, refreshToken, authTime: Math.floor(now / 1000), funcs: [...funcs], tokens });
    const code = this.#remember(`queryauthcode@@@${randomBytes(48).toString('base64url')}`);
    p.codes.set(code, { authorizer: authorizerAppid, expiresAt: now + AUTH_CODE_LIFE_S * 1000, used: false });
    const preAuthCode = o.preAuthCode ?? this.#latestPreAuthCode(p) ?? this.issuePreAuthCode(p);
    const push = await this.#push(p, again ? 'updateauthorized' : 'authorized', {
      AuthorizerAppid: authorizerAppid,
      AuthorizationCode: code,
      AuthorizationCodeExpiredTime: Math.floor(now / 1000) + AUTH_CODE_LIFE_S,
      PreAuthCode: preAuthCode,
    });
    const redirectUrl = o.redirectUri ? `${o.redirectUri}${o.redirectUri.includes('?') ? '&' : '?'}auth_code=${encodeURIComponent(code)}&expires_in=${AUTH_CODE_LIFE_S}` : undefined;
    return { code, expiresIn: AUTH_CODE_LIFE_S, refreshToken, push, ...(redirectUrl ? { redirectUrl } : {}) };
  }

  /** The account withdraws its authorization: its refresh token and the platform's tokens for it are dead. */
  async unauthorize(appid: string, authorizerAppid: string): Promise<SimulatedPush> {
    const p = this.record(appid);
    const a = p.authorizers.get(authorizerAppid);
    if (!a) throw new Error(`${authorizerAppid} has not authorized platform ${appid}`);
    a.tokens.revoke();
    p.authorizers.delete(authorizerAppid);
    for (const [code, c] of p.codes) if (c.authorizer === authorizerAppid) p.codes.delete(code);
    return this.#push(p, 'unauthorized', { AuthorizerAppid: authorizerAppid });
  }

  /** Push a ticket to every platform every `intervalMs` (real time: for `npm start`; tests call pushTicket). */
  startTicketTimer(intervalMs = TICKET_PUSH_INTERVAL_MS): void {
    this.stopTicketTimer();
    this.#timer = setInterval(() => {
      for (const appid of this.platforms.keys()) void this.pushTicket(appid);
    }, intervalMs);
    this.#timer.unref();
  }

  stopTicketTimer(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Wait for every push under way (those api_start_push_ticket and the timer started). */
  async settled(): Promise<void> {
    while (this.#inFlight.size) await Promise.allSettled([...this.#inFlight]);
  }

  #account(appid: string): WeChatRecord {
    if (!this.sim.apps.has(appid)) this.sim.addWeChat({ appid, secret: randomBytes(16).toString('hex') });
    const s = this.sim.record(appid);
    if (s.kind !== 'wechat') throw new Error(`${appid} is not a WeChat app`);
    return s;
  }

  #latestPreAuthCode(p: PlatformRecord): string | undefined {
    const now = this.sim.now();
    return [...p.preAuthCodes].reverse().find(([, expiresAt]) => expiresAt > now)?.[0];
  }

  #push(p: PlatformRecord, infoType: string, fields: Record<string, string | number>): Promise<SimulatedPush> {
    const at = this.sim.now();
    const inner = eventXml({ AppId: p.platform.appid, CreateTime: Math.floor(at / 1000), InfoType: infoType, ...fields });
    const done = this.#post(p, inner, at).then((answer) => {
      const push = { at, infoType, ...answer };
      p.pushes.push(push);
      return push;
    });
    this.#inFlight.add(done);
    void done.finally(() => this.#inFlight.delete(done));
    return done;
  }

  async #post(p: PlatformRecord, inner: string, at: number): Promise<{ status: number; body: string }> {
    if (!p.eventUrl) return { status: 0, body: 'no event URL' };
    const { query, body } = encryptedPush(p.platform, inner, at);
    try {
      const url = `${p.eventUrl}${p.eventUrl.includes('?') ? '&' : '?'}${query}`;
      const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/xml' }, signal: AbortSignal.timeout(PUSH_TIMEOUT_MS) });
      return { status: res.status, body: await res.text() };
    } catch (error) {
      return { status: 0, body: error instanceof Error ? error.message : String(error) };
    }
  }

  #remember(value: string): string {
    this.issued.push(value);
    return value;
  }
}
