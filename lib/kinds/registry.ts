import type { WeChatClient } from '../wechat/client.js';
import { wechatAccessToken, wecomAccessToken } from './access-token.js';
import type { CredentialKind } from './kind.js';
import { authorizerAccessToken } from './authorizer.js';
import { componentAccessToken, componentVerifyTicket } from './platform.js';
import { wechatTicket, wecomTicket } from './tickets.js';
import { ComponentApi } from '../wechat/component.js';

/** What kind modules are built with: the upstream clients. */
export interface KindClients {
  wechat: WeChatClient;
  wecom: WeChatClient;
}

/**
 * The kind registry (docs/architecture.md, "Adding a kind"): every credential kind the hub knows, by
 * registry id (`platform/kind`). A kind is one module of lib/kinds; it is registered here with the
 * clients it needs, and principal types (lib/principals/types.ts) list the ids they have. The
 * protocol, the routes and the store know kinds only through CredentialKind.
 */
export function registerKinds({ wechat, wecom }: KindClients): ReadonlyMap<string, CredentialKind> {
  const component = new ComponentApi(wechat);
  return new Map<string, CredentialKind>([
    ['wechat/access_token', wechatAccessToken(wechat, { probePath: '/cgi-bin/getcallbackip' })],
    // A Mini Program cannot call getcallbackip; get_api_domain_ip takes its token (docs/wechat.md §7).
    ['wechat/mini_program_access_token', wechatAccessToken(wechat, { probePath: '/cgi-bin/get_api_domain_ip' })],
    ['wechat/jsapi_ticket', wechatTicket(wechat, 'jsapi')],
    ['wechat/wx_card_ticket', wechatTicket(wechat, 'wx_card')],
    ['wecom/access_token', wecomAccessToken(wecom)],
    ['wecom/jsapi_ticket', wecomTicket(wecom, 'jsapi')],
    ['wecom/agent_config_ticket', wecomTicket(wecom, 'agent_config')],
    ['platform/component_verify_ticket', componentVerifyTicket(component)],
    ['platform/component_access_token', componentAccessToken(component)],
    ['platform/authorizer_access_token', authorizerAccessToken(component, wechat)],
  ]);
}
