import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { getTokenRoute } from '../lib/http/edge.js';
import { hubFromEnvironment } from '../lib/hub-core.js';

/** GET /v1/apps/{app}/access-token */
export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  const hub = await hubFromEnvironment();
  return hub.serve(event, getTokenRoute);
};
