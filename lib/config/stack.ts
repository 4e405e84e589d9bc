import { loadConfig, type HubConfig } from '../config.js';
import { ConfigurationInvalidError } from './parse.js';

/**
 * The package-time check of a stack's configuration (deploy/check-config.cjs runs it from
 * `sls package`, and so from `sls deploy`): the Lambda environment serverless.yml gives the
 * functions, checked by loadConfig itself, the same schema the functions use at run time, so that a
 * broken `apps` param is refused before it deploys rather than failing every request in AWS.
 */

/** Which stage param (serverless.yml `params`) each checked variable comes from. */
export const STACK_PARAMS: Readonly<Record<string, string>> = {
  HUB_APPS: 'apps',
  HUB_AUTH: 'authorizer',
  HUB_IAM_PRINCIPALS: 'iamPrincipals',
  WECHAT_API_BASES: 'wechatApiBases',
  WECOM_API_BASES: 'wecomApiBases',
  REFRESH_MARGIN: 'refreshMargin',
  FORCED_DAILY_BUDGET: 'forcedDailyBudget',
};

/**
 * Check one function's environment as serverless resolved it. Values that are CloudFormation
 * objects ({Ref: TokenTable}, Fn::…) are known only at deploy time and left out (their variables
 * take their defaults here). Throws ConfigurationInvalidError naming the field, and the stage
 * param it comes from.
 */
export function checkStackEnvironment(environment: Readonly<Record<string, unknown>>): HubConfig {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(environment)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') env[k] = String(v);
  }
  try {
    return loadConfig(env, { lambda: true });
  } catch (error) {
    if (!(error instanceof ConfigurationInvalidError)) throw error;
    const variable = /^Invalid configuration: ([A-Z_]+)/.exec(error.message)?.[1];
    const param = variable && STACK_PARAMS[variable];
    if (!param) throw error;
    throw new ConfigurationInvalidError(`${error.message}\n  (${variable} is the stage param "${param}": params in serverless.yml, or --param='${param}=…')`);
  }
}
