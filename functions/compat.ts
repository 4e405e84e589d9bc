import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { compatRoutes } from '../lib/http/compat-routes.js';
import { hubFromEnvironment } from '../lib/hub-core.js';

/**
 * WeChat's own paths for unmodified SDKs: GET /cgi-bin/token, POST /cgi-bin/stable_token,
 * GET /cgi-bin/ticket/getticket, and WeCom's GET /cgi-bin/gettoken, /cgi-bin/get_jsapi_ticket,
 * /cgi-bin/ticket/get; ANY /{path+} passes an SDK's other calls on (or answers WeChat's way), and
 * WeChat's login paths (/sns/jscode2session, /sns/oauth2/…) with a hub key as the secret.
 */
export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  const hub = await hubFromEnvironment();
  return hub.serve(event, (e, deps) => compatRoutes(e, deps, () => hub.proxyUpstreams(), hub.wechat));
};
