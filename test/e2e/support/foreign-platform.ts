import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A WeChat-like third-party platform server for tests that is deliberately NOT the project's
 * simulator (it imports nothing from lib/): the component API of docs/wechat.md §10 with its own
 * token formats, and encrypted pushes to an event URL, with WXBizMsgCrypt written here from the
 * published algorithm (docs/wechat.md §10a) with node:crypto. A bug shared with lib/simulator or the
 * hub's lib/platform cannot pass unnoticed through it.
 *
 * Served (POST JSON; the component token as ?component_access_token= or ?access_token=):
 *   /cgi-bin/component/api_component_token, api_start_push_ticket (answered, then a ticket pushed),
 *   api_create_preauthcode, api_query_auth, api_authorizer_token, api_get_authorizer_list;
 * and GET /cgi-bin/get_api_domain_ip?access_token= (an authorizer token's probe).
 */

/** WeChat's lifetimes: tokens 2 hours, an old token 5 minutes after a new one, codes 10 minutes, pre-auth codes 30. */
const TOKEN_S = 7200;
const OVERLAP_MS = 5 * 60_000;
const CODE_S = 600;
const PRE_AUTH_S = 1800;

export interface ForeignPlatformOptions {
  componentAppid: string;
  secret: string;
  /** The message token and EncodingAESKey configured for the event URL. */
  token: string;
  aesKey: string;
  /** Epoch ms, for the tokens' lifetimes and the pushes' timestamps: the test's clock, shared with the hub. */
  now?: () => number;
}

/** One POST to the event URL: what it carried and what the URL answered (status 0: no answer, or no URL). */
export interface ForeignPush {
  infoType: string;
  status: number;
  body: string;
}

interface Token {
  value: string;
  expiresAt: number;
}

interface Account {
  refreshToken: string;
  authTime: number;
  tokens: Token[];
}

// ---- WXBizMsgCrypt (docs/wechat.md §10a) ----

/** key = base64decode(EncodingAESKey + "="), 32 bytes. */
function aesKeyBytes(encodingAesKey: string): Buffer {
  const key = Buffer.from(`${encodingAesKey}=`, 'base64');
  if (encodingAesKey.length !== 43 || key.length !== 32) throw new Error('an EncodingAESKey is 43 base64 characters for 32 bytes');
  return key;
}

/**
 * The Encrypt field: AES-256-CBC (IV = the key's first 16 bytes) of 16 random bytes + the message's
 * length (4 bytes, big-endian) + the message + the receive id, PKCS#7-padded to a multiple of 32.
 */
export function wxEncrypt(encodingAesKey: string, receiveId: string, message: string, random: Buffer = randomBytes(16)): string {
  const key = aesKeyBytes(encodingAesKey);
  const body = Buffer.from(message, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  const plain = Buffer.concat([random, length, body, Buffer.from(receiveId, 'utf8')]);
  const padLength = 32 - (plain.length % 32);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(Buffer.concat([plain, Buffer.alloc(padLength, padLength)])), cipher.final()]).toString('base64');
}

/** msg_signature (with the Encrypt) or signature (without): sha1 of the parts sorted and joined. */
export function wxSignature(...parts: string[]): string {
  return createHash('sha1').update(parts.slice().sort().join('')).digest('hex');
}

const cdata = (v: string) => `<![CDATA[${v}]]>`;

// ---- the server ----

export class ForeignPlatform {
  url = '';
  /** Where pushes go (the hub's /v1/platforms/{name}/events); unset: pushes are recorded with status 0. */
  eventUrl: string | undefined;
  readonly pushes: ForeignPush[] = [];
  /** Every call's body, by its path's last segment (api_authorizer_token, …, get_api_domain_ip with its query). */
  readonly requests: { endpoint: string; body: Record<string, unknown> }[] = [];
  readonly preAuthCodes = new Map<string, number>();
  #tickets: string[] = [];
  #componentTokens: Token[] = [];
  #codes = new Map<string, { appid: string; expiresAt: number; used: boolean }>();
  #accounts = new Map<string, Account>();
  #serial = 0;
  #inFlight = new Set<Promise<unknown>>();
  #server: Server;
  readonly #now: () => number;

  constructor(private readonly o: ForeignPlatformOptions) {
    this.#now = o.now ?? Date.now;
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    await this.settled();
    this.#server.closeAllConnections();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  /** How many calls of this endpoint (the path's last segment) were made. */
  count(endpoint: string): number {
    return this.requests.filter((r) => r.endpoint === endpoint).length;
  }

  /** Wait until every push under way (api_start_push_ticket's) was answered. */
  async settled(): Promise<void> {
    while (this.#inFlight.size) await Promise.allSettled([...this.#inFlight]);
  }

  /** The account's latest access token, if it is still accepted. */
  currentToken(authorizerAppid: string): string | undefined {
    const t = this.#accounts.get(authorizerAppid)?.tokens.at(-1);
    return t && t.expiresAt > this.#now() ? t.value : undefined;
  }

  refreshToken(authorizerAppid: string): string | undefined {
    return this.#accounts.get(authorizerAppid)?.refreshToken;
  }

  /** The latest pushed ticket (the one before it is accepted too). */
  get ticket(): string | undefined {
    return this.#tickets[0];
  }

  /** Every token of the account stops being accepted (as after a fetch elsewhere). */
  invalidate(authorizerAppid: string): void {
    for (const t of this.#accounts.get(authorizerAppid)?.tokens ?? []) t.expiresAt = 0;
  }

  /** The account's refresh token is replaced, without an event (the old one answers 61023; api_get_authorizer_list has the new one). */
  replaceRefreshToken(authorizerAppid: string): string {
    const a = this.#accounts.get(authorizerAppid);
    if (!a) throw new Error(`${authorizerAppid} has not authorized`);
    a.refreshToken = `frt~${randomBytes(18).toString('hex')}`;
    return a.refreshToken;
  }

  /** A new component_verify_ticket pushed to the event URL (the previous one stays accepted). `signWith`: a wrong message token, for refusals. */
  async pushTicket(signWith?: string): Promise<ForeignPush & { ticket: string }> {
    const ticket = `fticket!${randomBytes(30).toString('base64url')}`;
    this.#tickets = [ticket, ...this.#tickets].slice(0, 2);
    return { ...(await this.#push('component_verify_ticket', { ComponentVerifyTicket: ticket }, signWith)), ticket };
  }

  /** An account authorizes the platform: a new refresh token, an authorization code (once, 10 minutes) pushed as `authorized`. */
  async authorize(authorizerAppid: string, preAuthCode?: string): Promise<{ code: string; push: ForeignPush }> {
    const now = this.#now();
    const pre = preAuthCode ?? [...this.preAuthCodes.keys()].at(-1) ?? 'fpre-none';
    const old = this.#accounts.get(authorizerAppid);
    for (const t of old?.tokens ?? []) t.expiresAt = Math.min(t.expiresAt, now + OVERLAP_MS);
    this.#accounts.set(authorizerAppid, { refreshToken: `frt~${randomBytes(18).toString('hex')}`, authTime: Math.floor(now / 1000), tokens: old?.tokens ?? [] });
    const code = `fauth/${randomBytes(20).toString('hex')}`;
    this.#codes.set(code, { appid: authorizerAppid, expiresAt: now + CODE_S * 1000, used: false });
    const push = await this.#push(old ? 'updateauthorized' : 'authorized', {
      AuthorizerAppid: authorizerAppid,
      AuthorizationCode: code,
      AuthorizationCodeExpiredTime: String(Math.floor(now / 1000) + CODE_S),
      PreAuthCode: pre,
    });
    return { code, push };
  }

  /** The account withdraws: its refresh token and tokens are dead, `unauthorized` pushed. */
  async unauthorize(authorizerAppid: string): Promise<ForeignPush> {
    this.invalidate(authorizerAppid);
    this.#accounts.delete(authorizerAppid);
    return this.#push('unauthorized', { AuthorizerAppid: authorizerAppid });
  }

  #push(infoType: string, fields: Record<string, string>, signWith = this.o.token): Promise<ForeignPush> {
    const done = this.#post(infoType, fields, signWith).then((answer) => {
      const push = { infoType, ...answer };
      this.pushes.push(push);
      return push;
    });
    this.#inFlight.add(done);
    void done.finally(() => this.#inFlight.delete(done));
    return done;
  }

  async #post(infoType: string, fields: Record<string, string>, signWith: string): Promise<{ status: number; body: string }> {
    if (!this.eventUrl) return { status: 0, body: 'no event URL' };
    const timestamp = String(Math.floor(this.#now() / 1000));
    const inner = [`<AppId>${cdata(this.o.componentAppid)}</AppId>`, `<CreateTime>${timestamp}</CreateTime>`, `<InfoType>${cdata(infoType)}</InfoType>`]
      .concat(Object.entries(fields).map(([k, v]) => (/^\d+$/.test(v) ? `<${k}>${v}</${k}>` : `<${k}>${cdata(v)}</${k}>`)))
      .join('');
    const encrypt = wxEncrypt(this.o.aesKey, this.o.componentAppid, `<xml>${inner}</xml>`);
    const nonce = String(randomBytes(4).readUInt32BE());
    const query = new URLSearchParams({
      signature: wxSignature(signWith, timestamp, nonce),
      timestamp,
      nonce,
      encrypt_type: 'aes',
      msg_signature: wxSignature(signWith, timestamp, nonce, encrypt),
    });
    try {
      const res = await fetch(`${this.eventUrl}?${query}`, {
        method: 'POST',
        headers: { 'content-type': 'text/xml' },
        body: `<xml><AppId>${cdata(this.o.componentAppid)}</AppId><Encrypt>${cdata(encrypt)}</Encrypt></xml>`,
        signal: AbortSignal.timeout(10_000),
      });
      return { status: res.status, body: await res.text() };
    } catch (error) {
      return { status: 0, body: error instanceof Error ? error.message : String(error) };
    }
  }

  #issue(tokens: Token[], value: string): Token {
    const now = this.#now();
    for (const t of tokens) t.expiresAt = Math.min(t.expiresAt, now + OVERLAP_MS);
    const t = { value, expiresAt: now + TOKEN_S * 1000 };
    tokens.push(t);
    return t;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://foreign');
    const endpoint = url.pathname.split('/').pop() ?? '';
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
    } catch {
      return this.#send(res, { errcode: 47001, errmsg: 'data format error' });
    }
    this.requests.push({ endpoint, body: endpoint === 'get_api_domain_ip' ? Object.fromEntries(url.searchParams) : body });
    this.#send(res, this.#answer(url, endpoint, body));
  }

  #send(res: ServerResponse, answer: unknown): void {
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(answer));
  }

  #answer(url: URL, endpoint: string, b: Record<string, unknown>): unknown {
    const now = this.#now();
    const err = (errcode: number, errmsg: string) => ({ errcode, errmsg });
    const live = (tokens: Token[], value: string | null) => tokens.some((t) => t.value === value && t.expiresAt > now);
    if (endpoint === 'get_api_domain_ip') {
      const ok = [...this.#accounts.values()].some((a) => live(a.tokens, url.searchParams.get('access_token')));
      return ok ? { ip_list: ['203.0.113.10', '203.0.113.11'] } : err(40001, 'invalid credential, access_token is invalid or not latest');
    }
    if (!url.pathname.startsWith('/cgi-bin/component/')) return err(404, 'no such API');
    if (b.component_appid !== this.o.componentAppid) return err(61011, 'invalid component');
    if (endpoint === 'api_component_token' || endpoint === 'api_start_push_ticket') {
      if ((endpoint === 'api_component_token' ? b.component_appsecret : b.component_secret) !== this.o.secret) return err(40125, 'invalid appsecret');
      if (endpoint === 'api_start_push_ticket') {
        void this.pushTicket();
        return { errcode: 0, errmsg: 'ok' };
      }
      if (typeof b.component_verify_ticket !== 'string' || !this.#tickets.includes(b.component_verify_ticket)) return err(61006, 'component ticket is invalid');
      const t = this.#issue(this.#componentTokens, `FCT.${++this.#serial}.${randomBytes(24).toString('base64url')}`);
      return { component_access_token: t.value, expires_in: TOKEN_S };
    }
    const token = url.searchParams.get('component_access_token') ?? url.searchParams.get('access_token');
    if (!live(this.#componentTokens, token)) return err(42001, 'component_access_token expired');
    switch (endpoint) {
      case 'api_create_preauthcode': {
        const code = `fpre-${randomBytes(20).toString('hex')}`;
        this.preAuthCodes.set(code, now + PRE_AUTH_S * 1000);
        return { pre_auth_code: code, expires_in: PRE_AUTH_S };
      }
      case 'api_query_auth': {
        const c = this.#codes.get(String(b.authorization_code));
        if (!c) return err(61009, 'code is invalid');
        const stale = c.used || c.expiresAt <= now;
        c.used = true;
        const a = this.#accounts.get(c.appid);
        if (stale || !a) return err(61010, 'code is expired');
        const t = this.#issue(a.tokens, this.#authorizerToken(c.appid));
        return {
          authorization_info: {
            authorizer_appid: c.appid,
            authorizer_access_token: t.value,
            expires_in: TOKEN_S,
            authorizer_refresh_token: a.refreshToken,
            func_info: [1, 15, 4].map((id) => ({ funcscope_category: { id } })),
          },
        };
      }
      case 'api_authorizer_token': {
        const a = this.#accounts.get(String(b.authorizer_appid));
        if (!a) return err(61003, 'component is not authorized by this account');
        if (b.authorizer_refresh_token !== a.refreshToken) return err(61023, 'refresh_token is invalid');
        const t = this.#issue(a.tokens, this.#authorizerToken(String(b.authorizer_appid)));
        return { authorizer_access_token: t.value, expires_in: TOKEN_S, authorizer_refresh_token: a.refreshToken };
      }
      case 'api_get_authorizer_list': {
        const offset = Number(b.offset ?? 0);
        const count = Number(b.count);
        if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(count) || count < 1 || count > 500) return err(40097, 'invalid args');
        const all = [...this.#accounts].map(([appid, a]) => ({ authorizer_appid: appid, refresh_token: a.refreshToken, auth_time: a.authTime }));
        return { errcode: 0, errmsg: 'ok', total_count: all.length, list: all.slice(offset, offset + count) };
      }
      default:
        return err(404, 'no such API');
    }
  }

  /** This server's authorizer token format (not WeChat's, not the simulator's). */
  #authorizerToken(appid: string): string {
    return `FAT:${appid}:${++this.#serial}:${randomBytes(24).toString('base64url')}`;
  }
}
