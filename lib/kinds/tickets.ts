import * as z from 'zod/mini';
import type { WeChatClient, Ticket } from '../wechat/client.js';
import { TokenInvalidError } from '../wechat/errors.js';
import { attributes } from './attributes.js';
import { DependencyRejectedError, type CredentialKind, type FetchContext, type Fetched } from './kind.js';

const wecomApp = attributes(z.object({ corpid: z.string() }), 'WeCom ticket');

/** WeCom's JS-SDK ticket limits (docs/wechat.md §6a): per hour, both ticket kinds together. */
export const WECOM_TICKETS_PER_APP_HOUR = 100;
export const WECOM_TICKETS_PER_CORP_HOUR = 400;
/**
 * A forced ticket refresh (a caller's report) may use only this share of each hourly limit, counted
 * with everything else in the window: the rest is kept for the scheduled refresh, so reports can
 * never block an app's (or its corp's) tickets for the hour.
 */
export const WECOM_FORCED_SHARE = 0.25;

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
    fetch: (_app, ctx) => withAccessToken(ctx, (accessToken, deadline) => client.fetchTicket({ path: '/cgi-bin/ticket/getticket', accessToken, type, deadline, onRetry: ctx.onRetry, onUnsent: ctx.onUnsent })),
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
      const corp = wecomApp(app).corpid;
      const hourly = (scope: string, limit: number, whose: string) => {
        const cap = forced ? Math.floor(limit * WECOM_FORCED_SHARE) : limit;
        return {
          scope,
          api: 'wecom_ticket',
          period: 'hour' as const,
          limit: cap,
          limitName: forced ? `the share of WeCom's ${limit} ticket fetches an hour per ${whose} that forced refreshes may use (${cap})` : `WeCom's ${limit} ticket fetches an hour per ${whose}`,
        };
      };
      return [
        { scope: app.name, api: `wecom_ticket_${type}`, period: 'day', forcedBudget: forced ? forcedDailyBudget : undefined },
        hourly(app.name, WECOM_TICKETS_PER_APP_HOUR, 'app'),
        hourly(`corp:${corp}`, WECOM_TICKETS_PER_CORP_HOUR, 'corp'),
      ];
    },
    fetch: (_app, ctx) =>
      withAccessToken(ctx, (accessToken, deadline) =>
        type === 'jsapi'
          ? client.fetchTicket({ path: '/cgi-bin/get_jsapi_ticket', accessToken, deadline, onRetry: ctx.onRetry, onUnsent: ctx.onUnsent })
          : client.fetchTicket({ path: '/cgi-bin/ticket/get', accessToken, type: 'agent_config', deadline, onRetry: ctx.onRetry, onUnsent: ctx.onUnsent }),
      ),
  };
}

/**
 * Fetch with the app's access token (resolved before the lease). When WeChat says that token is
 * dead (40001/40014/42001), the protocol sends it through the guarded forced refresh outside this
 * lease and tries again under a new one.
 */
async function withAccessToken(ctx: FetchContext, call: (accessToken: string, deadline: number) => Promise<Ticket>): Promise<Fetched> {
  const token = ctx.dependencyValue;
  if (token === undefined) throw new Error('a ticket is fetched with an access token');
  try {
    const ticket = await call(token, ctx.deadline);
    return { value: ticket.ticket, expiresIn: ticket.expiresIn };
  } catch (error) {
    if (error instanceof TokenInvalidError) throw new DependencyRejectedError(token, { cause: error });
    throw error;
  }
}
