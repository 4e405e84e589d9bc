import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { allows } from './auth.js';
import { COMPAT_MAX_BODY_BYTES, compatBodyTooLarge, compatTokenKnown } from './compat-routes.js';
import { callerOf, errorResult, MAX_BODY_BYTES, NOSNIFF, notRouted, principalOfPath, respond, type EdgeDeps, type HttpResult } from './edge.js';
import { HttpError } from '../errors.js';
import { MAX_BODY_BYTES as PLATFORM_EVENT_MAX_BYTES } from '../platform/events.js';
import { MAX_PROXY_BODY_BYTES } from './proxy-route.js';
import { compatEndpointAt, matchRoute, routeKeyOf, type FunctionName, type Route } from './routes.js';

/**
 * What the local server serves: one entry point per Lambda function (a Hub has them all), each
 * given the events of that function's routes in the table (lib/http/routes.ts).
 */
export type LocalRoutes = { [F in Exclude<FunctionName, 'login' | 'platform'>]: (event: APIGatewayProxyEventV2) => Promise<HttpResult> } & {
  /** POST /v1/apps/{app}/login and …/oauth/token; a stand-in may leave it out (404). */
  login?(event: APIGatewayProxyEventV2): Promise<HttpResult>;
  /** POST /v1/platforms/{name}/events (WeChat's pushes to a third-party platform); a stand-in may leave it out (404). */
  platform?(event: APIGatewayProxyEventV2): Promise<HttpResult>;
  /**
   * The hub's keys, clock and logger (a Hub has them): with them the server checks the caller
   * before it reads a body, as API Gateway's authorizer would. Without (a stand-in), bodies are
   * read up to the route's limit.
   */
  readonly edge?: EdgeDeps;
};

/**
 * The HTTP API as API Gateway would present it, on one local port: the same routes, and each
 * request turned into a real API Gateway v2 (HTTP API) event for the same handlers.
 */
export function createLocalServer(routes: LocalRoutes): Server {
  return createServer(async (req, res) => {
    let result: HttpResult;
    try {
      result = await dispatch(req, routes);
    } catch {
      result = errorResult(new HttpError(500, 'internal', 'internal error'));
    }
    // A body left unread (refused before it was needed) is not drained: the connection closes instead.
    const unread = !req.readableEnded && hasBody(req);
    // Every answer of this server (a stand-in route's too) carries nosniff.
    res.writeHead(result.statusCode ?? 200, { ...NOSNIFF, ...(result.headers as Record<string, string>), ...(unread ? { connection: 'close' } : {}) });
    res.end(result.isBase64Encoded && result.body ? Buffer.from(result.body, 'base64') : (result.body ?? ''));
  });
}

const NO_BODY = Buffer.alloc(0);

/**
 * The route API Gateway would pick (lib/http/routes.ts: the same table serverless.yml is checked
 * against), its path variables, and the event it would send. A path no route has a method for goes
 * to the catch-all (ANY /{path+}, the compat function), which answers the hub's 404, or 405 with
 * Allow on a hub route's path, as it does in AWS.
 */
async function dispatch(req: IncomingMessage, routes: LocalRoutes): Promise<HttpResult> {
  const url = parseUrl(req.url);
  if (!url) return errorResult(new HttpError(400, 'bad_request', 'the request target is not a valid path'));
  const method = req.method ?? 'GET';
  const match = matchRoute(method, url.pathname);
  if (!match) return notRouted(toEvent(req, url, '$default', undefined, NO_BODY), undefined);
  const { route } = match;
  const params = Object.fromEntries(Object.entries(match.params).map(([k, v]) => [k, decodeSafe(v)]));
  const run = routes[route.function]?.bind(routes);
  if (!run) return notRouted(toEvent(req, url, '$default', params, NO_BODY), undefined);
  const routeKey = routeKeyOf(route);
  const admitted = await admit(routes, route, toEvent(req, url, routeKey, params, NO_BODY));
  if ('refused' in admitted) return admitted.refused;
  const body = admitted.limit > 0 ? await readBody(req, admitted.limit) : NO_BODY;
  if (body === undefined) return admitted.tooLarge();
  return run(toEvent(req, url, routeKey, params, body));
}

type Admission = { refused: HttpResult } | { limit: number; tooLarge: () => HttpResult };

const tooLarge = (limit: number) => () => errorResult(new HttpError(413, 'body_too_large', `the body is larger than ${limit} bytes`));

/**
 * What API Gateway and Lambda settle before a handler runs, here before a byte of the body is read:
 * whether the caller holds a valid key (routes that take one: anything else is the handler's own
 * 401, at once), and how much body the route may carry: 4 KiB for the JSON routes, the proxy's
 * 6 MB only for a caller that may use the proxy on that app, and on the WeChat-compatible paths
 * 4 KiB for the token and ticket endpoints, the pass-through's 6 MB only with a token the hub
 * serves (any other is answered 40001 without its body).
 */
async function admit(routes: LocalRoutes, route: Route, event: APIGatewayProxyEventV2): Promise<Admission> {
  const edge = routes.edge;
  if (route.function === 'compat') {
    // WeChat's login paths take no token and no body worth more than the token endpoints' limit.
    const passOn = !compatEndpointAt(event.rawPath) && !event.rawPath.startsWith('/sns/');
    if (!passOn) return { limit: COMPAT_MAX_BODY_BYTES, tooLarge: compatBodyTooLarge };
    if (edge && !(await compatTokenKnown(edge, event))) return { limit: 0, tooLarge: compatBodyTooLarge };
    return { limit: MAX_PROXY_BODY_BYTES, tooLarge: compatBodyTooLarge };
  }
  // A platform's event URL: WeChat's pushes, signed, up to the event reader's own cap.
  if (route.function === 'platform') return { limit: PLATFORM_EVENT_MAX_BYTES, tooLarge: tooLarge(PLATFORM_EVENT_MAX_BYTES) };
  // A route without a caller to check (health): its own answer.
  if (route.scope === 'none') return { limit: MAX_BODY_BYTES, tooLarge: tooLarge(MAX_BODY_BYTES) };
  if (edge) {
    try {
      const grant = await callerOf(event, edge);
      if (route.function === 'proxy') {
        const app = principalOfPath(event.pathParameters).name;
        return allows(grant, app, route.scope) ? { limit: MAX_PROXY_BODY_BYTES, tooLarge: tooLarge(MAX_PROXY_BODY_BYTES) } : { limit: 0, tooLarge: tooLarge(0) };
      }
    } catch (error) {
      // The refusal the handler would give, with its access line.
      return { refused: await respond(edge, () => Promise.reject(error)) };
    }
  } else if (route.function === 'proxy') {
    return { limit: MAX_PROXY_BODY_BYTES, tooLarge: tooLarge(MAX_PROXY_BODY_BYTES) };
  }
  return { limit: MAX_BODY_BYTES, tooLarge: tooLarge(MAX_BODY_BYTES) };
}

function hasBody(req: IncomingMessage): boolean {
  const length = Number(req.headers['content-length'] ?? 0);
  return length > 0 || req.headers['transfer-encoding'] !== undefined;
}

function parseUrl(target: string | undefined): URL | undefined {
  try {
    // Prefixing (rather than resolving against a base) keeps "//x" a path, not a host.
    return new URL(`http://localhost${target?.startsWith('/') ? target : `/${target ?? ''}`}`);
  } catch {
    return undefined;
  }
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function toEvent(req: IncomingMessage, url: URL, routeKey: string, pathParameters: Record<string, string> | undefined, body: Buffer): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
  const query = url.search.slice(1);
  const queryStringParameters = query ? Object.fromEntries(url.searchParams) : undefined;
  const now = new Date();
  const isText = body.length === 0 || /json|text/i.test(headers['content-type'] ?? '');
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: query,
    headers,
    queryStringParameters,
    pathParameters,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'localhost',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    body: body.length ? (isText ? body.toString('utf8') : body.toString('base64')) : undefined,
    isBase64Encoded: body.length > 0 && !isText,
  };
}

/** The body, or undefined once it passes `limit` bytes (the rest is not read). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > limit) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
