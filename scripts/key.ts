/**
 * npm run key -- --apps shop,blog --scopes read,refresh [--name orders-service]
 * Makes an API key: prints the key once (give it to the caller) and the entry to add to the key
 * list (HUB_API_KEYS locally, the SSM parameter in AWS), which holds only the key's SHA-256.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { APP_NAME, SCOPES, type Scope } from '../lib/config.js';
import { hashApiKey } from '../lib/http/auth.js';

function fail(message: string): never {
  console.error(`npm run key: ${message}`);
  console.error('usage: npm run key -- --apps <app,app|*> --scopes <read,refresh,proxy,admin> [--name <label>]');
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: { apps: { type: 'string' }, scopes: { type: 'string', default: 'read' }, name: { type: 'string' } },
    strict: true,
  }));
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
if (!values.apps) fail('--apps is required ("*" for every app)');
const apps = values.apps.split(',').map((a) => a.trim()).filter(Boolean);
for (const a of apps) if (a !== '*' && !APP_NAME.test(a)) fail(`"${a}" is not an app name`);
const scopes = values.scopes.split(',').map((s) => s.trim()).filter(Boolean);
for (const s of scopes) if (!(SCOPES as readonly string[]).includes(s)) fail(`"${s}" is not a scope (${SCOPES.join(', ')})`);
const name = values.name ?? `key-${new Date().toISOString().slice(0, 10)}-${randomBytes(2).toString('hex')}`;

const key = `hub_${randomBytes(32).toString('base64url')}`;
const entry = { name, sha256: hashApiKey(key), apps, scopes: scopes as Scope[] };
console.log(`API key (shown once; store it where the calling service keeps secrets):\n  ${key}\n`);
console.log(`Entry to add to the key list (HUB_API_KEYS, or the SSM parameter HUB_API_KEYS_SSM names):\n  ${JSON.stringify(entry)}`);
