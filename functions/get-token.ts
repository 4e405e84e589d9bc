import { lambdaHandler } from '../lib/http/lambda.js';
import { getTokenHandlers } from '../lib/http/token-routes.js';

/** GET /v1/apps/{app}/access-token (lib/http/routes.ts) */
export const handler = lambdaHandler(getTokenHandlers);
