import { lambdaHandler } from '../lib/http/lambda.js';
import { proxyHandlers } from '../lib/http/proxy-route.js';

/** ANY /v1/apps/{app}/wechat/{path+}: WeChat's API with the hub's access_token added (lib/http/routes.ts). */
export const handler = lambdaHandler(proxyHandlers);
