import type { PlatformApp } from '../apps.js';
import { AuthorizerRevokedError } from '../errors.js';
import { servedSeconds } from '../policy.js';
import { AUTHORIZER_APPID, authorizerName } from '../principals/authorizers.js';
import { covers, type Grant } from './auth.js';
import { json, WeChatAnswer } from './compat-answers.js';
import { compatBody, str, type CompatEndpoint } from './compat-endpoints.js';
import { grantOf, isComponentToken, knowComponentToken, knowServed } from './compat-lookup.js';
import type { EdgeDeps } from './edge.js';
import type { FunctionRouteKey } from './routes.js';

/**
 * A third-party platform's SDK in platform mode (docs/compat.md, "Platform mode"): WeChat's two
 * component token endpoints, answered with what the hub keeps, so that an unmodified SDK (e.g.
 * node-easywechat's OpenPlatform) works by changing only its API base URL.
 *
 * - api_component_token: the `component_appsecret` an SDK sends is a hub API key with the `read`
 *   scope on the platform and on all its authorizers (`<platform>/*`): the component token is worth
 *   every authorizer's token (here, and at WeChat with api_get_authorizer_list). The SDK's
 *   `component_verify_ticket` is ignored: the hub has its own, pushed to its event URL.
 * - api_authorizer_token: the `component_access_token` must be one the hub issued to that platform;
 *   the answer is the hub's token of the authorizer. The SDK's refresh token is ignored and echoed
 *   back: the hub's own refresh token is never handed out (it exists only in the table).
 *
 * Refusals are WeChat's `{"errcode","errmsg"}` with HTTP 200 (compat-routes.ts's wrapper), never
 * a token; keys and tokens are never logged.
 */

const INVALID_KEY = "invalid appsecret: the component_appsecret must be a hub API key with the read scope on this platform and its authorizers (<platform>/*), not the platform's AppSecret";
const INVALID_COMPONENT_TOKEN = 'invalid credential, component_access_token is invalid or not latest';
const NOT_AUTHORIZED = 'component is not authorized by this account';

/**
 * What EasyWeChat's SDKs (node-easywechat, its PHP original) take off `expires_in` before they cache
 * a value: 100 s of the component token, 500 s of an authorizer's. These answers add it to the
 * seconds until the hub replaces the value (servedSeconds, docs/compat.md), so that such an SDK
 * keeps it exactly as long as the hub serves it. Without it, an answer given within that margin of
 * the hub's replacement would make its cache life 0 or less, which node-easywechat's FileCache
 * keeps forever (test/sdk/easywechat-open-platform.test.ts).
 */
export const SDK_CACHE_MARGIN = { component: 100, authorizer: 500 } as const;

/** The compat routes under /cgi-bin/component/ (lib/http/routes.ts): the compiler insists on a handler for each. */
type ComponentRouteKey = Extract<FunctionRouteKey<'compat'>, `${string} /cgi-bin/component/${string}`>;

export const COMPONENT_ENDPOINTS: Record<ComponentRouteKey, CompatEndpoint> = {
  async 'POST /cgi-bin/component/api_component_token'({ event, deps }) {
    const body = compatBody(event);
    const platform = platformOf(deps, str(body.component_appid));
    const key = str(body.component_appsecret);
    if (!key) throw new WeChatAnswer(41004, 'component_appsecret missing');
    const grant = await grantOf(deps, key);
    if (!grant || !mayHandOutComponentToken(grant, platform)) throw new WeChatAnswer(40125, INVALID_KEY);
    const s = await deps.refresher.get(platform.name, 'component_access_token');
    knowComponentToken(deps, platform.name, s);
    return json({ component_access_token: s.value, expires_in: servedSeconds(s, deps.clock.now()) + SDK_CACHE_MARGIN.component });
  },

  async 'POST /cgi-bin/component/api_authorizer_token'({ q, event, deps }) {
    // SDKs send `component_access_token`; WeChat's newer pages write `access_token` (docs/wechat.md §10).
    const componentToken = q.get('component_access_token') ?? q.get('access_token');
    if (!componentToken) throw new WeChatAnswer(41001, 'component_access_token missing');
    const body = compatBody(event);
    const platform = platformOf(deps, str(body.component_appid));
    if (!(await isComponentToken(deps, platform.name, componentToken))) throw new WeChatAnswer(40001, INVALID_COMPONENT_TOKEN);
    const appid = str(body.authorizer_appid);
    if (!appid) throw new WeChatAnswer(41002, 'authorizer_appid missing');
    // An appid no authorizer can have is no authorizer's: refused without a read.
    const app = AUTHORIZER_APPID.test(appid) ? await deps.refresher.load(authorizerName(platform.name, appid)) : undefined;
    if (app?.type !== 'authorizer' || app.status !== 'authorized' || app.componentAppid !== platform.appid) throw new WeChatAnswer(61003, NOT_AUTHORIZED);
    let s;
    try {
      s = await deps.refresher.get(app.name);
    } catch (error) {
      // Revoked since this container read its row.
      if (error instanceof AuthorizerRevokedError) throw new WeChatAnswer(61003, NOT_AUTHORIZED);
      throw error;
    }
    // Its business calls carry this token: they pass without a lookup (and it is in the token index).
    knowServed(deps, app, s);
    return json({
      authorizer_access_token: s.value,
      expires_in: servedSeconds(s, deps.clock.now()) + SDK_CACHE_MARGIN.authorizer,
      // The SDK's own value, as it sent it: the hub's refresh token never leaves the hub.
      authorizer_refresh_token: str(body.authorizer_refresh_token) ?? '',
    });
  },
};

/** The configured platform (with `compat`) of this component appid: 41002 without one, 40013 for one the hub serves no SDK of. */
function platformOf(deps: EdgeDeps, appid: string | undefined): PlatformApp {
  if (!appid) throw new WeChatAnswer(41002, 'component_appid missing');
  for (const name of deps.refresher.appNames) {
    const app = deps.refresher.app(name);
    if (app.type === 'platform' && app.compat && app.appid === appid) return app;
  }
  throw new WeChatAnswer(40013, 'invalid appid');
}

/** The component token opens every authorizer of the platform: `read` on the platform and on `<platform>/*`. */
function mayHandOutComponentToken(grant: Grant, platform: PlatformApp): boolean {
  return grant.scopes.includes('read') && covers(grant.apps, platform.name) && covers(grant.apps, `${platform.name}/*`);
}
