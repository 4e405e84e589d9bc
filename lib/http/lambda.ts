import { hubFromEnvironment } from '../hub-core.js';
import type { HttpEvent, HttpResult } from './edge.js';
import { dispatch, type RouteHandler } from './pipeline.js';

/**
 * A Lambda function's handler: its routes (one function's handler map, lib/http/routes.ts), by
 * API Gateway's route key, served by this container's hub (built on first use).
 */
export function lambdaHandler(handlers: Partial<Record<string, RouteHandler>>): (event: HttpEvent) => Promise<HttpResult> {
  const route = dispatch(handlers);
  return async (event) => {
    const hub = await hubFromEnvironment();
    return hub.serve(event, (e, deps) => route(e, deps, hub));
  };
}
