import type { Logger } from '@aws-lambda-powertools/logger';
import type { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import type { HubApp } from './apps.js';
import { parseApiKeys, parseAppEntry, type AppConfig, type HubConfig } from './config.js';
import { ApiKeyring, IamPrincipals, type Authenticator } from './http/auth.js';
import { KeysUnavailableError } from './errors.js';

/**
 * What the hub reads at run time rather than at deploy time: AppSecrets, the key list and the apps,
 * from the environment locally or from SSM (Powertools Parameters, cached for SECRET_CACHE_TTL) in AWS.
 */

/**
 * The keys to check callers against: fixed from HUB_API_KEYS, or read from an SSM SecureString
 * (cached for SECRET_CACHE_TTL seconds), so that a key is added or revoked without a deploy.
 */
export function keyringReader(config: HubConfig, ssm: () => SSMProvider, log: Logger): () => Promise<Authenticator> {
  if (config.auth === 'iam') {
    const principals = new IamPrincipals(config.iamPrincipals);
    return async () => principals;
  }
  const name = config.apiKeysSsm;
  if (!name) {
    const fixed = new ApiKeyring(config.apiKeys);
    return async () => fixed;
  }
  let last: { raw: string; ring: ApiKeyring } | undefined;
  return async () => {
    let raw: unknown;
    try {
      raw = await ssm().get(name, { decrypt: true, maxAge: config.timings.secretCacheTtlSeconds });
    } catch (error) {
      log.error('could not read the API key list from SSM', { error: error instanceof Error ? error.name : 'unknown' });
      throw new KeysUnavailableError('API keys unavailable');
    }
    if (typeof raw !== 'string') throw new KeysUnavailableError('API keys unavailable');
    if (last?.raw === raw) return last.ring;
    try {
      last = { raw, ring: new ApiKeyring(parseApiKeys(raw, 'HUB_API_KEYS_SSM')) };
      return last.ring;
    } catch (error) {
      log.error('the API key list in SSM is invalid', { error: error instanceof Error ? error.message : 'unknown' });
      throw new KeysUnavailableError('API keys unavailable');
    }
  };
}

/**
 * The apps kept in SSM, one parameter per app under HUB_APPS_SSM_PATH (GetParametersByPath, cached
 * for SECRET_CACHE_TTL), so that adding, changing or removing an app needs no deploy. An invalid
 * entry is logged and left out; the others stand. Undefined when SSM cannot be read now.
 */
export function appsReader(
  config: HubConfig,
  ssm: () => SSMProvider,
  log: Logger,
  toApp: (a: AppConfig) => HubApp,
  now: () => number = Date.now,
): () => Promise<HubApp[] | undefined> {
  const path = config.appsSsmPath!;
  const retryMs = Math.max(5, config.timings.secretCacheTtlSeconds) * 1000;
  let last: { raw: string; apps: HubApp[] } | undefined;
  let failedAt: number | undefined;
  return async () => {
    // After a failure, SSM is not asked again for a while: every request would otherwise wait on it.
    if (failedAt !== undefined && now() - failedAt < retryMs) return last?.apps;
    let values: Record<string, unknown> | undefined;
    try {
      // Asked without the trailing slash: IAM authorizes GetParametersByPath against the path as sent,
      // and the stack grants exactly /wechat-token-hub/<stage>/apps.
      values = (await ssm().getMultiple(path.replace(/\/$/, ''), { decrypt: true, recursive: false, maxAge: config.timings.secretCacheTtlSeconds })) as Record<string, unknown> | undefined;
    } catch (error) {
      failedAt = now();
      log.error('could not read the apps from SSM; keeping the list in use', { path, error: error instanceof Error ? error.name : 'unknown', retryInSeconds: retryMs / 1000 });
      return last?.apps;
    }
    failedAt = undefined;
    const entries = Object.entries(values ?? {}).sort(([a], [b]) => a.localeCompare(b));
    const raw = JSON.stringify(entries);
    if (last?.raw === raw) return last.apps;
    const apps: HubApp[] = [];
    for (const [name, value] of entries) {
      try {
        apps.push(toApp(parseAppEntry(String(value), `${path}${name}`)));
      } catch (error) {
        log.error('an app entry in SSM is invalid and is left out', { parameter: `${path}${name}`, error: error instanceof Error ? error.message : 'unknown' });
      }
    }
    last = { raw, apps };
    return apps;
  };
}

export function secretReader(
  app: Pick<AppConfig, 'name' | 'secret'>,
  env: Record<string, string | undefined>,
  maxAge: number,
  ssm: () => SSMProvider,
  what = 'secret',
): () => Promise<string> {
  const ref = app.secret;
  if ('env' in ref) {
    return async () => {
      const v = env[ref.env];
      if (!v) throw new Error(`the ${what} of app ${app.name} is not set`);
      return v;
    };
  }
  return async () => {
    const v = await ssm().get(ref.ssm, { decrypt: true, maxAge });
    if (typeof v !== 'string' || !v) throw new Error(`the ${what} of app ${app.name} could not be read from SSM`);
    return v;
  };
}
