import { lambdaHandler } from '../lib/http/lambda.js';
import { forceRefreshHandlers } from '../lib/http/token-routes.js';

/** POST /v1/apps/{app}/access-token/refresh, body {"stale_token": "..."} (lib/http/routes.ts) */
export const handler = lambdaHandler(forceRefreshHandlers);
