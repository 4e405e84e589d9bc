import type * as z from 'zod/mini';
import type { Scope } from '../config.js';
import type { StatusView, UpstreamStatus } from '../status.js';
import type { Authorizations } from '../platform/authorizations.js';
import type { CredentialItem, CredentialKey, PrincipalRow } from '../store/store.js';
import type { ComponentApi } from '../wechat/component.js';
import type { WeChatClient } from '../wechat/client.js';
import type { Grant } from './auth.js';
import { callerOf, grantedApp, jsonBody, noQuery, notRouted, respond, type EdgeDeps, type HttpEvent, type HttpResult } from './edge.js';
import type { ProxyUpstreams } from './proxy-route.js';
import { allowedMethods, type FunctionName, type FunctionRouteKey } from './routes.js';
import { HttpError } from '../errors.js';

/**
 * How a route is put together: small wrappers, each adding one thing to the request's context
 * (Middy's idea, hand-written: Middy would add to every bundle), e.g.
 *
 *   withErrors(withApp('refresh', withoutQuery(withJsonBody(schema, handler))))
 *
 * withErrors runs the rest under respond() (errors become the documented JSON answers, one access
 * line); withApp checks the caller and the path's app for a scope; withoutQuery refuses a query;
 * withJsonBody parses and checks the body; also() adds a route's own step where it belongs (the
 * order of the checks decides which refusal a request with several faults gets, and is kept).
 */

/** What routes take from the hub beyond EdgeDeps (a HubCore has it all). */
export interface HubServices {
  readonly wechat: WeChatClient;
  readonly statusView: StatusView;
  proxyUpstreams(): ProxyUpstreams;
  upstreamStatus(): UpstreamStatus;
  /** Claim a one-time name (a pushed event's signature) while it stands (CredentialStore.claimOnce). */
  claimOnce(name: string, claim: { now: number; until: number; attempt: string }): Promise<boolean>;
  /** Give back a claim of this attempt (the work it guarded failed). */
  releaseOnce(name: string, attempt: string): Promise<void>;
  /** The principal rows (lib/principals/sync.ts), in name order, a page at a time (only names starting with `prefix`). */
  listPrincipals(options: { limit: number; cursor?: string; prefix?: string }): Promise<{ principals: PrincipalRow[]; cursor?: string }>;
  /** A credential's item as stored (for the status of a platform's authorizers; never served from here). */
  readCredential(key: CredentialKey): Promise<CredentialItem | undefined>;
  /** The platforms' component API (authorization links). */
  readonly component: ComponentApi;
  /** The platforms' authorizations: codes exchanged, authorizers registered and revoked. */
  readonly authorizations: Authorizations;
}

/** One route of a function: the API Gateway event in, the answer out. */
export type RouteHandler = (event: HttpEvent, deps: EdgeDeps, hub: HubServices) => Promise<HttpResult>;

/** One function's handler map: a handler for each of its routes in the table (lib/http/routes.ts), and nothing else. */
export type HandlersOf<F extends FunctionName> = Record<FunctionRouteKey<F>, RouteHandler>;

export interface RouteContext {
  event: HttpEvent;
  deps: EdgeDeps;
  hub: HubServices;
}
export type Handler<C> = (ctx: C) => Promise<HttpResult>;
/** A route's context once withApp has checked the caller and the app. */
export type AppContext = RouteContext & { app: string; grant: Grant };

/**
 * A function's routes behind one entry point, by API Gateway's route key (`GET /v1/status`); a key
 * none of them has is the hub's 404, or 405 with Allow when another method has this path.
 */
export function dispatch(handlers: Partial<Record<string, RouteHandler>>): RouteHandler {
  return (event, deps, hub) => {
    const handler = Object.hasOwn(handlers, event.routeKey) ? handlers[event.routeKey] : undefined;
    if (handler) return handler(event, deps, hub);
    return Promise.resolve(notRouted(event, allowedMethods(event.rawPath ?? '')));
  };
}

/** The route under respond(): its errors are the documented JSON errors, and one access line is logged. */
export function withErrors(handler: Handler<RouteContext>): RouteHandler {
  return (event, deps, hub) => respond(deps, () => handler({ event, deps, hub }));
}

/** The path's app, once the caller is known and may use `scope` on it (400, 401, 403 or 404 otherwise). */
export function withApp(scope: Scope, handler: Handler<AppContext>): Handler<RouteContext> {
  return async (ctx) => handler({ ...ctx, ...(await grantedApp(ctx.event, ctx.deps, scope)) });
}

/** The caller, who must hold `scope` (on some app: the route checks which); 401 or 403 otherwise. */
export function withScope(scope: Scope, handler: Handler<RouteContext & { grant: Grant }>): Handler<RouteContext> {
  return async (ctx) => {
    const grant = await callerOf(ctx.event, ctx.deps);
    if (!grant.scopes.includes(scope)) throw new HttpError(403, 'forbidden', `this caller lacks the "${scope}" scope`);
    ctx.deps.logger.appendKeys({ caller: grant.name });
    return handler({ ...ctx, grant });
  };
}

/** 400 `unexpected_query` for a route that takes no query parameters. */
export function withoutQuery<C extends RouteContext>(handler: Handler<C>): Handler<C> {
  return (ctx) => {
    noQuery(ctx.event);
    return handler(ctx);
  };
}

/** The JSON body, checked by `schema` (a strict object): 415, 413 or 400 naming the field otherwise. */
export function withJsonBody<C extends RouteContext, S extends z.ZodMiniObject>(schema: S, handler: Handler<C & { body: z.output<S> }>): Handler<C> {
  return (ctx) => handler({ ...ctx, body: jsonBody(ctx.event, schema) });
}

/** A route's own step (what it looks up or refuses), its result added to the context. */
export function also<C, X extends object>(step: (ctx: C) => X | Promise<X>, handler: Handler<C & X>): Handler<C> {
  return async (ctx) => handler({ ...ctx, ...(await step(ctx)) });
}
