import { compatRoutes } from './http/compat-routes.js';
import { forceRefreshRoute, getTokenRoute, type HttpEvent, type HttpResult } from './http/edge.js';
import { loginRoutes } from './http/login-routes.js';
import { proxyRoute } from './http/proxy-route.js';
import { statusRoutes } from './http/status-routes.js';
import { ticketRoutes } from './http/ticket-routes.js';
import { HubCore } from './hub-core.js';

export { hubFromEnvironment, type HubDeps } from './hub-core.js';

/** The hub with every route, as the local server and the tests use it (each Lambda function takes only its own). */
export class Hub extends HubCore {
  getToken(event: HttpEvent): Promise<HttpResult> {
    return this.serve(event, getTokenRoute);
  }

  forceRefresh(event: HttpEvent): Promise<HttpResult> {
    return this.serve(event, forceRefreshRoute);
  }

  /** GET /v1/apps/{app}/tickets/{type}, POST …/tickets/{type}/refresh, POST /v1/apps/{app}/jsapi-signature */
  tickets(event: HttpEvent): Promise<HttpResult> {
    return this.serve(event, ticketRoutes);
  }

  /** POST /v1/apps/{app}/login (code2Session), POST /v1/apps/{app}/oauth/token (web authorization). */
  login(event: HttpEvent): Promise<HttpResult> {
    return this.serve(event, (e, deps) => loginRoutes(e, deps, { wechat: this.wechat }));
  }

  /** GET /v1/status, GET /v1/status/{app}/quota (admin) and GET /v1/health. */
  status(event: HttpEvent): Promise<HttpResult> {
    return this.serve(event, (e, deps) => statusRoutes(e, deps, { view: this.statusView, wechat: this.wechat, upstream: () => this.upstreamStatus() }));
  }

  /** WeChat's own paths for unmodified SDKs (apps with `compat`). */
  compat(event: HttpEvent): Promise<HttpResult> {
    return this.serve(event, (e, deps) => compatRoutes(e, deps, () => this.proxyUpstreams(), this.wechat));
  }

  /** ANY /v1/apps/{app}/wechat/{path+}: the token-injecting proxy. */
  proxy(event: HttpEvent): Promise<HttpResult> {
    return this.serve(event, (e, deps) => proxyRoute(e, deps, this.proxyUpstreams()));
  }
}
