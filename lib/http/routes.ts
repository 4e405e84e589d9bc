import type { Scope } from '../config.js';

/**
 * THE route table of the HTTP API: every route of serverless.yml (test/unit/route-table.test.ts
 * checks the file against it, both ways, with the authorizer overrides), and what the local server
 * routes by (lib/http/local-server.ts).
 *
 * Data only, no handler imports: each Lambda function's bundle must carry only its own route code.
 * The handlers are mapped per function, in the function's own route module (`getTokenHandlers` in
 * lib/http/token-routes.ts, `ticketsHandlers` in lib/http/ticket-routes.ts, …): a plain object
 * typed `HandlersOf<'tickets'>`, so the compiler insists on a handler for each of the function's
 * routes and on nothing else, and esbuild keeps only the map (and the code) the function imports.
 * (Lazy `import()`s in the table would not do: without code splitting esbuild inlines them, and
 * every bundle would carry every route.)
 *
 * - `method`, `path`: API Gateway's syntax (`ANY`, `{app}`, greedy `{path+}`); the route key
 *   `METHOD /path` is what API Gateway puts in `event.routeKey`, and what functions dispatch on.
 * - `scope`: what the caller's key (or IAM principal) needs on the app; `none`: no Authorization
 *   header is checked (health; the compat paths, whose handler checks the hub key an SDK sends as
 *   its `secret` or the token it carries).
 * - `authorizer`: whether API Gateway's stage authorizer (param `authorizer`: none for keys, AWS_IAM)
 *   applies: serverless.yml's `resources.extensions` give every route its AuthorizationType.
 * - `function`: the Lambda function (serverless.yml `functions:`) that serves it. refreshTick is
 *   not HTTP and has no route.
 */
export const ROUTES = [
  { method: 'GET', path: '/v1/apps/{app}/access-token', scope: 'read', authorizer: true, function: 'getToken' },
  { method: 'POST', path: '/v1/apps/{app}/access-token/refresh', scope: 'refresh', authorizer: true, function: 'forceRefresh' },
  { method: 'GET', path: '/v1/apps/{app}/tickets/{type}', scope: 'read', authorizer: true, function: 'tickets' },
  { method: 'POST', path: '/v1/apps/{app}/tickets/{type}/refresh', scope: 'refresh', authorizer: true, function: 'tickets' },
  { method: 'POST', path: '/v1/apps/{app}/jsapi-signature', scope: 'read', authorizer: true, function: 'tickets' },
  { method: 'GET', path: '/v1/status', scope: 'admin', authorizer: true, function: 'status' },
  { method: 'GET', path: '/v1/status/{app}/quota', scope: 'admin', authorizer: true, function: 'status' },
  { method: 'GET', path: '/v1/principals', scope: 'admin', authorizer: true, function: 'status' },
  // Load balancers and uptime checks cannot sign or hold a key: no authorizer in either mode, no details.
  { method: 'GET', path: '/v1/health', scope: 'none', authorizer: false, function: 'status' },
  // WeChat's own paths for unmodified SDKs: they cannot sign, so no authorizer in either mode.
  { method: 'GET', path: '/cgi-bin/token', scope: 'none', authorizer: false, function: 'compat' },
  { method: 'POST', path: '/cgi-bin/stable_token', scope: 'none', authorizer: false, function: 'compat' },
  { method: 'GET', path: '/cgi-bin/ticket/getticket', scope: 'none', authorizer: false, function: 'compat' },
  { method: 'GET', path: '/cgi-bin/gettoken', scope: 'none', authorizer: false, function: 'compat' },
  { method: 'GET', path: '/cgi-bin/get_jsapi_ticket', scope: 'none', authorizer: false, function: 'compat' },
  { method: 'GET', path: '/cgi-bin/ticket/get', scope: 'none', authorizer: false, function: 'compat' },
  // A third-party platform's SDK in platform mode (lib/http/compat-component.ts): the component token, an authorizer's token.
  { method: 'POST', path: '/cgi-bin/component/api_component_token', scope: 'none', authorizer: false, function: 'compat' },
  { method: 'POST', path: '/cgi-bin/component/api_authorizer_token', scope: 'none', authorizer: false, function: 'compat' },
  // Everything no other route takes: an SDK's other calls (passed on), WeChat's /sns/ logins, the hub's 404/405.
  { method: 'ANY', path: '/{path+}', scope: 'none', authorizer: false, function: 'compat' },
  { method: 'ANY', path: '/v1/apps/{app}/wechat/{path+}', scope: 'proxy', authorizer: true, function: 'proxy' },
  { method: 'POST', path: '/v1/apps/{app}/login', scope: 'login', authorizer: true, function: 'login' },
  { method: 'POST', path: '/v1/apps/{app}/oauth/token', scope: 'login', authorizer: true, function: 'login' },
  // A third-party platform's authorization event URL: WeChat calls it, with no key (the push is signed).
  { method: 'POST', path: '/v1/platforms/{name}/events', scope: 'none', authorizer: false, function: 'platform' },
  // The page WeChat's authorization page sends the administrator back to: a browser, no key (the auth code is WeChat's).
  { method: 'GET', path: '/v1/platforms/{name}/authorized', scope: 'none', authorizer: false, function: 'platform' },
  { method: 'POST', path: '/v1/platforms/{name}/authorization-links', scope: 'admin', authorizer: true, function: 'platform' },
  { method: 'GET', path: '/v1/platforms/{name}/authorizers', scope: 'admin', authorizer: true, function: 'platform' },
  // An authorizer (the principal `<name>/<appid>`) is served by the same functions and handlers as an app.
  { method: 'GET', path: '/v1/platforms/{name}/authorizers/{appid}/access-token', scope: 'read', authorizer: true, function: 'getToken' },
  { method: 'POST', path: '/v1/platforms/{name}/authorizers/{appid}/access-token/refresh', scope: 'refresh', authorizer: true, function: 'forceRefresh' },
  { method: 'GET', path: '/v1/platforms/{name}/authorizers/{appid}/tickets/{type}', scope: 'read', authorizer: true, function: 'tickets' },
  { method: 'POST', path: '/v1/platforms/{name}/authorizers/{appid}/tickets/{type}/refresh', scope: 'refresh', authorizer: true, function: 'tickets' },
  { method: 'POST', path: '/v1/platforms/{name}/authorizers/{appid}/jsapi-signature', scope: 'read', authorizer: true, function: 'tickets' },
  { method: 'ANY', path: '/v1/platforms/{name}/authorizers/{appid}/wechat/{path+}', scope: 'proxy', authorizer: true, function: 'proxy' },
] as const satisfies readonly RouteSpec[];

export interface RouteSpec {
  method: 'GET' | 'POST' | 'ANY';
  path: string;
  scope: Scope | 'none';
  authorizer: boolean;
  function: FunctionName;
}

/** The Lambda functions that serve HTTP routes (serverless.yml `functions:`, less refreshTick). */
export type FunctionName = 'getToken' | 'forceRefresh' | 'tickets' | 'status' | 'compat' | 'proxy' | 'login' | 'platform';
export type Route = (typeof ROUTES)[number];
/** `METHOD /path`, per route (distributed over a union of routes). */
export type RouteKeyOf<R extends RouteSpec> = R extends RouteSpec ? `${R['method']} ${R['path']}` : never;
export type RouteKey = RouteKeyOf<Route>;
/** The route keys one function serves. */
export type FunctionRouteKey<F extends FunctionName> = RouteKeyOf<Extract<Route, { function: F }>>;

export const routeKeyOf = (r: RouteSpec): string => `${r.method} ${r.path}`;

/** The routes of one function. */
export function routesOf(fn: FunctionName): Route[] {
  return ROUTES.filter((r) => r.function === fn);
}

interface Compiled {
  route: Route;
  pattern: RegExp;
  params: string[];
  greedy: boolean;
}

/** Each route's path as a pattern: `{name}` one segment, `{name+}` the rest (at least one character). */
const COMPILED: Compiled[] = ROUTES.map((route) => {
  const params: string[] = [];
  const source = route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)(\\\+)?\}/g, (_, name: string, plus?: string) => {
    params.push(name);
    return plus ? '(.+)' : '([^/]+)';
  });
  return { route, pattern: new RegExp(`^${source}$`), params, greedy: route.path.includes('+}') };
});
// API Gateway prefers a route without a greedy variable, then the longer of two greedy ones.
const BY_SPECIFICITY = [...COMPILED].sort((a, b) => Number(a.greedy) - Number(b.greedy) || (a.greedy ? b.route.path.length - a.route.path.length : 0));

export interface Match {
  route: Route;
  /** The path's variables, as they came (still percent-encoded). */
  params: Record<string, string>;
}

/** The route API Gateway would pick for `method` on `path`, as it would pick it (or none: the path "/"). */
export function matchRoute(method: string, path: string): Match | undefined {
  for (const c of BY_SPECIFICITY) {
    if (c.route.method !== 'ANY' && c.route.method !== method) continue;
    const m = c.pattern.exec(path);
    if (m) return { route: c.route, params: Object.fromEntries(c.params.map((p, i) => [p, m[i + 1]!])) };
  }
  return undefined;
}

/** The methods of the hub's own routes whose path (other than the catch-all) is this one, if any. */
export function allowedMethods(path: string): string[] | undefined {
  const methods = COMPILED.filter((c) => c.route.path !== '/{path+}' && c.pattern.test(path)).map((c) => c.route.method);
  return methods.length ? [...new Set(methods)] : undefined;
}

/** WeChat's token and ticket endpoints (the compat routes other than the catch-all) at exactly this path. */
export function compatEndpointAt(path: string): Route | undefined {
  return ROUTES.find((r) => r.function === 'compat' && r.path !== '/{path+}' && r.path === path);
}
