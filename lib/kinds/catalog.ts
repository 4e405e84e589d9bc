import type { HubApp, TicketType } from '../apps.js';
import type { WeChatClient } from '../wechat/client.js';
import { wechatAccessToken, wecomAccessToken } from './access-token.js';
import type { CredentialKind } from './kind.js';
import { wechatTicket, wecomTicket } from './tickets.js';

/** The store id of a ticket type of the HTTP API. */
export const ticketKindId = (type: TicketType): string => `${type}_ticket`;

/**
 * Which kinds each type of app has, in the order the tick refreshes them (a ticket after the token
 * it is fetched with). Adding a kind is a module in lib/kinds and a line here.
 */
export class KindCatalog {
  readonly #byType: Record<HubApp['type'], readonly CredentialKind[]>;
  /** A WeCom secret without an AgentId (contacts sync, customer contact): no app ticket. */
  readonly #wecomWithoutAgent: readonly CredentialKind[];

  constructor(clients: { wechat: WeChatClient; wecom: WeChatClient }) {
    const { wechat, wecom } = clients;
    this.#byType = {
      official_account: [wechatAccessToken(wechat, { probePath: '/cgi-bin/getcallbackip' }), wechatTicket(wechat, 'jsapi'), wechatTicket(wechat, 'wx_card')],
      mini_program: [wechatAccessToken(wechat, { probePath: '/cgi-bin/get_api_domain_ip' })],
      wecom: [wecomAccessToken(wecom), wecomTicket(wecom, 'jsapi'), wecomTicket(wecom, 'agent_config')],
      // An Open Platform website or mobile app: its AppSecret serves logins only (lib/http/login-routes.ts).
      website: [],
    };
    this.#wecomWithoutAgent = this.#byType.wecom.filter((k) => k.id !== ticketKindId('agent_config'));
  }

  kindsOf(app: HubApp): readonly CredentialKind[] {
    return app.type === 'wecom' && app.agentid === undefined ? this.#wecomWithoutAgent : this.#byType[app.type];
  }

  kind(app: HubApp, id: string): CredentialKind | undefined {
    return this.kindsOf(app).find((k) => k.id === id);
  }
}
