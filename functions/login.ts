import { lambdaHandler } from '../lib/http/lambda.js';
import { loginHandlers } from '../lib/http/login-routes.js';

/**
 * Logins through the hub (scope login): POST /v1/apps/{app}/login (a Mini Program's code2Session)
 * and POST /v1/apps/{app}/oauth/token (web authorization), the user's code exchanged with the
 * AppSecret (lib/http/routes.ts).
 */
export const handler = lambdaHandler(loginHandlers);
