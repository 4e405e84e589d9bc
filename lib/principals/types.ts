import type { HubApp } from '../apps.js';
import { AuthorizerRevokedError, type HubError } from '../errors.js';

/**
 * A principal type as data (docs/architecture.md, "Adding a principal type"): which kinds (registry
 * ids, lib/kinds/registry.ts) a principal of this type has, in the order the tick refreshes them (a
 * ticket after the token it is fetched with), each optionally only when the principal has an
 * attribute. Adding a type is an entry here, its configuration schema, and nothing in the protocol.
 */
export interface PrincipalType {
  /** Which API family its credentials come from (the proxy's and compat's upstream). */
  platform: 'wechat' | 'wecom';
  kinds: readonly { kind: string; requires?: string }[];
  /** Why a principal of this type has no credentials now (a revoked authorizer), as the error a caller gets; undefined: it has them. */
  inactive?(app: HubApp): HubError | undefined;
}

export const PRINCIPAL_TYPES: Readonly<Record<HubApp['type'], PrincipalType>> = {
  official_account: { platform: 'wechat', kinds: [{ kind: 'wechat/access_token' }, { kind: 'wechat/jsapi_ticket' }, { kind: 'wechat/wx_card_ticket' }] },
  mini_program: { platform: 'wechat', kinds: [{ kind: 'wechat/mini_program_access_token' }] },
  // A WeCom secret without an AgentId (contacts sync, customer contact) has no app ticket.
  wecom: { platform: 'wecom', kinds: [{ kind: 'wecom/access_token' }, { kind: 'wecom/jsapi_ticket' }, { kind: 'wecom/agent_config_ticket', requires: 'agentid' }] },
  // An Open Platform website or mobile app: its AppSecret serves logins only (lib/http/login-routes.ts).
  website: { platform: 'wechat', kinds: [] },
  // A third-party platform: the ticket WeChat pushes, and the component token fetched with it.
  platform: { platform: 'wechat', kinds: [{ kind: 'platform/component_verify_ticket' }, { kind: 'platform/component_access_token' }] },
  // An account that authorized a platform (registered at run time, lib/principals/authorizers.ts):
  // its token (store id access_token, so every route and ticket of an Official Account serves it too)
  // fetched with the platform's component token and its refresh token, and the JS-SDK tickets.
  authorizer: {
    platform: 'wechat',
    kinds: [{ kind: 'platform/authorizer_access_token' }, { kind: 'wechat/jsapi_ticket' }, { kind: 'wechat/wx_card_ticket' }],
    inactive: (app) => (app.type === 'authorizer' && app.status === 'revoked' ? new AuthorizerRevokedError(app.name) : undefined),
  },
};
