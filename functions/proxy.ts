import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { proxyRoute } from '../lib/http/proxy-route.js';
import { hubFromEnvironment } from '../lib/hub-core.js';

/** ANY /v1/apps/{app}/wechat/{path+}: WeChat's API with the hub's access_token added. */
export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  const hub = await hubFromEnvironment();
  return hub.serve(event, (e, deps) => proxyRoute(e, deps, hub.proxyUpstreams()));
};
