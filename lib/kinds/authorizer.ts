import * as z from 'zod/mini';
import type { HubApp } from '../apps.js';
import type { WeChatClient } from '../wechat/client.js';
import type { ComponentApi } from '../wechat/component.js';
import { RetryLaterError, TokenInvalidError, UpstreamError, WeChatError } from '../wechat/errors.js';
import { attributes } from './attributes.js';
import { DependencyRejectedError, type CredentialKind, type FetchContext } from './kind.js';

/** 61023: the refresh token is not (or no longer) the account's current one (docs/wechat.md §10). */
export const REFRESH_TOKEN_REFUSED = 61023;

const authorizer = attributes(z.object({ appid: z.string(), platform: z.string(), componentAppid: z.string() }), 'authorizer access_token');

/** What an authorization (api_query_auth, lib/platform/authorization.ts) hands the kind to store. */
export interface AuthorizedTokens {
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
}

/** The state key of the refresh token: it lives in the token's own item, written by the same fenced write. */
export const REFRESH_TOKEN = 'refreshToken';

/**
 * An authorizer's access token (docs/wechat.md §10), store id `access_token` (so the token routes,
 * the tickets and the proxy of an Official Account serve it as they are): api_authorizer_token with
 * the platform's component token (resolved before the lease) and the refresh token kept in the
 * token's own state. The refresh token WeChat answers is written by the same fenced write as the
 * token it came with, before that token is served; a refresh token exists only in the table.
 *
 * 61023 (the refresh token is not the current one: another hub's write was lost, a re-authorization
 * replaced it, WeChat rotated it): the current one is read from api_get_authorizer_list and the
 * fetch tried once more with it (the same one as stored too: a 61023 that passes); when that is
 * refused as well, or the list does not have the account, the failure stands as 61023, a
 * configuration error the status view shows as "needs re-authorization" and an alarm watches
 * (lib/metrics.ts). Probed with get_api_domain_ip (an Official Account's or a Mini Program's).
 */
export function authorizerAccessToken(api: ComponentApi, client: WeChatClient): CredentialKind {
  return {
    id: 'access_token',
    dependsOn: { kind: 'component_access_token', principal: (app) => authorizer(app).platform },
    prewarm: true,
    charges: (app, { forced, forcedDailyBudget }) => [{ scope: app.name, api: 'authorizer_token', period: 'day', forcedBudget: forced ? forcedDailyBudget : undefined }],
    async fetch(app, ctx) {
      const a = authorizer(app);
      const componentToken = ctx.dependencyValue;
      if (componentToken === undefined) throw new Error("an authorizer's token is fetched with its platform's component token");
      const call = (refreshToken: string) =>
        api.authorizerToken({ appid: a.componentAppid, componentToken, authorizerAppid: a.appid, refreshToken, deadline: ctx.deadline, onRetry: ctx.onRetry, onUnsent: ctx.onUnsent });
      const stored = ctx.old?.state?.[REFRESH_TOKEN];
      try {
        try {
          if (stored === undefined) throw new UpstreamError(REFRESH_TOKEN_REFUSED, 'no refresh token is stored');
          const t = await call(stored);
          return { value: t.accessToken, expiresIn: t.expiresIn, state: { [REFRESH_TOKEN]: t.refreshToken } };
        } catch (error) {
          if (!refusedRefreshToken(error)) throw error;
          const current = await currentRefreshToken(api, a, componentToken, ctx).catch(async (listError: unknown) => {
            if (stored === undefined) await ctx.onUnsent();
            throw listError;
          });
          if (current === undefined) {
            // With none stored, no api_authorizer_token call was made: its count is taken back.
            if (stored === undefined) await ctx.onUnsent();
            throw error;
          }
          // The list's refresh token is the account's current one (a different one, or the stored one
          // again: a 61023 that passes is asked once more, so that one refusal does not make it
          // "needs re-authorization"): one more call, counted as one.
          if (stored !== undefined) await ctx.onRetry();
          const t = await call(current);
          return { value: t.accessToken, expiresIn: t.expiresIn, state: { [REFRESH_TOKEN]: t.refreshToken } };
        }
      } catch (error) {
        // The component token is dead: the protocol replaces it (guarded) and tries again.
        if (error instanceof TokenInvalidError) throw new DependencyRejectedError(componentToken, { cause: error });
        throw error;
      }
    },
    ingest(_app, pushed) {
      const t = pushed as AuthorizedTokens;
      return { value: t.accessToken, expiresIn: t.expiresIn, state: { [REFRESH_TOKEN]: t.refreshToken } };
    },
    // get_api_domain_ip takes the token of an Official Account and of a Mini Program alike, and spends no token quota.
    probe: (_app, value, deadline) => client.isTokenValid(value, deadline, '/cgi-bin/get_api_domain_ip'),
    // A refresh token WeChat refuses will not work by asking again: the long backoff, no block.
    failurePolicy: (error) => (refusedRefreshToken(error) ? { configuration: true, blockedForMs: 0 } : undefined),
  };
}

const refusedRefreshToken = (error: unknown): boolean => error instanceof WeChatError && error.errcode === REFRESH_TOKEN_REFUSED;

/**
 * The account's current refresh token from api_get_authorizer_list (page by page), or undefined when
 * it is not listed. A list that fails throws its own error: the refresh failed for a reason that
 * passes (WeChat busy), not because the account must authorize again.
 */
async function currentRefreshToken(api: ComponentApi, a: { appid: string; componentAppid: string }, componentToken: string, ctx: FetchContext): Promise<string | undefined> {
  const deadline = () => {
    if (ctx.now() >= ctx.deadline) throw new RetryLaterError(undefined, 'no time was left to read api_get_authorizer_list');
    return ctx.deadline;
  };
  for await (const list of api.authorizerPages({ appid: a.componentAppid, componentToken, deadline })) {
    const found = list.find((x) => x.authorizerAppid === a.appid);
    if (found) return found.refreshToken;
  }
  return undefined;
}

/** Whether an authorizer's token item records that its refresh token was refused and none could be recovered. */
export const needsReauthorization = (app: HubApp, lastErrorCode: string | undefined): boolean =>
  app.type === 'authorizer' && lastErrorCode !== undefined && lastErrorCode.endsWith(`:${REFRESH_TOKEN_REFUSED}`);
