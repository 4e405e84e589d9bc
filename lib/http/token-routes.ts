import * as z from 'zod/mini';
import type { Served } from '../refresher.js';
import { allows } from './auth.js';
import { forcedBody, lifetime, ok, staleValue } from './edge.js';
// Routes are built at load time from wrappers: each call is marked pure, so that a bundle that
// imports this module for something else drops the routes it does not use.
import { withApp, withErrors, withJsonBody, withoutQuery, type HandlersOf } from './pipeline.js';

const refreshBody = /* @__PURE__ */ z.strictObject({ stale_token: /* @__PURE__ */ staleValue('access_token', 'an') });

function tokenBody(t: Served, now: number) {
  return { access_token: t.value, ...lifetime(t, now) };
}

/** GET /v1/apps/{app}/access-token */
export const getTokenRoute = /* @__PURE__ */ withErrors(/* @__PURE__ */ withApp('read', /* @__PURE__ */ withoutQuery(async ({ deps, app }) => ok(tokenBody(await deps.refresher.get(app), deps.clock.now())))));

/**
 * POST /v1/apps/{app}/access-token/refresh, body {"stale_token": "..."}. The token (and its expiry)
 * is in the answer only for a caller that may also read it; a refresh-only caller learns what
 * happened (`refreshed`, `changed`, `reason`), not to what.
 */
export const forceRefreshRoute = /* @__PURE__ */ withErrors(
  /* @__PURE__ */ withApp('refresh', /* @__PURE__ */ withoutQuery(/* @__PURE__ */ withJsonBody(refreshBody, async ({ deps, app, grant, body }) => {
    const result = await deps.refresher.forceRefresh(app, body.stale_token);
    return ok(forcedBody(result, allows(grant, app, 'read') ? tokenBody(result, deps.clock.now()) : undefined));
  }))),
);

/** The getToken function's routes (lib/http/routes.ts): the hottest path, the smallest bundle. */
export const getTokenHandlers: HandlersOf<'getToken'> = {
  'GET /v1/apps/{app}/access-token': getTokenRoute,
  'GET /v1/platforms/{name}/authorizers/{appid}/access-token': getTokenRoute,
};

/** The forceRefresh function's routes. */
export const forceRefreshHandlers: HandlersOf<'forceRefresh'> = {
  'POST /v1/apps/{app}/access-token/refresh': forceRefreshRoute,
  'POST /v1/platforms/{name}/authorizers/{appid}/access-token/refresh': forceRefreshRoute,
};
