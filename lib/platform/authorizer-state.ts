import type { AuthorizerApp } from '../apps.js';
import { needsReauthorization } from '../kinds/authorizer.js';
import { secondsLeft, servable } from '../policy.js';
import type { CredentialItem } from '../store/store.js';

/**
 * An authorizer as an operator sees it (docs/wechat.md §10): `fresh` (its token is valid and its
 * last refresh worked), `failing` (the last refresh failed, or it has no valid token now),
 * `needs_reauthorization` (WeChat refused its refresh token and api_get_authorizer_list had no
 * other: the account's administrator must authorize the platform again), `revoked` (it revoked
 * the authorization; the record is kept).
 */
export type AuthorizerState = 'fresh' | 'failing' | 'needs_reauthorization' | 'revoked';
export const AUTHORIZER_STATES: readonly AuthorizerState[] = ['fresh', 'failing', 'needs_reauthorization', 'revoked'];

export function authorizerState(app: AuthorizerApp, token: CredentialItem | undefined, now: number): AuthorizerState {
  if (app.status === 'revoked') return 'revoked';
  if (token && token.failures > 0 && needsReauthorization(app, token.lastError?.code)) return 'needs_reauthorization';
  if (!token || !servable(token, 0, undefined, now) || token.failures > 0) return 'failing';
  return 'fresh';
}

/** One authorizer in the platform's list: who it is, its state, and its token's life (never the token or its refresh token). */
export function authorizerSummary(app: AuthorizerApp, token: CredentialItem | undefined, now: number) {
  return {
    appid: app.appid,
    state: authorizerState(app, token, now),
    authorizedAt: new Date(app.authorizedAt).toISOString(),
    ...(app.revokedAt === undefined ? {} : { revokedAt: new Date(app.revokedAt).toISOString() }),
    funcs: app.funcs,
    ...(token?.expiresAt !== undefined && app.status !== 'revoked' ? { secondsLeft: secondsLeft(token.expiresAt, now) } : {}),
    ...(token?.lastError ? { lastError: { code: token.lastError.code, message: token.lastError.message, at: new Date(token.lastError.at).toISOString() } } : {}),
  };
}
