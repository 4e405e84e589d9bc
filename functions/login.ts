import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { loginRoutes } from '../lib/http/login-routes.js';
import { hubFromEnvironment } from '../lib/hub-core.js';

/**
 * Logins through the hub (scope login): POST /v1/apps/{app}/login (a Mini Program's code2Session)
 * and POST /v1/apps/{app}/oauth/token (web authorization), the user's code exchanged with the AppSecret.
 */
export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  const hub = await hubFromEnvironment();
  return hub.serve(event, (e, deps) => loginRoutes(e, deps, { wechat: hub.wechat }));
};
