import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import type { TicketType } from './apps.js';

/**
 * The hub's configuration contract (README, "Configuration"). This module and the wiring are the
 * only code that reads the environment; everything else receives what it needs.
 */

export const APP_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const SCOPES = ['read', 'refresh', 'proxy', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

// zod/mini: the same zod, functional, so that a bundle carries only what it uses (27 KB, not 444).
z.config(en());

/** A string matching `re`, with a message that says what it must be. */
const matching = (re: RegExp, message?: string) => z.string().check(z.regex(re, message));

const secretRef = z.union([
  z.strictObject({ env: matching(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name') }),
  z.strictObject({ ssm: matching(/^\/[A-Za-z0-9_.\-/]{1,1010}$/, 'must be an SSM parameter name starting with /') }),
], { error: 'must be {"env":"VAR"} or {"ssm":"/parameter/name"}' });

/** Path prefixes the token-injecting proxy forwards by default (WeChat's business API families). */
export const DEFAULT_PROXY_PATHS = {
  wechat: ['/cgi-bin/', '/wxa/', '/datacube/', '/card/', '/customservice/'],
  wecom: ['/cgi-bin/'],
} as const;

const proxyPathsSchema = z.optional(
  z
    .array(z.string().check(z.regex(/^\/[A-Za-z0-9_\-/.]{0,200}$/, 'must be a path prefix such as /cgi-bin/'), z.refine((p) => !p.split('/').includes('..'), 'must not contain ..')))
    .check(z.minLength(1, 'must list at least one path prefix')),
);

const ticketsSchema = <const T extends readonly [TicketType, ...TicketType[]]>(allowed: T) =>
  z._default(z.array(z.enum(allowed, { error: `must be one of ${allowed.join(', ')}` })), []);

const appName = z.optional(matching(APP_NAME, 'must be 1-64 letters, digits, _ or -'));

const wechatAppSchema = z
  .pipe(
    z.strictObject({
      name: appName,
      appid: matching(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -'),
      type: z.enum(['official_account', 'mini_program'], { error: 'must be official_account, mini_program or wecom' }),
      tokenApi: z._default(z.enum(['classic', 'stable']), 'classic'),
      secret: secretRef,
      /** JS-SDK tickets the tick keeps fresh from the start (Official Accounts: jsapi, wx_card). */
      tickets: ticketsSchema(['jsapi', 'wx_card']),
      /** Answer on WeChat's own paths (/cgi-bin/token, …) so that an unmodified SDK can use the hub. */
      compat: z._default(z.boolean(), false),
      /** Path prefixes the token-injecting proxy may forward to. */
      proxyPaths: proxyPathsSchema,
    }),
    z.transform((a) => ({ ...a, name: a.name ?? a.appid, proxyPaths: a.proxyPaths ?? [...DEFAULT_PROXY_PATHS.wechat] })),
  )
  .check(z.refine((a) => a.type === 'official_account' || a.tickets.length === 0, { path: ['tickets'], message: 'a Mini Program has no JS-SDK tickets' }));

const wecomAppSchema = z.pipe(
  z.strictObject({
    name: appName,
    type: z.literal('wecom'),
    corpid: matching(/^[A-Za-z0-9_-]{1,64}$/, 'must be the corp ID (1-64 letters, digits, _ or -)'),
    agentid: z.number({ error: 'must be the app\'s AgentId (a number)' }).check(z.int(), z.nonnegative()),
    secret: secretRef,
    /** JS-SDK tickets the tick keeps fresh from the start (WeCom: jsapi, the corp ticket; agent_config, the app ticket). */
    tickets: ticketsSchema(['jsapi', 'agent_config']),
    compat: z._default(z.boolean(), false),
    proxyPaths: proxyPathsSchema,
  }),
  z.transform((a) => ({ ...a, name: a.name ?? `${a.corpid}-${a.agentid}`, proxyPaths: a.proxyPaths ?? [...DEFAULT_PROXY_PATHS.wecom] })),
);

/** An app entry, checked by the schema of its type, so that a message names the field that is wrong. */
const appSchema = z.pipe(
  z.unknown(),
  z.transform((value, ctx): z.output<typeof wechatAppSchema> | z.output<typeof wecomAppSchema> => {
    const wecom = typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'wecom';
    const result = (wecom ? wecomAppSchema : wechatAppSchema).safeParse(value);
    if (result.success) return result.data;
    for (const issue of result.error.issues) ctx.issues.push({ code: 'custom', message: issue.message, path: issue.path, input: value });
    return z.NEVER;
  }),
);

const appsSchema = z.array(appSchema).check(
  z.superRefine((apps, ctx) => {
    const seen = new Set<string>();
    const compatIds = new Set<string>();
    apps.forEach((a, i) => {
      if (seen.has(a.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate app name "${a.name}"` });
      seen.add(a.name);
      const id = a.type === 'wecom' ? undefined : a.appid;
      if (a.compat && id !== undefined) {
        if (compatIds.has(id)) ctx.addIssue({ code: 'custom', path: [i, 'compat'], message: `another compat app has appid "${id}": WeChat-compatible paths find an app by its appid` });
        compatIds.add(id);
      }
    });
  }),
);

const label = z.string().check(z.minLength(1), z.maxLength(64));
const appList = z.array(z.union([z.literal('*'), matching(APP_NAME)])).check(z.minLength(1));
const scopeList = z.array(z.enum(SCOPES)).check(z.minLength(1));

const apiKeySchema = z.strictObject({
  name: label,
  sha256: matching(/^[0-9a-f]{64}$/, 'must be the lowercase hex SHA-256 of the key'),
  apps: appList,
  scopes: scopeList,
});

const iamPrincipalSchema = z.strictObject({
  name: label,
  arn: matching(/^arn:[\w-]+:iam::\d{12}:(role|user)\/[\w+=,.@-]{1,64}$/, 'must be an IAM role or user ARN without a path, e.g. arn:aws:iam::123456789012:role/orders'),
  apps: appList,
  scopes: scopeList,
});

const seconds = (def: number) => z._default(z.coerce.number().check(z.int(), z.positive()), def);
const wholeSeconds = (def: number) => z._default(z.coerce.number().check(z.int(), z.nonnegative()), def);
const sshPath = (message: string, re: RegExp) => z.optional(matching(re, message));

/** WeChat's general domain, then the disaster-recovery domain WeChat publishes for when the first cannot be reached. */
export const DEFAULT_WECHAT_API_BASES = ['https://api.weixin.qq.com', 'https://api2.weixin.qq.com'] as const;
/** WeCom has one domain. */
export const DEFAULT_WECOM_API_BASES = ['https://qyapi.weixin.qq.com'] as const;

const BASE_MESSAGE = 'must be an http(s) URL without a query or fragment, e.g. https://api2.weixin.qq.com';
const apiBaseList = z.array(
  z.url({ protocol: /^https?$/, error: BASE_MESSAGE }).check(z.refine((u) => {
    // (zod runs this check after a failed z.url too: no URL, no second message)
    const url = URL.canParse(u) ? new URL(u) : undefined;
    return !url || (!url.search && !url.hash && !url.username && !url.password && !u.includes('?') && !u.includes('#'));
  }, BASE_MESSAGE)),
).check(
  z.minLength(1, 'must list at least one URL, comma-separated'),
  z.superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((u, i) => {
      if (!URL.canParse(u)) return;
      const key = new URL(u).href.replace(/\/$/, '');
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: [i], message: 'is listed twice' });
      seen.add(key);
    });
  }),
);

/**
 * The bases of one platform: `<field>S` (a comma-separated list), else `<field>` (one base), else the
 * defaults. Setting both is refused: which one was meant cannot be known.
 */
function apiBases(list: string | undefined, single: string | undefined, field: string, defaults: readonly string[]): string[] {
  if (list !== undefined && single !== undefined) {
    throw new ConfigurationInvalidError(`Invalid configuration: ${field}S: set either ${field}S (a list) or ${field} (one base), not both`);
  }
  if (single !== undefined) return [single];
  if (list === undefined) return [...defaults];
  const items = list.trim() === '' ? [] : list.split(',').map((u) => u.trim());
  return parse(apiBaseList, items, `${field}S`);
}

/** The longest life WeChat gives an access token or a ticket (expires_in), in seconds. */
export const MAX_TOKEN_LIFE_SECONDS = 7200;

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const PORT_MESSAGE = 'must be a port number 0-65535';

const envSchema = z.object({
  HUB_APPS: z.optional(z.string()),
  /** In AWS: one SSM parameter per app under this path (e.g. /wechat-token-hub/prod/apps/), read at run time. */
  HUB_APPS_SSM_PATH: sshPath('must be an SSM path starting and ending with /', /^\/[A-Za-z0-9_.\-/]{1,1000}\/$/),
  HUB_API_KEYS: z._default(z.string(), '[]'),
  HUB_AUTH: z._default(z.enum(['key', 'iam']), 'key'),
  HUB_IAM_PRINCIPALS: z._default(z.string(), '[]'),
  HUB_API_KEYS_SSM: sshPath('must be an SSM parameter name starting with /', /^\/[A-Za-z0-9_.\-/]{1,1010}$/),
  /** One base (tests, the simulator, `npm start`); WECHAT_API_BASES takes a list. At most one of the two. */
  WECHAT_API_BASE: z.optional(z.url({ protocol: /^https?$/ })),
  /** Comma-separated bases in the order of preference; the next is used when one cannot be reached. */
  WECHAT_API_BASES: z.optional(z.string()),
  WECOM_API_BASE: z.optional(z.url({ protocol: /^https?$/ })),
  WECOM_API_BASES: z.optional(z.string()),
  TABLE_NAME: z._default(matching(/^[A-Za-z0-9_.-]{3,255}$/), 'wechat-token-hub'),
  DYNAMODB_ENDPOINT: z.optional(z.url()),
  REFRESH_MARGIN: seconds(1200).check(z.refine((s) => s < MAX_TOKEN_LIFE_SECONDS, `must be less than ${MAX_TOKEN_LIFE_SECONDS} (a token lives at most ${MAX_TOKEN_LIFE_SECONDS} s)`)),
  MIN_SERVE: seconds(60),
  LEASE: seconds(15),
  UPSTREAM_DEADLINE: seconds(10),
  CACHE_TTL: wholeSeconds(30),
  FORCED_DAILY_BUDGET: seconds(200),
  TICK_CONCURRENCY: seconds(16),
  PROBE_TTL: wholeSeconds(10),
  /** A value WeChat cannot be asked about is rotated on a report only once it is this old (seconds)… */
  UNVERIFIED_MIN_AGE: wholeSeconds(60),
  /** …and at most this many times a day per app and kind. */
  UNVERIFIED_DAILY_BUDGET: seconds(10),
  SECRET_CACHE_TTL: wholeSeconds(60),
  /** The tick asks WeChat (with a call that spends no quota) whether each current token is still good. */
  SELF_HEAL: z._default(z.enum(['on', 'off'], { error: 'must be on or off' }), 'on'),
  /** After a configuration error from WeChat, reads wait this long (doubling while it persists) before asking again. */
  CONFIG_ERROR_BACKOFF: seconds(60),
  /** The local HTTP port of `npm start`; 0 picks a free one. Set but empty is an error, not a random port. */
  PORT: z._default(
    z.pipe(matching(/^\d{1,5}$/, PORT_MESSAGE), z.transform(Number)).check(z.refine((p) => p <= 65535, PORT_MESSAGE)),
    3000,
  ),
  /** The log level of `npm start` (in AWS, Powertools reads POWERTOOLS_LOG_LEVEL). Any case. */
  LOG_LEVEL: z._default(
    z.pipe(
      z.pipe(z.string(), z.transform((l) => l.toUpperCase())),
      z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }),
    ),
    'INFO',
  ),
});

export type AppConfig = z.output<typeof appSchema>;
export type ApiKeyConfig = z.output<typeof apiKeySchema>;
export type IamPrincipalConfig = z.output<typeof iamPrincipalSchema>;

export interface HubConfig {
  /** Apps from HUB_APPS; with `appsSsmPath`, more are read from SSM at run time. */
  apps: AppConfig[];
  /** SSM path holding one parameter per app (AWS), read and re-read at run time. */
  appsSsmPath?: string;
  apiKeys: ApiKeyConfig[];
  /** `key`: bearer API keys; `iam`: API Gateway's IAM authorizer, callers mapped by `iamPrincipals`. */
  auth: 'key' | 'iam';
  iamPrincipals: IamPrincipalConfig[];
  /** In AWS: the SSM SecureString holding the key list (same JSON as HUB_API_KEYS), read at run time. */
  apiKeysSsm?: string;
  /** WeChat's API bases in the order of preference (WECHAT_API_BASES, or WECHAT_API_BASE alone); never empty. */
  wechatApiBases: string[];
  /** The first of `wechatApiBases`. */
  wechatApiBase: string;
  /** WeCom's API bases (qyapi), for apps of type `wecom`; never empty. */
  wecomApiBases: string[];
  /** The first of `wecomApiBases`. */
  wecomApiBase: string;
  tableName: string;
  dynamodbEndpoint?: string;
  timings: {
    refreshMarginMs: number;
    minServeMs: number;
    leaseMs: number;
    upstreamDeadlineMs: number;
    cacheTtlMs: number;
    forcedDailyBudget: number;
    tickConcurrency: number;
    probeTtlMs: number;
    unverifiedMinAgeMs: number;
    unverifiedForcedDailyBudget: number;
    secretCacheTtlSeconds: number;
    configErrorBackoffMs: number;
  };
  selfHeal: boolean;
  /** The local HTTP port (`npm start`); 0 picks a free one. */
  port: number;
  /** The log level of `npm start`. */
  logLevel: LogLevel;
}

export class ConfigurationInvalidError extends Error {
  override readonly name = 'ConfigurationInvalidError';
}

/** Parse and check the whole configuration; the message names the field that is wrong. */
export function loadConfig(env: Record<string, string | undefined>): HubConfig {
  const e = parse(envSchema, env, '');
  if (e.HUB_APPS === undefined && e.HUB_APPS_SSM_PATH === undefined) {
    throw new ConfigurationInvalidError('Invalid configuration: HUB_APPS: is required: a JSON array of apps (or HUB_APPS_SSM_PATH, an SSM path with one parameter per app)');
  }
  const apps = parse(appsSchema, parseJson(e.HUB_APPS ?? '[]', 'HUB_APPS'), 'HUB_APPS');
  if (apps.length === 0 && !e.HUB_APPS_SSM_PATH) throw new ConfigurationInvalidError('Invalid configuration: HUB_APPS: must list at least one app');
  const apiKeys = parseApiKeys(e.HUB_API_KEYS, 'HUB_API_KEYS');
  const iamPrincipals = parse(z.array(iamPrincipalSchema), parseJson(e.HUB_IAM_PRINCIPALS, 'HUB_IAM_PRINCIPALS'), 'HUB_IAM_PRINCIPALS');
  if (e.HUB_AUTH === 'iam' && iamPrincipals.length === 0) {
    throw new ConfigurationInvalidError('Invalid configuration: HUB_IAM_PRINCIPALS: must list at least one principal when HUB_AUTH is iam');
  }
  apps.forEach((a, i) => {
    if ('env' in a.secret && !env[a.secret.env]) {
      throw new ConfigurationInvalidError(`Invalid configuration: HUB_APPS[${i}].secret: environment variable ${a.secret.env} is not set`);
    }
  });
  const names = new Set(apps.map((a) => a.name));
  apiKeys.forEach((k, i) => {
    k.apps.forEach((a, j) => {
      // With apps in SSM, a key may name an app that will be added later.
      if (a !== '*' && !names.has(a) && !e.HUB_APPS_SSM_PATH) {
        throw new ConfigurationInvalidError(`Invalid configuration: HUB_API_KEYS[${i}].apps[${j}]: no app is named "${a}"`);
      }
    });
  });
  const wechatApiBases = apiBases(e.WECHAT_API_BASES, e.WECHAT_API_BASE, 'WECHAT_API_BASE', DEFAULT_WECHAT_API_BASES);
  const wecomApiBases = apiBases(e.WECOM_API_BASES, e.WECOM_API_BASE, 'WECOM_API_BASE', DEFAULT_WECOM_API_BASES);
  if (e.LEASE <= e.UPSTREAM_DEADLINE) {
    throw new ConfigurationInvalidError('Invalid configuration: LEASE: must be longer than UPSTREAM_DEADLINE');
  }
  if (e.REFRESH_MARGIN <= e.MIN_SERVE) {
    // Otherwise reads would find tokens below MIN_SERVE before the tick refreshed them, and wait.
    throw new ConfigurationInvalidError('Invalid configuration: REFRESH_MARGIN: must be more than MIN_SERVE');
  }
  return {
    apps,
    appsSsmPath: e.HUB_APPS_SSM_PATH,
    apiKeys,
    auth: e.HUB_AUTH,
    iamPrincipals,
    apiKeysSsm: e.HUB_API_KEYS_SSM,
    wechatApiBases,
    wechatApiBase: wechatApiBases[0]!,
    wecomApiBases,
    wecomApiBase: wecomApiBases[0]!,
    tableName: e.TABLE_NAME,
    dynamodbEndpoint: e.DYNAMODB_ENDPOINT,
    timings: {
      refreshMarginMs: e.REFRESH_MARGIN * 1000,
      minServeMs: e.MIN_SERVE * 1000,
      leaseMs: e.LEASE * 1000,
      upstreamDeadlineMs: e.UPSTREAM_DEADLINE * 1000,
      cacheTtlMs: e.CACHE_TTL * 1000,
      forcedDailyBudget: e.FORCED_DAILY_BUDGET,
      tickConcurrency: e.TICK_CONCURRENCY,
      probeTtlMs: e.PROBE_TTL * 1000,
      unverifiedMinAgeMs: e.UNVERIFIED_MIN_AGE * 1000,
      unverifiedForcedDailyBudget: e.UNVERIFIED_DAILY_BUDGET,
      secretCacheTtlSeconds: e.SECRET_CACHE_TTL,
      configErrorBackoffMs: e.CONFIG_ERROR_BACKOFF * 1000,
    },
    selfHeal: e.SELF_HEAL === 'on',
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
  };
}

/**
 * One app entry read from SSM (the parameter's JSON value); `name` defaults to the parameter's last
 * path segment. Throws ConfigurationInvalidError naming the parameter.
 */
export function parseAppEntry(json: string, parameter: string): AppConfig {
  const name = parameter.split('/').filter(Boolean).pop();
  const raw = parseJson(json, parameter);
  const withName = typeof raw === 'object' && raw !== null && !Array.isArray(raw) && !('name' in raw) && name ? { ...raw, name } : raw;
  return parse(appSchema, withName, parameter);
}

/** A key list (HUB_API_KEYS, or the SSM parameter's value), checked; the message names the field. */
export function parseApiKeys(text: string, field: string): ApiKeyConfig[] {
  return parse(z.array(apiKeySchema), parseJson(text, field), field);
}

function parseJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ConfigurationInvalidError(`Invalid configuration: ${field}: is not valid JSON`);
  }
}

function parse<T extends z.ZodMiniType>(schema: T, value: unknown, field: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), field);
  throw new ConfigurationInvalidError(`Invalid configuration: ${path || 'environment'}: ${issue.message}`);
}
