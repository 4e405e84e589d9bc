import { compatHandlers } from './http/compat-routes.js';
import type { HttpEvent, HttpResult } from './http/edge.js';
import { loginHandlers } from './http/login-routes.js';
import { dispatch } from './http/pipeline.js';
import { platformHandlers } from './http/platform-routes.js';
import { proxyHandlers } from './http/proxy-route.js';
import type { FunctionName } from './http/routes.js';
import { statusHandlers } from './http/status-routes.js';
import { ticketsHandlers } from './http/ticket-routes.js';
import { forceRefreshHandlers, getTokenHandlers } from './http/token-routes.js';
import { HubCore } from './hub-core.js';

export { hubFromEnvironment, type HubDeps } from './hub-core.js';

/** Every function's routes (lib/http/routes.ts), each by API Gateway's route key, as its Lambda function dispatches them. */
const FUNCTIONS: { [F in FunctionName]: ReturnType<typeof dispatch> } = {
  getToken: dispatch(getTokenHandlers),
  forceRefresh: dispatch(forceRefreshHandlers),
  tickets: dispatch(ticketsHandlers),
  status: dispatch(statusHandlers),
  compat: dispatch(compatHandlers),
  proxy: dispatch(proxyHandlers),
  login: dispatch(loginHandlers),
  platform: dispatch(platformHandlers),
};

/**
 * The hub with every route, as the local server and the tests use it (each Lambda function takes
 * only its own): one method per Lambda function, serving that function's routes as it would.
 */
export class Hub extends HubCore {
  /** One Lambda function's routes, by the event's route key (an unknown key: 404, or 405 with Allow). */
  route(fn: FunctionName, event: HttpEvent): Promise<HttpResult> {
    return this.serve(event, (e, deps) => FUNCTIONS[fn](e, deps, this));
  }

  /** GET /v1/apps/{app}/access-token */
  getToken(event: HttpEvent): Promise<HttpResult> {
    return this.route('getToken', event);
  }

  /** POST /v1/apps/{app}/access-token/refresh */
  forceRefresh(event: HttpEvent): Promise<HttpResult> {
    return this.route('forceRefresh', event);
  }

  /** GET /v1/apps/{app}/tickets/{type}, POST …/tickets/{type}/refresh, POST /v1/apps/{app}/jsapi-signature */
  tickets(event: HttpEvent): Promise<HttpResult> {
    return this.route('tickets', event);
  }

  /** POST /v1/apps/{app}/login (code2Session), POST /v1/apps/{app}/oauth/token (web authorization). */
  login(event: HttpEvent): Promise<HttpResult> {
    return this.route('login', event);
  }

  /** POST /v1/platforms/{name}/events: a third-party platform's authorization event URL. */
  platform(event: HttpEvent): Promise<HttpResult> {
    return this.route('platform', event);
  }

  /** GET /v1/status, GET /v1/status/{app}/quota (admin) and GET /v1/health. */
  status(event: HttpEvent): Promise<HttpResult> {
    return this.route('status', event);
  }

  /** WeChat's own paths for unmodified SDKs (apps with `compat`). */
  compat(event: HttpEvent): Promise<HttpResult> {
    return this.route('compat', event);
  }

  /** ANY /v1/apps/{app}/wechat/{path+}: the token-injecting proxy. */
  proxy(event: HttpEvent): Promise<HttpResult> {
    return this.route('proxy', event);
  }
}
