import * as z from 'zod/mini';
import { apiBases, DEFAULT_WECHAT_API_BASES, DEFAULT_WECOM_API_BASES } from './config/api-bases.js';
import { APP_NAME, appsSchema, type AppConfig } from './config/apps.js';
import { AUTHORIZER_GRANT, checkKeyApps } from './config/keys.js';
import { callerList, ConfigurationInvalidError, matching, parse, parseJson } from './config/parse.js';

/**
 * The hub's configuration contract (README, "Configuration"). This module and the wiring are the
 * only code that reads the environment; everything else receives what it needs. The apps' schema,
 * the API bases and the parsing helpers are in lib/config/; loadConfig here is the one entry point.
 */

// Importable from here as before.
export { DEFAULT_WECHAT_API_BASES, DEFAULT_WECOM_API_BASES } from './config/api-bases.js';
export { APP_NAME, DEFAULT_PROXY_PATHS, parseAppEntry, type AppConfig } from './config/apps.js';
export { ConfigurationInvalidError } from './config/parse.js';

export const SCOPES = ['read', 'refresh', 'proxy', 'login', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

const label = z.string().check(z.minLength(1), z.maxLength(64));
const appList = z.array(z.union([z.literal('*'), matching(APP_NAME), matching(AUTHORIZER_GRANT)])).check(z.minLength(1));
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

/** The longest life WeChat gives an access token or a ticket (expires_in), in seconds. */
export const MAX_TOKEN_LIFE_SECONDS = 7200;

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const PORT_MESSAGE = 'must be a port number 0-65535';

/** WeChat's daily access_token quota of an Official Account (docs/wechat.md §1): no app can be refreshed more often a day. */
export const WECHAT_DAILY_TOKEN_QUOTA = 2000;

/** A JSON variable: set but empty is an error (like PORT), not "unset". */
const jsonText = z.string().check(z.minLength(1, 'is set but empty: give a JSON array, or leave the variable unset'));

const envSchema = z.object({
  HUB_APPS: z.optional(jsonText),
  /** In AWS: one SSM parameter per app under this path (e.g. /wechat-token-hub/prod/apps/), read at run time. */
  HUB_APPS_SSM_PATH: sshPath('must be an SSM path starting and ending with /', /^\/[A-Za-z0-9_.\-/]{1,1000}\/$/),
  HUB_API_KEYS: z.optional(jsonText),
  HUB_AUTH: z._default(z.enum(['key', 'iam']), 'key'),
  HUB_IAM_PRINCIPALS: z._default(jsonText, '[]'),
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
  FORCED_DAILY_BUDGET: seconds(200).check(
    z.refine((n) => n <= WECHAT_DAILY_TOKEN_QUOTA, `must be at most ${WECHAT_DAILY_TOKEN_QUOTA}, WeChat's daily access_token quota of an Official Account (docs/wechat.md §1)`),
  ),
  TICK_CONCURRENCY: seconds(16),
  /** The tick probes each credential at most this often (seconds), spread by credential (docs/architecture.md). */
  SELF_HEAL_INTERVAL: seconds(300),
  // How often each platform's authorizers are compared with WeChat's list (lib/platform/roster.ts); 0: never.
  PLATFORM_ROSTER_INTERVAL: wholeSeconds(21_600),
  /** Due credentials one tick invocation refreshes itself; past it, shards go to invocations of their own. */
  TICK_INVOCATION_BUDGET: seconds(400),
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
    selfHealIntervalMs: number;
    tickInvocationBudget: number;
    probeTtlMs: number;
    unverifiedMinAgeMs: number;
    unverifiedForcedDailyBudget: number;
    secretCacheTtlSeconds: number;
    configErrorBackoffMs: number;
  };
  selfHeal: boolean;
  /** How often a platform's authorizers are compared with WeChat's list (ms); 0: never. */
  rosterIntervalMs: number;
  /** The local HTTP port (`npm start`); 0 picks a free one. */
  port: number;
  /** The log level of `npm start`. */
  logLevel: LogLevel;
}

export interface LoadOptions {
  /**
   * The configuration is a Lambda's (deploy/check-config.cjs, at package time): an `{"env": …}`
   * secret is refused, since nothing sets that variable in Lambda; secrets are in SSM there.
   */
  lambda?: boolean;
}

/** Parse and check the whole configuration; the message names the field that is wrong. */
export function loadConfig(env: Record<string, string | undefined>, options: LoadOptions = {}): HubConfig {
  const e = parse(envSchema, env, '');
  if (e.HUB_APPS === undefined && e.HUB_APPS_SSM_PATH === undefined) {
    throw new ConfigurationInvalidError('Invalid configuration: HUB_APPS: is required: a JSON array of apps (or HUB_APPS_SSM_PATH, an SSM path with one parameter per app)');
  }
  const apps = parse(appsSchema, parseJson(e.HUB_APPS ?? '[]', 'HUB_APPS'), 'HUB_APPS');
  if (apps.length === 0 && !e.HUB_APPS_SSM_PATH) throw new ConfigurationInvalidError('Invalid configuration: HUB_APPS: must list at least one app');
  const apiKeys = e.HUB_API_KEYS === undefined ? [] : parseApiKeys(e.HUB_API_KEYS, 'HUB_API_KEYS');
  if (e.HUB_API_KEYS !== undefined && apiKeys.length === 0 && e.HUB_AUTH === 'key' && !e.HUB_API_KEYS_SSM) {
    throw new ConfigurationInvalidError('Invalid configuration: HUB_API_KEYS: no keys: nobody could call the hub (list at least one entry from `npm run key`)');
  }
  const iamPrincipals = parse(callerList(iamPrincipalSchema, 'arn', 'principal'), parseJson(e.HUB_IAM_PRINCIPALS, 'HUB_IAM_PRINCIPALS'), 'HUB_IAM_PRINCIPALS');
  if (e.HUB_AUTH === 'iam' && iamPrincipals.length === 0) {
    throw new ConfigurationInvalidError('Invalid configuration: HUB_IAM_PRINCIPALS: must list at least one principal when HUB_AUTH is iam');
  }
  apps.forEach((a, i) => {
    // A platform has three secrets (its AppSecret, the message token, the EncodingAESKey); an app one.
    const refs = a.type === 'platform' ? ([['secret', a.secret], ['token', a.token], ['aesKey', a.aesKey]] as const) : ([['secret', a.secret]] as const);
    for (const [field, ref] of refs) {
      if ('env' in ref && options.lambda) {
        throw new ConfigurationInvalidError(
          `Invalid configuration: HUB_APPS[${i}].${field}: {"env": "${ref.env}"} cannot work in AWS (nothing sets ${ref.env} in Lambda): ` +
            `put the ${field === 'secret' ? 'secret' : field} in SSM as a SecureString and give {"ssm": "/wechat-token-hub/<stage>/${a.name}${field === 'secret' ? '' : `-${field}`}"}`,
        );
      }
      if ('env' in ref && !env[ref.env]) {
        throw new ConfigurationInvalidError(`Invalid configuration: HUB_APPS[${i}].${field}: environment variable ${ref.env} is not set`);
      }
    }
  });
  if (!e.HUB_APPS_SSM_PATH) checkKeyApps(apiKeys, apps); // with apps in SSM, a key may name an app added later
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
      selfHealIntervalMs: e.SELF_HEAL_INTERVAL * 1000,
      tickInvocationBudget: e.TICK_INVOCATION_BUDGET,
      probeTtlMs: e.PROBE_TTL * 1000,
      unverifiedMinAgeMs: e.UNVERIFIED_MIN_AGE * 1000,
      unverifiedForcedDailyBudget: e.UNVERIFIED_DAILY_BUDGET,
      secretCacheTtlSeconds: e.SECRET_CACHE_TTL,
      configErrorBackoffMs: e.CONFIG_ERROR_BACKOFF * 1000,
    },
    selfHeal: e.SELF_HEAL === 'on',
    rosterIntervalMs: e.PLATFORM_ROSTER_INTERVAL * 1000,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
  };
}

/** A key list (HUB_API_KEYS, or the SSM parameter's value), checked; the message names the field. */
export function parseApiKeys(text: string, field: string): ApiKeyConfig[] {
  return parse(callerList(apiKeySchema, 'sha256', 'key'), parseJson(text, field), field);
}
