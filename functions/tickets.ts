import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { hubFromEnvironment } from '../lib/hub.js';

/**
 * The JS-SDK family: GET /v1/apps/{app}/tickets/{type}, POST /v1/apps/{app}/tickets/{type}/refresh
 * and POST /v1/apps/{app}/jsapi-signature (one function: they share code and a warm container).
 */
export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> =>
  (await hubFromEnvironment()).tickets(event);
