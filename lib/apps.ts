import type { TokenApi } from './wechat/client.js';

export type WeChatAppType = 'official_account' | 'mini_program';
export type AppType = WeChatAppType | 'wecom' | 'website' | 'platform' | 'authorizer';

interface AppBase {
  /** URL id of the app in the hub's API. */
  name: string;
  /** Tickets the tick keeps fresh from the start (others once they have been asked for). */
  tickets: readonly TicketType[];
  /** Served on WeChat's own paths (/cgi-bin/token, …) for unmodified SDKs. */
  compat: boolean;
  /** Path prefixes the token-injecting proxy may forward to. */
  proxyPaths: readonly string[];
  getSecret(): Promise<string>;
}

/** An Official Account or a Mini Program, with its AppSecret resolved at run time (never held in configuration). */
export interface WeChatApp extends AppBase {
  type: WeChatAppType;
  appid: string;
  tokenApi: TokenApi;
}

/**
 * A WeCom (企业微信) secret: its own token, on qyapi. A self-built app's has its AgentId (and the app
 * ticket, for wx.agentConfig); a contacts-sync or customer-contact secret has none (token and corp ticket).
 */
export interface WeComApp extends AppBase {
  type: 'wecom';
  corpid: string;
  agentid?: number;
}

/** An Open Platform website or mobile app (网站应用, 移动应用): its AppSecret serves user logins only, so it has no token kind. */
export interface WebsiteApp extends AppBase {
  type: 'website';
  appid: string;
}

/**
 * A third-party platform (a "component"): its component appid, its AppSecret (`getSecret`), and the
 * message token and EncodingAESKey of its authorization event URL, all resolved at run time.
 */
export interface PlatformApp extends AppBase {
  type: 'platform';
  appid: string;
  getToken(): Promise<string>;
  getAesKey(): Promise<string>;
}

/** Whether WeChat still has the account's authorization of its platform (lib/principals/authorizers.ts). */
export type AuthorizerStatus = 'authorized' | 'revoked';

/**
 * An account (Official Account or Mini Program) that authorized a third-party platform: registered
 * at run time by the authorization (a row `PRINCIPAL#<platform>/<appid>`), never configured. It has
 * no secret: its token is fetched with the platform's component token and its refresh token, which
 * lives in its token's credential state (docs/wechat.md §10).
 */
export interface AuthorizerApp extends AppBase {
  type: 'authorizer';
  /** The authorizer's own appid. */
  appid: string;
  /** The name of the platform principal it authorized. */
  platform: string;
  /** The platform's component appid (api_authorizer_token names it). */
  componentAppid: string;
  status: AuthorizerStatus;
  /** The permission sets (funcscope_category ids) it granted. */
  funcs: readonly number[];
  /** When it (last) authorized, epoch ms. */
  authorizedAt: number;
  revokedAt?: number;
}

export type HubApp = WeChatApp | WeComApp | WebsiteApp | PlatformApp | AuthorizerApp;

/** The JS-SDK tickets of the HTTP API (`/v1/apps/{app}/tickets/{type}`). */
export const TICKET_TYPES = ['jsapi', 'wx_card', 'agent_config'] as const;
export type TicketType = (typeof TICKET_TYPES)[number];
