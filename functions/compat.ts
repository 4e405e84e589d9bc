import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { hubFromEnvironment } from '../lib/hub.js';

/**
 * WeChat's own paths for unmodified SDKs: GET /cgi-bin/token, POST /cgi-bin/stable_token,
 * GET /cgi-bin/ticket/getticket, and WeCom's GET /cgi-bin/gettoken, /cgi-bin/get_jsapi_ticket,
 * /cgi-bin/ticket/get (plus ANY /cgi-bin/{path+}, answered WeChat's way).
 */
export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> =>
  (await hubFromEnvironment()).compat(event);
