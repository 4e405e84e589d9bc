import { lambdaHandler } from '../lib/http/lambda.js';
import { statusHandlers } from '../lib/http/status-routes.js';

/** GET /v1/status and GET /v1/status/{app}/quota (scope admin), GET /v1/health (no auth, no details); lib/http/routes.ts. */
export const handler = lambdaHandler(statusHandlers);
