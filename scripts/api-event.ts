/**
 * An API Gateway v2 (HTTP API) event as a route of the stack receives it, for scripts that invoke
 * the bundled handlers directly (check-package, lambda-day). The method is the route key's.
 */
export function apiGatewayEvent(key: string | undefined, routeKey: string, path: string, pathParameters: Record<string, string>, body?: unknown) {
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: '',
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    pathParameters,
    body: body === undefined ? undefined : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { http: { method: routeKey.split(' ')[0] } },
  };
}

/** The token read, or (with a stale token) the token's forced refresh, of one app. */
export function tokenEvent(key: string, app: string, staleToken?: string) {
  return staleToken === undefined
    ? apiGatewayEvent(key, 'GET /v1/apps/{app}/access-token', `/v1/apps/${app}/access-token`, { app })
    : apiGatewayEvent(key, 'POST /v1/apps/{app}/access-token/refresh', `/v1/apps/${app}/access-token/refresh`, { app }, { stale_token: staleToken });
}
