import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { errorResult, notRouted, type HttpResult } from './edge.js';
import { HttpError } from './errors.js';

export interface LocalRoutes {
  getToken(event: APIGatewayProxyEventV2): Promise<HttpResult>;
  forceRefresh(event: APIGatewayProxyEventV2): Promise<HttpResult>;
  tickets(event: APIGatewayProxyEventV2): Promise<HttpResult>;
  compat(event: APIGatewayProxyEventV2): Promise<HttpResult>;
  proxy(event: APIGatewayProxyEventV2): Promise<HttpResult>;
  status(event: APIGatewayProxyEventV2): Promise<HttpResult>;
}



type Handler = keyof LocalRoutes;

/** The routes of serverless.yml: path pattern, its parameters, and the handler of each method. */
const ROUTES: { path: RegExp; params: string[]; template: string; methods: Partial<Record<string, Handler>> | { ANY: Handler } }[] = [
  { path: /^\/v1\/apps\/([^/]+)\/access-token$/, params: ['app'], template: '/v1/apps/{app}/access-token', methods: { GET: 'getToken' } },
  { path: /^\/v1\/apps\/([^/]+)\/access-token\/refresh$/, params: ['app'], template: '/v1/apps/{app}/access-token/refresh', methods: { POST: 'forceRefresh' } },
  { path: /^\/v1\/apps\/([^/]+)\/tickets\/([^/]+)$/, params: ['app', 'type'], template: '/v1/apps/{app}/tickets/{type}', methods: { GET: 'tickets' } },
  { path: /^\/v1\/apps\/([^/]+)\/tickets\/([^/]+)\/refresh$/, params: ['app', 'type'], template: '/v1/apps/{app}/tickets/{type}/refresh', methods: { POST: 'tickets' } },
  { path: /^\/v1\/apps\/([^/]+)\/jsapi-signature$/, params: ['app'], template: '/v1/apps/{app}/jsapi-signature', methods: { POST: 'tickets' } },
  { path: /^\/v1\/health$/, params: [], template: '/v1/health', methods: { GET: 'status' } },
  { path: /^\/v1\/status$/, params: [], template: '/v1/status', methods: { GET: 'status' } },
  { path: /^\/v1\/status\/([^/]+)\/quota$/, params: ['app'], template: '/v1/status/{app}/quota', methods: { GET: 'status' } },
  { path: /^\/v1\/apps\/([^/]+)\/wechat\/(.+)$/, params: ['app', 'path'], template: '/v1/apps/{app}/wechat/{path+}', methods: { ANY: 'proxy' } },
  // Everything else is WeChat's own paths for SDKs (a catch-all, as in serverless.yml); the compat
  // handler answers unrouted /v1/ paths with the hub's own 404.
  { path: /^\/(.+)$/, params: ['path'], template: '/{path+}', methods: { ANY: 'compat' } },
];
/** Lambda's synchronous payload limit (API Gateway's own is 10 MB); the native routes refuse anything over 4 KiB anyway. */
const READ_LIMIT = 6 * 1024 * 1024;

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
    res.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>);
    res.end(result.isBase64Encoded && result.body ? Buffer.from(result.body, 'base64') : (result.body ?? ''));
  });
}

async function dispatch(req: IncomingMessage, routes: LocalRoutes): Promise<HttpResult> {
  const url = parseUrl(req.url);
  if (!url) return errorResult(new HttpError(400, 'bad_request', 'the request target is not a valid path'));
  const method = req.method ?? 'GET';
  const body = await readBody(req);
  if (body === undefined) return errorResult(new HttpError(413, 'body_too_large', `the body is larger than ${READ_LIMIT} bytes`));
  for (const route of ROUTES) {
    const match = route.path.exec(url.pathname);
    if (!match) continue;
    const params = Object.fromEntries(route.params.map((p, i) => [p, decodeSafe(match[i + 1]!)]));
    const any = 'ANY' in route.methods ? route.methods.ANY : undefined;
    const handler = any ?? (route.methods as Partial<Record<string, Handler>>)[method];
    if (handler) return routes[handler](toEvent(req, url, `${any ? 'ANY' : method} ${route.template}`, params, body));
    return notRouted(toEvent(req, url, '$default', params, body), Object.keys(route.methods));
  }
  return notRouted(toEvent(req, url, '$default', undefined, body), undefined);
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

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > READ_LIMIT) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
