import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { AuthorizerApp, PlatformApp } from '../apps.js';
import type { Clock } from '../clock.js';
import type { AuthorizedTokens } from '../kinds/authorizer.js';
import { authorizerName, authorizerRow, setAuthorizerStatus } from '../principals/authorizers.js';
import type { Refresher } from '../refresher.js';
import { dueNow } from '../scheduler/schedule.js';
import type { CredentialStore } from '../store/store.js';
import type { Authorization, ComponentApi } from '../wechat/component.js';
import { TokenInvalidError } from '../wechat/errors.js';

/** WeChat's authorization code lives 10 minutes: a code is claimed that long, so the event and the redirect use it once. */
const AUTH_CODE_CLAIM_MS = 10 * 60_000;
/** How long WeChat's answer to api_query_auth may take. */
const CALL_MS = 10_000;

export interface AuthorizationsPort {
  refresher: Refresher;
  store: CredentialStore;
  component: ComponentApi;
  clock: Clock;
  log: Logger;
}

/** What an authorization code came to. */
export type Authorized =
  | { done: true; authorizer: AuthorizerApp }
  /** The event or the redirect carrying the same code completed it, or is completing it now. */
  | { done: false };

/**
 * A platform's authorizations (docs/wechat.md §10): an authorization code (from the authorization
 * event, or the redirect after the authorization page) is exchanged with api_query_auth once, the
 * authorizer registered (its row) and its token and refresh token stored through the protocol, in
 * one fenced write, before anything serves them; an `unauthorized` event marks it revoked (the
 * record is kept; the tick stops refreshing it).
 */
export class Authorizations {
  constructor(private readonly p: AuthorizationsPort) {}

  /**
   * Complete an authorization with its code. The code is claimed first (the event and the redirect
   * both carry it): the second caller is told it is done elsewhere. A failure gives the claim back,
   * so that WeChat's retry of the event, or the administrator's reload of the page, completes it.
   */
  async authorize(platform: PlatformApp, code: string): Promise<Authorized> {
    const claim = `authcode#${platform.name}#${createHash('sha256').update(code).digest('base64url')}`;
    const attempt = randomUUID();
    const now = this.p.clock.now();
    if (!(await this.p.store.claimOnce(claim, { now, until: now + AUTH_CODE_CLAIM_MS, attempt }))) return { done: false };
    try {
      const auth = await this.#queryAuth(platform, code);
      return { done: true, authorizer: await this.#register(platform, auth) };
    } catch (error) {
      await this.p.store.releaseOnce(claim, attempt).catch(() => undefined);
      throw error;
    }
  }

  /** The account revoked its authorization: its row says so (kept), nothing of it is served, the tick takes it out of the due index. */
  async revoke(platform: PlatformApp, appid: string): Promise<AuthorizerApp | undefined> {
    const revoked = await setAuthorizerStatus(this.p.store, platform, appid, 'revoked', this.p.clock.now());
    if (revoked) this.p.refresher.principals.remember(revoked);
    return revoked;
  }

  /** api_query_auth with the component token; a component token WeChat calls dead is replaced (guarded) and the call made once more. */
  async #queryAuth(platform: PlatformApp, code: string): Promise<Authorization> {
    const call = async (componentToken: string) =>
      this.p.component.queryAuth({ appid: platform.appid, componentToken, code, deadline: this.p.clock.now() + CALL_MS });
    const token = (await this.p.refresher.get(platform.name, 'component_access_token')).value;
    try {
      return await call(token);
    } catch (error) {
      if (!(error instanceof TokenInvalidError)) throw error;
      const fresh = await this.p.refresher.forceRefresh(platform.name, token, 'component_access_token', { observed: true });
      return call(fresh.value);
    }
  }

  /** The row first (a token without its principal would be taken out of the index), then the tokens, through the lease and the fence. */
  async #register(platform: PlatformApp, auth: Authorization): Promise<AuthorizerApp> {
    const now = this.p.clock.now();
    const { row, app } = authorizerRow(platform, { appid: auth.authorizerAppid, status: 'authorized', funcs: auth.funcs, authorizedAt: now }, now);
    await this.p.store.putPrincipal(row);
    this.p.refresher.principals.remember(app);
    // In the due index before the tokens are written: an ingest that fails leaves the tick to fetch
    // them (with the list's refresh token), never an authorized row nothing looks at.
    const key = { app: app.name, kind: 'access_token' };
    await this.p.store.schedule(key, dueNow(key, now), { ifUnscheduled: true });
    const tokens: AuthorizedTokens = { accessToken: auth.accessToken, expiresIn: auth.expiresIn, refreshToken: auth.refreshToken };
    const { wrote } = await this.p.refresher.ingest(app.name, 'access_token', tokens);
    if (!wrote) throw new Error("the authorization's tokens were not written");
    this.p.log.info('an account authorized the platform', { platform: platform.name, authorizer: auth.authorizerAppid, funcs: auth.funcs.length });
    return app;
  }
}

export { authorizerName };
