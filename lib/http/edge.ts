import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import * as z from 'zod/mini';
import type { Clock } from '../clock.js';
import { APP_NAME, type Scope } from '../config.js';
import { HttpError, HubError } from '../errors.js';
import { servedSeconds } from '../policy.js';
import type { ForcedResult, Refresher, Served } from '../refresher.js';
import { AUTHORIZER_APPID, authorizerName } from '../principals/authorizers.js';
import { permit, type Authenticator, type Grant } from './auth.js';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;

export interface EdgeDeps {
  refresher: Refresher;
  /** The current keys (from configuration, or from SSM with a short cache). */
  keyring: () => Promise<Authenticator>;
  clock: Clock;
  logger: Logger;
}

export const MAX_BODY_BYTES = 4096;

const appParam = z.string().check(z.regex(APP_NAME));
/** A token or ticket as WeChat issues them: printable ASCII, at most 1024 characters. */
export const CREDENTIAL_SHAPE = /^[\x21-\x7e]{1,1024}$/;

/** The stale value a forced refresh reports (`what`: access_token, ticket), refused with a message that says why. */
export function staleValue(what: string, article: 'a' | 'an') {
  return z
    .string({ error: 'must be a string' })
    .check(
      z.minLength(1, 'must not be empty'),
      z.maxLength(1024, `is longer than any ${what}`),
      z.regex(/^[\x21-\x7e]+$/, `contains characters ${article} ${what} never has`),
    );
}

/** A forced refresh's answer: the value (`served`) only for a caller that may read it, then what happened. */
export function forcedBody(result: ForcedResult, served: Record<string, unknown> | undefined): Record<string, unknown> {
  return { ...served, refreshed: result.refreshed, changed: result.changed, ...(result.reason ? { reason: result.reason } : {}) };
}

/** Everything API Gateway would not route: a clear 404 or 405 in the same error shape. */
export function notRouted(event: HttpEvent, allowed: string[] | undefined): HttpResult {
  if (allowed) {
    return errorResult(new HttpError(405, 'method_not_allowed', `use ${allowed.join(' or ')} on this path`, { allow: allowed.join(', ') }));
  }
  return errorResult(new HttpError(404, 'route_not_found', 'no such route; see the README for the API'));
}

/** The app of the path, once the caller is known and may use `scope` on it: 400, 401, 403 or 404 otherwise. */
export async function appFrom(event: HttpEvent, deps: EdgeDeps, scope: Scope): Promise<string> {
  return (await grantedApp(event, deps, scope)).app;
}

/**
 * The principal a path names: `{app}` (/v1/apps/{app}/…), or a platform's authorizer
 * (/v1/platforms/{name}/authorizers/{appid}/…, the principal `<name>/<appid>`); 400 when malformed.
 */
export function principalOfPath(params: Record<string, string | undefined> | undefined): { name: string; authorizer: boolean } {
  if (params?.appid !== undefined) {
    if (!appParam.safeParse(params.name).success) throw new HttpError(400, 'invalid_platform', 'the platform name must be 1-64 letters, digits, _ or -');
    if (!AUTHORIZER_APPID.test(params.appid)) throw new HttpError(400, 'invalid_appid', 'the authorizer appid must be 1-64 letters, digits, _ or -');
    return { name: authorizerName(params.name!, params.appid), authorizer: true };
  }
  const app = appParam.safeParse(params?.app);
  if (!app.success) throw new HttpError(400, 'invalid_app', 'the app name must be 1-64 letters, digits, _ or -');
  return { name: app.data, authorizer: false };
}

/** appFrom, and the caller's grant (what else it may do on the app). */
export async function grantedApp(event: HttpEvent, deps: EdgeDeps, scope: Scope): Promise<{ app: string; grant: Grant }> {
  const grant = await callerOf(event, deps);
  const { name, authorizer } = principalOfPath(event.pathParameters);
  const caller = permit(grant, name, scope);
  if (!(await deps.refresher.load(name))) {
    throw authorizer ? new HttpError(404, 'unknown_authorizer', 'no such account authorized this platform') : new HttpError(404, 'unknown_app', 'no such app is configured');
  }
  deps.logger.appendKeys({ app: name, caller: caller.keyName });
  return { app: name, grant };
}

/**
 * Who is calling (a bearer key, or the IAM principal API Gateway checked): 401 otherwise. Also puts
 * the route template (never the path or query) on respond()'s access line and every line until then.
 */
export async function callerOf(event: HttpEvent, deps: EdgeDeps): Promise<Grant> {
  deps.logger.appendKeys({ route: event.routeKey });
  const authenticator = await deps.keyring();
  const iam = (event.requestContext as { authorizer?: { iam?: { userArn?: unknown } } } | undefined)?.authorizer?.iam?.userArn;
  return authenticator.identify({ authorization: header(event, 'authorization'), iamUserArn: typeof iam === 'string' ? iam : undefined });
}

/** A page of a list route (principals, a platform's authorizers): `?limit=` (1-100, default 100) and `?cursor=` (the previous page's `next`). */
export function pageOf(event: HttpEvent): { limit: number; cursor?: string } {
  const q = new URLSearchParams(event.rawQueryString ?? '');
  for (const k of q.keys()) if (k !== 'limit' && k !== 'cursor') throw new HttpError(400, 'unexpected_query', 'this route takes only limit and cursor');
  const raw = q.get('limit');
  const limit = raw === null ? PAGE_LIMIT : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_LIMIT) throw new HttpError(400, 'invalid_limit', `limit must be a whole number from 1 to ${PAGE_LIMIT}`);
  const cursor = q.get('cursor') ?? undefined;
  if (cursor !== undefined && !/^[A-Za-z0-9_\-./]{1,1024}$/.test(cursor)) throw new HttpError(400, 'invalid_cursor', 'cursor must be the `next` of the previous page');
  return { limit, ...(cursor === undefined ? {} : { cursor }) };
}
const PAGE_LIMIT = 100;

export function noQuery(event: HttpEvent): void {
  if (event.rawQueryString) throw new HttpError(400, 'unexpected_query', 'this route takes no query parameters');
}

/** The JSON body, checked by `schema` (a strict object): 413, 415 or 400 with a message naming the field. */
export function jsonBody<T extends z.ZodMiniObject>(event: HttpEvent, schema: T): z.output<T> {
  const type = header(event, 'content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new HttpError(415, 'unsupported_media_type', 'send the body as Content-Type: application/json');
  }
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new HttpError(413, 'body_too_large', `the body is larger than ${MAX_BODY_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'invalid_json', 'the body is not valid JSON');
  }
  const result = schema.safeParse(parsed);
  if (!result.success) {
    // A misspelt field says more than the missing one it stands for.
    const issue = result.error.issues.find((i) => i.code === 'unrecognized_keys') ?? result.error.issues[0]!;
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    const fields = Object.keys(schema.shape);
    // Zod does not report the input it refused: a field is missing when the body has no such key
    // (a field of the wrong type, null included, is there and gets the schema's own message).
    const missing = issue.code === 'invalid_type' && issue.path.length === 1 && !Object.hasOwn(parsed as object, issue.path[0]!);
    const message = issue.code === 'unrecognized_keys' ? `the body may only contain ${fields.map((f) => `"${f}"`).join(', ')}`
      : issue.code === 'invalid_type' && issue.path.length === 0 ? `the body must be a JSON object {${fields.map((f) => `"${f}": "..."`).join(', ')}}`
      : missing ? `${where}is required`
      : `${where}${issue.message}`;
    throw new HttpError(400, 'invalid_body', message);
  }
  return result.data;
}

export function header(event: HttpEvent, name: string): string | undefined {
  const headers = event.headers ?? {};
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

/**
 * `expires_in` (seconds until the hub replaces the value: keep it no longer) and `expires_at`
 * (when WeChat expires it) of a served token or ticket.
 */
export function lifetime(t: Served, now: number) {
  return { expires_in: servedSeconds(t, now), expires_at: new Date(t.expiresAt).toISOString() };
}

export function ok(body: unknown): HttpResult {
  return { statusCode: 200, headers: baseHeaders(), body: JSON.stringify(body) };
}

/**
 * Run a route: its errors become the documented JSON errors, never a stack trace. Each request
 * logs one line with its status and latency (`ms`), plus the `route`, `app` and `caller` (key or
 * principal name) known by then: at DEBUG when served, at INFO when refused, at ERROR on a 5xx.
 * Never a token, a key or a query string.
 */
export async function respond(deps: EdgeDeps, run: () => Promise<HttpResult>): Promise<HttpResult> {
  const started = deps.clock.now();
  try {
    const result = await run();
    deps.logger.debug('request served', { status: result.statusCode ?? 200, ms: deps.clock.now() - started });
    return result;
  } catch (error) {
    const http = toHubError(error);
    const ms = deps.clock.now() - started;
    if (http.status >= 500) deps.logger.error('request failed', { status: http.status, code: http.code, error: error instanceof Error ? error.name : 'unknown', ms });
    else deps.logger.info('request refused', { status: http.status, code: http.code, ms });
    return errorResult(http);
  } finally {
    deps.logger.removeKeys(['route', 'app', 'caller']);
  }
}

/** Any failure as the hub's error: a HubError says its own status and code; anything else is a 500 `internal` with no detail. */
export function toHubError(error: unknown): HubError {
  return error instanceof HubError ? error : new HttpError(500, 'internal', 'internal error');
}

/** The one translation of a failure to HTTP: its status and headers, `{"error": {code, message, ...extra}}`. */
export function errorResult(error: unknown): HttpResult {
  const e = toHubError(error);
  return {
    statusCode: e.status,
    headers: { ...baseHeaders(), ...e.headers },
    body: JSON.stringify({ error: { code: e.code, message: e.publicMessage, ...e.extra } }),
  };
}

/** Every answer's headers: JSON, never cached, never sniffed into something a browser would run. */
export const NOSNIFF = { 'x-content-type-options': 'nosniff' } as const;

function baseHeaders(): Record<string, string> {
  return { 'content-type': 'application/json', 'cache-control': 'no-store', ...NOSNIFF };
}
