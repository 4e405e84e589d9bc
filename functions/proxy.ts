import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { hubFromEnvironment } from '../lib/hub.js';

/** ANY /v1/apps/{app}/wechat/{path+}: WeChat's API with the hub's access_token added. */
export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> =>
  (await hubFromEnvironment()).proxy(event);
