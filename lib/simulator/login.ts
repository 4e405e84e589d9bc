import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody, WECHAT_ERRMSG } from './errors.js';
import { sendJson } from './http.js';
import type { SimState, WeChatRecord } from './state.js';
import type { SimulatedEndpoint, SimulatedLoginUser } from './types.js';

/**
 * WeChat's login calls (docs/wechat.md §13), for any WeChat app of the simulator:
 *   GET /sns/jscode2session?appid=&secret=&js_code=&grant_type=authorization_code  → openid, session_key, unionid
 *   GET /sns/oauth2/access_token?appid=&secret=&code=&grant_type=authorization_code → a user token
 *   GET /sns/oauth2/refresh_token?appid=&grant_type=refresh_token&refresh_token=   (no secret)
 *   GET /sns/userinfo?access_token=&openid=&lang=, GET /sns/auth?access_token=&openid= (a user token, no secret)
 * Codes come from issueLoginCode() (POST /__sim/login-code), as a user's wx.login or an OAuth
 * redirect would bring them: each is good once, for 5 minutes, and anything else is 40029.
 */

const CODE_LIFE_MS = 5 * 60_000;
const USER_TOKEN_LIFE_S = 7200;
const REFRESH_LIFE_MS = 30 * 24 * 3_600_000;

interface Grant {
  appid: string;
  openid: string;
  unionid?: string;
  scope: string;
  expiresAt: number;
}
interface PendingCode extends Grant {
  risky: boolean;
}

export class SimLogins {
  readonly #codes = new Map<string, PendingCode>();
  readonly #userTokens = new Map<string, Grant>();
  readonly #refreshTokens = new Map<string, Grant>();
  /** Every code, session_key, user token and refresh token issued, for tests that check none of them leaks. */
  readonly issued: string[] = [];

  constructor(readonly sim: SimState) {}

  /** A login code for a user of `appid`, as wx.login (or the OAuth redirect) hands it to the app. */
  issueCode(appid: string, user: SimulatedLoginUser = {}): { code: string; openid: string; unionid?: string } {
    if (this.sim.apps.get(appid)?.kind !== 'wechat') throw new Error(`simulator has no WeChat app ${appid}`);
    const who = user.user ?? randomBytes(8).toString('hex');
    const openid = `o${digest(`${appid}:${who}`).slice(0, 27)}`;
    const unionid = user.unionid === false ? undefined : `u${digest(`union:${who}`).slice(0, 27)}`;
    const code = this.#remember(randomBytes(24).toString('base64url'));
    this.#codes.set(code, { appid, openid, unionid, scope: user.scope ?? 'snsapi_base', risky: user.risky ?? false, expiresAt: this.sim.now() + CODE_LIFE_MS });
    return { code, openid, ...(unionid ? { unionid } : {}) };
  }

  /** GET /sns/jscode2session and GET /sns/oauth2/access_token: a code exchanged with the AppSecret. */
  exchange(req: IncomingMessage, res: ServerResponse, url: URL, flow: 'jscode2session' | 'oauth2_access_token'): void {
    const q = url.searchParams;
    const app = this.#app(q.get('appid'), flow);
    if (this.sim.injected(res, q.get('appid'), flow, WECHAT_ERRMSG)) return;
    if (req.method !== 'GET') return error(res, 43001);
    const code = q.get(flow === 'jscode2session' ? 'js_code' : 'code');
    if (!q.get('appid')) return error(res, 41002);
    if (!q.get('secret')) return error(res, 41004);
    if (!app) return error(res, 40013);
    if (q.get('secret') !== app.app.secret) return error(res, 40125);
    if (q.get('grant_type') !== 'authorization_code') return error(res, 40002);
    if (!code) return error(res, 41008);
    const pending = this.#codes.get(code);
    this.#codes.delete(code); // good once, whatever follows
    if (!pending || pending.appid !== app.id || pending.expiresAt <= this.sim.now()) return error(res, 40029);
    if (pending.risky) return error(res, 40226);
    const union = pending.unionid ? { unionid: pending.unionid } : {};
    if (flow === 'jscode2session') {
      return sendJson(res, { openid: pending.openid, session_key: this.#remember(randomBytes(16).toString('base64')), ...union });
    }
    const refresh = this.#remember(randomBytes(48).toString('base64url'));
    this.#refreshTokens.set(refresh, { ...pending, expiresAt: this.sim.now() + REFRESH_LIFE_MS });
    sendJson(res, { ...this.#userToken(pending), refresh_token: refresh, ...union, is_snapshotuser: 0 });
  }

  /** GET /sns/oauth2/refresh_token?appid=&grant_type=refresh_token&refresh_token= (no secret). */
  refresh(res: ServerResponse, url: URL): void {
    const q = url.searchParams;
    const app = this.#app(q.get('appid'), 'oauth2_refresh_token');
    if (this.sim.injected(res, q.get('appid'), 'oauth2_refresh_token', WECHAT_ERRMSG)) return;
    if (!q.get('appid')) return error(res, 41002);
    if (!app) return error(res, 40013);
    if (q.get('grant_type') !== 'refresh_token') return error(res, 40002);
    const token = q.get('refresh_token') ?? '';
    const grant = this.#refreshTokens.get(token);
    if (!grant || grant.appid !== app.id || grant.expiresAt <= this.sim.now()) return error(res, 40030);
    sendJson(res, { ...this.#userToken(grant), refresh_token: token });
  }

  /** GET /sns/userinfo and GET /sns/auth: what a user token says about its user, and whether it is good. */
  user(res: ServerResponse, url: URL, endpoint: 'sns_userinfo' | 'sns_auth'): void {
    const q = url.searchParams;
    const grant = this.#userTokens.get(q.get('access_token') ?? '');
    const owner = grant ? this.sim.apps.get(grant.appid) : undefined;
    if (owner?.kind === 'wechat') this.sim.count(owner, endpoint);
    if (this.sim.injected(res, owner?.id ?? null, endpoint, WECHAT_ERRMSG)) return;
    if (!q.get('access_token')) return error(res, 41001);
    if (!grant || grant.expiresAt <= this.sim.now()) return error(res, 40001);
    if (q.get('openid') !== grant.openid) return error(res, 40003);
    if (endpoint === 'sns_auth') return sendJson(res, { errcode: 0, errmsg: 'ok' });
    if (grant.scope === 'snsapi_base') return error(res, 48001);
    sendJson(res, {
      openid: grant.openid,
      nickname: `user ${grant.openid.slice(1, 7)}`,
      sex: 0,
      province: '',
      city: '',
      country: '',
      headimgurl: '',
      privilege: [],
      ...(grant.unionid ? { unionid: grant.unionid } : {}),
    });
  }

  #app(appid: string | null, endpoint: SimulatedEndpoint): WeChatRecord | undefined {
    const found = appid ? this.sim.apps.get(appid) : undefined;
    const app = found?.kind === 'wechat' ? found : undefined;
    if (app) this.sim.count(app, endpoint);
    return app;
  }

  #userToken(grant: Grant) {
    const token = this.#remember(`${90 + Math.floor(Math.random() * 9)}_${randomBytes(60).toString('base64url')}`);
    this.#userTokens.set(token, { ...grant, expiresAt: this.sim.now() + USER_TOKEN_LIFE_S * 1000 });
    return { access_token: token, expires_in: USER_TOKEN_LIFE_S, openid: grant.openid, scope: grant.scope };
  }

  #remember(value: string): string {
    this.issued.push(value);
    return value;
  }
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').replace(/[-_]/g, 'x');
}

function error(res: ServerResponse, errcode: number): void {
  sendJson(res, errorBody(WECHAT_ERRMSG, errcode));
}
