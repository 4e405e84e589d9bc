/** The simulator's public types. Re-exported by wechat-simulator.ts, the module callers import. */

export interface SimulatedApp {
  appid: string;
  secret: string;
  /** /cgi-bin/token calls a day before 45009 (WeChat: 2000 for an Official Account). */
  dailyQuota?: number;
}

/**
 * A WeCom (企业微信) secret: a self-built app's (with its AgentId), or one without an AgentId (contacts
 * sync, customer contact), which has a token and the corp ticket but no app ticket (agent_config: 48001).
 * Its id in every per-app method and filter is `${corpid}/${agentid}`, or `${corpid}/${label}` without one.
 */
export type SimulatedWeComApp = { corpid: string; secret: string } & ({ agentid: number; label?: never } | { agentid?: never; label: string });

export type SimulatedFault =
  | { kind: 'errcode'; errcode: number; errmsg?: string }
  | { kind: 'hang' }
  | { kind: 'reset' };

/** jsapi and wx_card: WeChat's getticket. jsapi of a WeCom app: its corp ticket; agent_config: its app ticket. */
export type SimulatedTicketType = 'jsapi' | 'wx_card' | 'agent_config';

export const WECHAT_ENDPOINTS = ['token', 'stable_token', 'getcallbackip', 'get_api_domain_ip', 'ticket_jsapi', 'ticket_wx_card'] as const;
export const WECOM_ENDPOINTS = ['wecom_gettoken', 'wecom_jsapi_ticket', 'wecom_agent_config', 'wecom_getcallbackip'] as const;
/** WeChat's login calls (/sns/…): code2Session, web authorization's user token, its refresh, userinfo and auth. */
export const LOGIN_ENDPOINTS = ['jscode2session', 'oauth2_access_token', 'oauth2_refresh_token', 'sns_userinfo', 'sns_auth'] as const;
/** A third-party platform's calls (/cgi-bin/component/…), counted for and matched by the component appid. */
export const PLATFORM_ENDPOINTS = ['component_token', 'preauthcode', 'query_auth', 'authorizer_token', 'authorizer_list', 'start_push_ticket'] as const;
export const ENDPOINTS: readonly SimulatedEndpoint[] = [...WECHAT_ENDPOINTS, ...WECOM_ENDPOINTS, ...LOGIN_ENDPOINTS, ...PLATFORM_ENDPOINTS];

/** Names for calls(), failNext() and /__sim/stats. */
export type SimulatedEndpoint =
  | (typeof WECHAT_ENDPOINTS)[number]
  | (typeof WECOM_ENDPOINTS)[number]
  | (typeof LOGIN_ENDPOINTS)[number]
  | (typeof PLATFORM_ENDPOINTS)[number];

/** A WeChat third-party platform (开放平台第三方平台, a "component"). */
export interface SimulatedPlatform {
  /** The component appid. */
  appid: string;
  /** Its AppSecret (component_appsecret). */
  secret: string;
  /** The message token, for the pushes' signatures. */
  token: string;
  /** The 43-character EncodingAESKey the pushes are encrypted with. */
  aesKey: string;
  /**
   * Whether api_authorizer_token answers a new authorizer_refresh_token every time, the one sent then
   * answering 61023 (api_get_authorizer_list lists the new one). WeChat's behaviour here is
   * UNCONFIRMED (docs/wechat.md §10; the community says it does not rotate): the hub must survive
   * both. Default false: the refresh token answered is the one sent.
   */
  rotateRefreshTokens?: boolean;
}

/** One POST of an event to a platform's event URL: its InfoType, and what the URL answered (status 0: no answer). */
export interface SimulatedPush {
  at: number;
  infoType: string;
  status: number;
  body: string;
}

/** What authorize() does: which permission sets (funcscope_category ids), where the browser is sent back. */
export interface SimulatedAuthorization {
  funcs?: number[];
  redirectUri?: string;
  /** The pre_auth_code the authorization page was opened with; default the latest one issued, or a new one. */
  preAuthCode?: string;
}

/** A login code the simulator issues (POST /__sim/login-code, issueLoginCode()), as a user's wx.login or an OAuth redirect would bring it. */
export interface SimulatedLoginUser {
  /** Who logs in: the same user gets the same openid per app and the same unionid across apps. Default: a new user. */
  user?: string;
  /** Web authorization's scope (snsapi_base, snsapi_userinfo, snsapi_login); default snsapi_base. */
  scope?: string;
  /** Whether WeChat gives a unionid (the app is bound to an Open Platform account); default true. */
  unionid?: boolean;
  /** A high-risk user: the exchange answers 40226. */
  risky?: boolean;
}

export interface SimulatorOptions {
  /** The simulator's clock (epoch ms); tests pass a virtual one. */
  now?: () => number;
  apps?: SimulatedApp[];
  /** expires_in of a new token (WeChat and WeCom), seconds. */
  tokenTtlSeconds?: number;
  /** How long the previous WeChat token, or ticket, stays valid after a new fetch. */
  overlapMs?: number;
  dailyQuota?: number;
  stableDailyQuota?: number;
  /** expires_in of a new JS-SDK ticket (WeChat and WeCom), seconds. Default 7200. */
  ticketTtlSeconds?: number;
  wecomApps?: SimulatedWeComApp[];
  /**
   * How long earlier WeCom tokens stay valid after a new gettoken. WeCom does not document that a new
   * fetch invalidates the old token, so by default each one stays valid until its own expiry.
   */
  wecomTokenOverlapMs?: number;
  /** WeCom ticket issues (both kinds) per app in any sliding 60 minutes before 45009. Default 100. */
  wecomTicketHourlyPerApp?: number;
  /** WeCom ticket issues (both kinds, all apps) per corp in any sliding 60 minutes before 45009. Default 400. */
  wecomTicketHourlyPerCorp?: number;
  /** Third-party platforms (lib/simulator/platform.ts). */
  platforms?: SimulatedPlatform[];
  /** Real milliseconds every answer waits (WeChat's latency, for benchmarks); default none. */
  latencyMs?: number;
}
