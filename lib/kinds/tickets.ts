import type { WeComApp } from '../apps.js';
import type { WeChatClient, Ticket } from '../wechat/client.js';
import { TokenInvalidError } from '../wechat/errors.js';
import type { CredentialKind, FetchContext, Fetched } from './kind.js';

/** WeCom's JS-SDK ticket limits (WECHAT-API.md §6a): per hour, both ticket kinds together. */
export const WECOM_TICKETS_PER_APP_HOUR = 100;
export const WECOM_TICKETS_PER_CORP_HOUR = 400;

/**
 * An Official Account's JS-SDK ticket: `jsapi` (wx.config) or `wx_card` (the card api_ticket), from
 * /cgi-bin/ticket/getticket with the app's access token. WeChat calls the API "very limited" and
 * gives no number: the ledger counts it per day and a forced refresh spends the forced budget.
 */
export function wechatTicket(client: WeChatClient, type: 'jsapi' | 'wx_card'): CredentialKind {
  return {
    id: `${type}_ticket`,
    dependsOn: 'access_token',
    charges(app, { forced, forcedDailyBudget }) {
      return [{ scope: app.name, api: `ticket_${type}`, period: 'day', forcedBudget: forced ? forcedDailyBudget : undefined }];
    },
    fetch: (_app, ctx) => withAccessToken(ctx, (accessToken, deadline) => client.fetchTicket({ path: '/cgi-bin/ticket/getticket', accessToken, type, deadline, onRetry: ctx.onRetry })),
  };
}

/**
 * A WeCom JS-SDK ticket: the corp ticket (`jsapi`, /cgi-bin/get_jsapi_ticket, for wx.config) or the
 * app ticket (`agent_config`, /cgi-bin/ticket/get?type=agent_config, for wx.agentConfig), with the
 * app's own token. WeCom allows 100 fetches an hour per app and 400 per corp: the ledger holds the
 * hub under both, so the hub is never the one that trips them.
 */
export function wecomTicket(client: WeChatClient, type: 'jsapi' | 'agent_config'): CredentialKind {
  return {
    id: `${type}_ticket`,
    dependsOn: 'access_token',
    charges(app, { forced, forcedDailyBudget }) {
      const corp = (app as WeComApp).corpid;
      return [
        { scope: app.name, api: `wecom_ticket_${type}`, period: 'day', forcedBudget: forced ? forcedDailyBudget : undefined },
        { scope: app.name, api: 'wecom_ticket', period: 'hour', limit: WECOM_TICKETS_PER_APP_HOUR, limitName: `WeCom's ${WECOM_TICKETS_PER_APP_HOUR} ticket fetches an hour per app` },
        { scope: `corp:${corp}`, api: 'wecom_ticket', period: 'hour', limit: WECOM_TICKETS_PER_CORP_HOUR, limitName: `WeCom's ${WECOM_TICKETS_PER_CORP_HOUR} ticket fetches an hour per corp` },
      ];
    },
    fetch: (_app, ctx) =>
      withAccessToken(ctx, (accessToken, deadline) =>
        type === 'jsapi'
          ? client.fetchTicket({ path: '/cgi-bin/get_jsapi_ticket', accessToken, deadline, onRetry: ctx.onRetry })
          : client.fetchTicket({ path: '/cgi-bin/ticket/get', accessToken, type: 'agent_config', deadline, onRetry: ctx.onRetry }),
      ),
  };
}

/**
 * Fetch with the app's access token. When WeChat says that token is dead (40001/40014/42001), it
 * goes through the guarded forced refresh with the token that was used as the stale one, and the
 * fetch is tried once more with what that gives.
 */
async function withAccessToken(ctx: FetchContext, call: (accessToken: string, deadline: number) => Promise<Ticket>): Promise<Fetched> {
  const token = await ctx.dependency();
  let ticket: Ticket;
  try {
    ticket = await call(token, ctx.deadline);
  } catch (error) {
    if (!(error instanceof TokenInvalidError)) throw error;
    const fresh = await ctx.dependencyRejected(token);
    if (fresh === token) throw error; // WeChat still accepts the token: trying again would be answered the same
    await ctx.onRetry();
    ticket = await call(fresh, ctx.nextDeadline());
  }
  return { value: ticket.ticket, expiresIn: ticket.expiresIn };
}
