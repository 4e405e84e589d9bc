import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { statusRoutes } from '../lib/http/status-routes.js';
import { hubFromEnvironment } from '../lib/hub-core.js';

/** GET /v1/status and GET /v1/status/{app}/quota (scope admin), GET /v1/health (no auth, no details). */
export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  const hub = await hubFromEnvironment();
  return hub.serve(event, (e, deps) => statusRoutes(e, deps, { view: hub.statusView, wechat: hub.wechat, upstream: () => hub.upstreamStatus() }));
};
