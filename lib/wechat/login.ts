import * as z from 'zod/mini';
import { RetryLaterError, UpstreamError, WeChatError } from './errors.js';
import { errorResponse, isError } from './responses.js';

/**
 * The two calls that exchange a user's login `code` with the AppSecret itself (docs/wechat.md §13):
 * a Mini Program's code2Session and web authorization's (Official Accounts, Open Platform website
 * and mobile apps) user access token. What WeChatClient.exchangeCode sends and what it accepts back.
 *
 * A code is good once, within 5 minutes, so nothing here is cached, and only WeChat's "busy" (-1)
 * is worth asking again: every other errcode is WeChat's answer about this code or this user
 * (40029 invalid code, 45011 too many logins of this user, 40226 a high-risk user), final.
 */

export type LoginFlow = 'code2session' | 'oauth';

export const LOGIN_PATHS: Readonly<Record<LoginFlow, string>> = {
  code2session: '/sns/jscode2session',
  oauth: '/sns/oauth2/access_token',
};

/** The query of a login call: appid, the AppSecret, the user's code, grant_type. */
export function loginQuery(flow: LoginFlow, appid: string, secret: string, code: string): Record<string, string> {
  return flow === 'code2session'
    ? { appid, secret, js_code: code, grant_type: 'authorization_code' }
    : { appid, secret, code, grant_type: 'authorization_code' };
}

const id = z.string().check(z.minLength(1), z.maxLength(256));
const secretValue = z.string().check(z.minLength(1), z.maxLength(2048));

/** code2Session's answer: the user's openid, the session key (and unionid when the user has one). */
export const sessionResponse = z.looseObject({ openid: id, session_key: secretValue, unionid: z.optional(id) });
/** Web authorization's answer: the user's own access token (not the app's), its refresh token, who and what scope. */
export const userTokenResponse = z.looseObject({
  access_token: secretValue,
  expires_in: z.number().check(z.int(), z.positive()),
  refresh_token: secretValue,
  openid: id,
  scope: z.string().check(z.maxLength(256)),
  unionid: z.optional(id),
  is_snapshotuser: z.optional(z.number()),
});

export type SessionAnswer = z.output<typeof sessionResponse>;
export type UserTokenAnswer = z.output<typeof userTokenResponse>;

/**
 * WeChat said no to this login (any errcode but -1): never retried, surfaced with the errcode.
 * The message holds the errcode and WeChat's errmsg, never the code, the secret or the URL.
 */
export class LoginRefusedError extends WeChatError {
  override readonly name = 'LoginRefusedError';
  readonly kind = 'upstream';
  declare readonly errcode: number;
}

/**
 * WeChat's answer to a login call: the session or user token, or the error to throw
 * (RetryLaterError for -1, which the client retries inside its deadline; LoginRefusedError for any
 * other errcode; UpstreamError for an answer that is neither).
 */
export function loginAnswer(flow: LoginFlow, body: unknown): SessionAnswer | UserTokenAnswer {
  if (!isError(body)) {
    const ok = (flow === 'code2session' ? sessionResponse : userTokenResponse).safeParse(body);
    if (ok.success) return ok.data;
  }
  throw loginError(body);
}

function loginError(body: unknown): WeChatError {
  const err = errorResponse.safeParse(body);
  if (!err.success || err.data.errcode === 0) return new UpstreamError(undefined, 'WeChat answered a login without a session or an errcode');
  const { errcode, errmsg = '' } = err.data;
  return errcode === -1 ? new RetryLaterError(errcode, errmsg) : new LoginRefusedError(errcode, errmsg);
}
