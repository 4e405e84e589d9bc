import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { hubFromEnvironment } from '../lib/hub.js';

/** POST /v1/apps/{app}/access-token/refresh, body {"stale_token": "..."} */
export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> =>
  (await hubFromEnvironment()).forceRefresh(event);
