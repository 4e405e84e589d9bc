import { lambdaHandler } from '../lib/http/lambda.js';
import { platformHandlers } from '../lib/http/platform-routes.js';

/** POST /v1/platforms/{name}/events: a third-party platform's authorization event URL (WeChat's pushes); lib/http/routes.ts. */
export const handler = lambdaHandler(platformHandlers);
