/**
 * npm run key -- --apps shop,blog [--scopes read,refresh] [--name orders-service]
 * Makes an API key: prints the key once (give it to the caller) and the entry to add to the key
 * list (HUB_API_KEYS locally, the SSM parameter in AWS), which holds only the key's SHA-256.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { APP_NAME, SCOPES, type Scope } from '../lib/config.js';
import { AUTHORIZER_GRANT } from '../lib/config/keys.js';
import { hashApiKey } from '../lib/http/auth.js';

const DEFAULT_SCOPES = 'read';

const USAGE = `usage: npm run key -- --apps <app,app|*> [--scopes <scope,scope>] [--name <label>]

Makes an API key for the hub: prints the key once (give it to the calling service) and the entry
to add to the key list (HUB_API_KEYS, or the SSM parameter HUB_API_KEYS_SSM names), which holds
only the key's SHA-256.

  --apps <list>     required: the apps (names in HUB_APPS) the key may use, comma-separated;
                    '*' for every app (quoted, or the shell expands it to file names);
                    a platform's authorizers: '<platform>/*' (all, quoted) or <platform>/<appid>
  --scopes <list>   optional, default ${DEFAULT_SCOPES}: what the key may do, comma-separated:
                      read     get access tokens and JS-SDK tickets, sign pages (jsapi-signature),
                               use the WeChat-compatible paths (as an SDK's AppSecret)
                      refresh  force a refresh of a token or ticket WeChat rejected
                      proxy    call WeChat through the token-injecting proxy (/v1/apps/{app}/wechat/...)
                      login    exchange a user's login code with the AppSecret (Mini Program
                               code2Session, web authorization): /v1/apps/{app}/login and
                               …/oauth/token, WeChat's /sns/ login paths (as an SDK's AppSecret)
                      admin    the status routes (/v1/status, /v1/status/{app}/quota); implies none
                               of the others
  --name <label>    optional: a label for logs and the key list (default key-<date>-<random>)
  -h, --help        show this help

examples: npm run key -- --apps shop,blog --scopes read,refresh --name orders-service
          npm run key -- --apps '*' --scopes admin --name ops`;

function fail(message: string): never {
  console.error(`npm run key: ${message}`);
  console.error(USAGE);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      apps: { type: 'string' },
      scopes: { type: 'string', default: DEFAULT_SCOPES },
      name: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }));
} catch (error) {
  const positional = (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL';
  // `--apps *` unquoted: the shell replaced the * with the file names of the current directory.
  fail(`${error instanceof Error ? error.message : String(error)}${positional ? " (for every app, quote the '*': --apps '*')" : ''}`);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!values.apps) fail('--apps is required ("*" for every app)');
const apps = values.apps.split(',').map((a) => a.trim()).filter(Boolean);
if (apps.length === 0) fail('--apps is required ("*" for every app)');
for (const a of apps) if (a !== '*' && !APP_NAME.test(a) && !AUTHORIZER_GRANT.test(a)) fail(`"${a}" is not an app name (nor <platform>/* or <platform>/<appid>)`);
const scopes = values.scopes.split(',').map((s) => s.trim()).filter(Boolean);
if (scopes.length === 0) fail(`--scopes must list at least one scope (${SCOPES.join(', ')})`);
for (const s of scopes) if (!(SCOPES as readonly string[]).includes(s)) fail(`"${s}" is not a scope (${SCOPES.join(', ')})`);
const name = values.name ?? `key-${new Date().toISOString().slice(0, 10)}-${randomBytes(2).toString('hex')}`;
if (name.length > 64) fail('--name must be at most 64 characters');

const key = `hub_${randomBytes(32).toString('base64url')}`;
const entry = { name, sha256: hashApiKey(key), apps, scopes: scopes as Scope[] };
console.log(`API key (shown once; store it where the calling service keeps secrets):\n  ${key}\n`);
console.log(`Entry to add to the key list (HUB_API_KEYS, or the SSM parameter HUB_API_KEYS_SSM names):\n  ${JSON.stringify(entry)}`);
