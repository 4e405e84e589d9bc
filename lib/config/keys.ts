import type { AppConfig } from './apps.js';
import { ConfigurationInvalidError } from './parse.js';

/** A platform's authorizers in a key's app list: `<platform>/*` (all of them) or `<platform>/<appid>` (one). */
export const AUTHORIZER_GRANT = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\/(\*|[A-Za-z0-9_-]{1,64})$/;

/** Every app a key names is configured (`*` aside), and every `<platform>/…` names a configured platform. */
export function checkKeyApps(keys: readonly { apps: readonly string[] }[], apps: readonly AppConfig[]): void {
  const names = new Set(apps.map((a) => a.name));
  const platforms = new Set(apps.filter((a) => a.type === 'platform').map((a) => a.name));
  keys.forEach((k, i) => {
    k.apps.forEach((a, j) => {
      if (a === '*') return;
      const platform = AUTHORIZER_GRANT.test(a) ? a.slice(0, a.indexOf('/')) : undefined;
      if (platform !== undefined && !platforms.has(platform)) {
        throw new ConfigurationInvalidError(`Invalid configuration: HUB_API_KEYS[${i}].apps[${j}]: no platform is named "${platform}" (\`<platform>/*\` names a platform's authorizers)`);
      }
      if (platform === undefined && !names.has(a)) throw new ConfigurationInvalidError(`Invalid configuration: HUB_API_KEYS[${i}].apps[${j}]: no app is named "${a}"`);
    });
  });
}
