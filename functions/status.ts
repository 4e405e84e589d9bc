import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { hubFromEnvironment } from '../lib/hub.js';

/** GET /v1/status and GET /v1/status/{app}/quota (scope admin), GET /v1/health (no auth, no details). */
export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> =>
  (await hubFromEnvironment()).status(event);
