import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ticketRoutes } from '../lib/http/ticket-routes.js';
import { hubFromEnvironment } from '../lib/hub-core.js';

/**
 * The JS-SDK family: GET /v1/apps/{app}/tickets/{type}, POST /v1/apps/{app}/tickets/{type}/refresh
 * and POST /v1/apps/{app}/jsapi-signature (one function: they share code and a warm container).
 */
export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  const hub = await hubFromEnvironment();
  return hub.serve(event, ticketRoutes);
};
