import { lambdaHandler } from '../lib/http/lambda.js';
import { ticketsHandlers } from '../lib/http/ticket-routes.js';

/**
 * The JS-SDK family: GET /v1/apps/{app}/tickets/{type}, POST /v1/apps/{app}/tickets/{type}/refresh
 * and POST /v1/apps/{app}/jsapi-signature (lib/http/routes.ts; one function: they share code and a warm container).
 */
export const handler = lambdaHandler(ticketsHandlers);
