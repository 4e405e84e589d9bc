import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { controlFail, controlLoginCode, controlRevoke } from './control.js';
import { SimLogins } from './login.js';
import { SimPlatforms } from './platform.js';
import { SimulatedPlatforms } from './platform-facade.js';
import { PLATFORM_ROUTES, platformControl, platformRoute } from './platform-api.js';
import { readBody, sendJson } from './http.js';
import { settingsFrom, SimState } from './state.js';
import type { SimulatedApp, SimulatedAuthorization, SimulatedEndpoint, SimulatedFault, SimulatedLoginUser, SimulatedPlatform, SimulatedPush, SimulatedTicketType, SimulatedWeComApp, SimulatorOptions } from './types.js';
import { apiQuota, callbackIp, classicToken, getTicket, stableToken } from './wechat.js';
import { weComAgentTicket, weComCallbackIp, weComJsapiTicket, weComToken } from './wecom.js';

export type { SimulatedApp, SimulatedAuthorization, SimulatedEndpoint, SimulatedFault, SimulatedLoginUser, SimulatedPlatform, SimulatedPush, SimulatedTicketType, SimulatedWeComApp, SimulatorOptions } from './types.js';

/**
 * A stand-in for WeChat's token and ticket APIs (api.weixin.qq.com) and WeCom's (qyapi.weixin.qq.com),
 * both on one port, for tests and `npm start`.
 * It shares no code with the hub's WeChat client on purpose: a shared bug would pass every test.
 *
 * WeChat:
 *   GET  /cgi-bin/token?grant_type=client_credential&appid=&secret=
 *   POST /cgi-bin/stable_token  {"grant_type","appid","secret","force_refresh"}
 *   GET  /cgi-bin/getcallbackip?access_token=                  (a WeCom token gets WeCom's answer)
 *   GET  /cgi-bin/get_api_domain_ip?access_token=              (WeChat tokens, Mini Programs' too)
 *   GET  /cgi-bin/ticket/getticket?access_token=&type=jsapi|wx_card
 *   POST /cgi-bin/openapi/quota/get?access_token=  {"cgi_path"}   (today's count of token or stable_token calls)
 * WeChat's login calls (lib/simulator/login.ts): GET /sns/jscode2session, /sns/oauth2/access_token,
 *   /sns/oauth2/refresh_token, /sns/userinfo, /sns/auth
 * Third-party platforms (lib/simulator/platform-api.ts): POST /cgi-bin/component/api_component_token,
 *   api_start_push_ticket, api_create_preauthcode, api_query_auth, api_authorizer_token, api_get_authorizer_list;
 *   an authorizer access token is accepted wherever an Official Account's own token is.
 * WeCom (an app's id is `${corpid}/${agentid}`, or `${corpid}/${label}` for a secret without an AgentId):
 *   GET  /cgi-bin/gettoken?corpid=&corpsecret=
 *   GET  /cgi-bin/get_jsapi_ticket?access_token=               (corp ticket)
 *   GET  /cgi-bin/ticket/get?access_token=&type=agent_config   (app ticket)
 * Control:
 *   POST /__sim/fail    {"appid"?, "errcode"? | "mode": "hang"|"reset", "times"?, "endpoints"?}
 *   POST /__sim/revoke  {"appid"}                               (every token of that app invalid)
 *   GET  /__sim/stats                                           (today's calls per app and endpoint)
 *   POST /__sim/login-code {"appid", "user"?, "scope"?, "unionid"?, "risky"?}  (a user's login code: once, 5 minutes)
 *   POST /__sim/authorize, /__sim/unauthorize, /__sim/push-ticket, /__sim/event-url {"component_appid", …}  (platform-api.ts)
 *
 * Endpoint names, for calls(), failNext() and the stats: token, stable_token, getcallbackip, get_api_domain_ip,
 * ticket_jsapi, ticket_wx_card, wecom_gettoken, wecom_jsapi_ticket, wecom_agent_config, wecom_getcallbackip,
 * jscode2session, oauth2_access_token, oauth2_refresh_token, sns_userinfo, sns_auth; a platform's (by component
 * appid): component_token, preauthcode, query_auth, authorizer_token, authorizer_list, start_push_ticket.
 */

const DEFAULT_FAULT_ENDPOINTS: readonly SimulatedEndpoint[] = ['token', 'stable_token'];

export class WeChatSimulator extends SimulatedPlatforms {
  readonly #sim: SimState;
  readonly #logins: SimLogins;
  readonly #platforms: SimPlatforms;
  readonly #sockets = new Set<Socket>();
  readonly #latencyMs: number;
  #server?: Server;
  #onRequest: ((path: string) => void | Promise<void>) | undefined;

  constructor(options: SimulatorOptions = {}) {
    const sim = new SimState(options.now ?? Date.now, settingsFrom(options));
    const platforms = new SimPlatforms(sim);
    super(sim, platforms);
    this.#sim = sim;
    this.#logins = new SimLogins(this.#sim);
    this.#platforms = platforms;
    this.#latencyMs = options.latencyMs ?? 0;
    for (const app of options.apps ?? []) this.addApp(app);
    for (const app of options.wecomApps ?? []) this.addWeComApp(app);
    for (const platform of options.platforms ?? []) this.addPlatform(platform);
  }

  /**
   * Run (and await) `hook` as each API request arrives, before it is answered (tests: move a virtual
   * clock to make WeChat slow on the hub's clock, or hold an answer back). Undefined removes it.
   */
  onRequest(hook: ((path: string) => void | Promise<void>) | undefined): void {
    this.#onRequest = hook;
  }

  addApp(app: SimulatedApp): void {
    this.#sim.addWeChat(app);
  }

  /** Add a WeCom app; its id in every per-app method is `${corpid}/${agentid}` (`${corpid}/${label}` without an AgentId). */
  addWeComApp(app: SimulatedWeComApp): void {
    this.#sim.addWeCom(app);
  }

  /** Change an app's secret, as an administrator resetting the AppSecret would. */
  setSecret(appid: string, secret: string): void {
    this.#sim.record(appid).app.secret = secret;
  }

  /**
   * Make every token of an app invalid at once, as WeChat does when the AppSecret is reset or
   * another party fetched tokens for the same app: the hub's token is then truly stale.
   */
  revokeTokens(appid: string): void {
    const s = this.#sim.record(appid);
    if (s.kind === 'wechat') {
      s.classic.revoke();
      s.stable.revoke();
      for (const t of s.authorizer.values()) t.revoke(); // the tokens platforms got for it too
    } else {
      s.token.revoke();
    }
  }

  /** Make every JS-SDK ticket of an app invalid at once. */
  revokeTickets(appid: string): void {
    for (const slot of this.#sim.record(appid).tickets.values()) slot.revoke();
  }

  /** Every token this simulator has issued (WeChat and WeCom), for tests that check none of them leaks. */
  issuedTokens(): readonly string[] {
    return this.#sim.issuedTokens;
  }

  /** Every ticket this simulator has issued, for tests that check none of them leaks. */
  issuedTickets(): readonly string[] {
    return this.#sim.issuedTickets;
  }

  /**
   * A user's login code for a WeChat app, as wx.login (a Mini Program) or the web authorization
   * redirect (an Official Account, a website) hands it over: good once, for 5 minutes.
   */
  issueLoginCode(appid: string, user?: SimulatedLoginUser): { code: string; openid: string; unionid?: string } {
    return this.#logins.issueCode(appid, user);
  }

  /** Every login code, session_key, user access token and refresh token issued, for tests that check none of them leaks. */
  issuedLoginValues(): readonly string[] {
    return this.#logins.issued;
  }

  /**
   * Answer the next `times` calls (of an app, or any) with this fault instead. The app is the one the
   * request names: by appid, by corpid and secret, or as the owner of the access_token presented.
   */
  failNext(fault: SimulatedFault, times = 1, appid: string | '*' = '*', endpoints: SimulatedEndpoint[] = [...DEFAULT_FAULT_ENDPOINTS]): void {
    this.#sim.faults.add(fault, times, appid, endpoints);
  }

  clearFaults(): void {
    this.#sim.faults.clear();
  }

  /** Calls of an endpoint by an app on the current day (China time), failed ones included. */
  calls(appid: string, endpoint: SimulatedEndpoint | 'stable_token_force' = 'token'): number {
    const platform = this.#platforms.platforms.get(appid);
    if (platform) return platform.counts.get(`${this.#sim.day()}:${endpoint}`) ?? 0;
    return this.#sim.calls(appid, endpoint);
  }

  /** The token WeChat (or WeCom, whatever `api`) would accept right now as the latest, if any. */
  currentToken(appid: string, api: 'classic' | 'stable' = 'classic'): string | undefined {
    const s = this.#sim.record(appid);
    return (s.kind === 'wechat' ? s[api] : s.token).live(this.#sim.now());
  }

  /** The latest ticket of that type, if it has not expired. */
  currentTicket(appid: string, type: SimulatedTicketType): string | undefined {
    return this.#sim.record(appid).tickets.get(type)?.live(this.#sim.now());
  }

  isValid(token: string): boolean {
    return this.#sim.isTokenValid(token);
  }

  isTicketValid(ticket: string): boolean {
    return this.#sim.isTicketValid(ticket);
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => {
      this.#handle(req, res).catch(() => {
        if (!res.headersSent) sendJson(res, { errcode: -1, errmsg: 'system error' });
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
    this.stopTicketTimer();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sim = this.#sim;
    const url = new URL(req.url ?? '/', 'http://sim');
    const body = await readBody(req);
    if (this.#latencyMs && !url.pathname.startsWith('/__sim/')) await new Promise((r) => setTimeout(r, this.#latencyMs));
    if (!url.pathname.startsWith('/__sim/')) await this.#onRequest?.(url.pathname);
    if (PLATFORM_ROUTES[url.pathname]) return platformRoute(this.#platforms, req, res, url, body);
    switch (url.pathname) {
      case '/cgi-bin/token':
        return classicToken(sim, req, res, url);
      case '/cgi-bin/stable_token':
        return stableToken(sim, req, res, body);
      case '/cgi-bin/getcallbackip': {
        const token = url.searchParams.get('access_token');
        const weCom = token ? sim.weComOwner(token) : undefined;
        return weCom && token ? weComCallbackIp(sim, res, weCom, token) : callbackIp(sim, res, url);
      }
      case '/cgi-bin/get_api_domain_ip':
        return callbackIp(sim, res, url, 'get_api_domain_ip');
      case '/cgi-bin/ticket/getticket':
        return getTicket(sim, res, url);
      case '/cgi-bin/openapi/quota/get':
        return apiQuota(sim, res, url, body);
      case '/cgi-bin/gettoken':
        return weComToken(sim, res, url);
      case '/cgi-bin/get_jsapi_ticket':
        return weComJsapiTicket(sim, res, url);
      case '/cgi-bin/ticket/get':
        return weComAgentTicket(sim, res, url);
      case '/sns/jscode2session':
        return this.#logins.exchange(req, res, url, 'jscode2session');
      case '/sns/oauth2/access_token':
        return this.#logins.exchange(req, res, url, 'oauth2_access_token');
      case '/sns/oauth2/refresh_token':
        return this.#logins.refresh(res, url);
      case '/sns/userinfo':
        return this.#logins.user(res, url, 'sns_userinfo');
      case '/sns/auth':
        return this.#logins.user(res, url, 'sns_auth');
      case '/__sim/login-code':
        return controlLoginCode(res, body, (appid, user) => this.#logins.issueCode(appid, user));
      case '/__sim/fail':
        return controlFail(sim, res, body, DEFAULT_FAULT_ENDPOINTS);
      case '/__sim/revoke':
        return controlRevoke(sim, res, body, (id) => this.revokeTokens(id));
      case '/__sim/authorize':
      case '/__sim/unauthorize':
      case '/__sim/push-ticket':
      case '/__sim/event-url':
        return platformControl(this.#platforms, res, url.pathname, body);
      case '/__sim/stats':
        return sendJson(res, { ...sim.stats(), ...this.#platforms.stats() });
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  }
}
