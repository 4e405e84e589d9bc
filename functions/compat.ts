import { compatHandlers } from '../lib/http/compat-routes.js';
import { lambdaHandler } from '../lib/http/lambda.js';

/**
 * WeChat's own paths for unmodified SDKs: GET /cgi-bin/token, POST /cgi-bin/stable_token,
 * GET /cgi-bin/ticket/getticket, and WeCom's GET /cgi-bin/gettoken, /cgi-bin/get_jsapi_ticket,
 * /cgi-bin/ticket/get; ANY /{path+} passes an SDK's other calls on (or answers WeChat's way), and
 * WeChat's login paths (/sns/jscode2session, /sns/oauth2/…) with a hub key as the secret
 * (lib/http/routes.ts).
 */
export const handler = lambdaHandler(compatHandlers);
