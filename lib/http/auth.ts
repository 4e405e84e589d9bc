import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKeyConfig, Scope } from '../config.js';
import { HttpError } from './errors.js';

export interface Caller {
  keyName: string;
}

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{16,256})$/;

/** API keys held as SHA-256 hashes, each with the apps and scopes it may use. */
export class ApiKeyring {
  readonly #keys: { entry: ApiKeyConfig; hash: Buffer }[];

  constructor(keys: readonly ApiKeyConfig[]) {
    this.#keys = keys.map((entry) => ({ entry, hash: Buffer.from(entry.sha256, 'hex') }));
  }

  /**
   * Who is calling, if the key may use `scope` on `app`: 401 without a valid key, 403 when the key
   * is valid but not for this app or scope. Every stored hash is compared, in constant time.
   */
  authorize(authorization: string | undefined, app: string, scope: Scope): Caller {
    return this.permit(this.authenticate(authorization), app, scope);
  }

  /** The key's entry, or 401. */
  authenticate(authorization: string | undefined): ApiKeyConfig {
    if (!authorization) throw new HttpError(401, 'unauthorized', 'an API key is required: Authorization: Bearer <key>', { 'www-authenticate': 'Bearer' });
    const match = BEARER.exec(authorization.trim());
    if (!match) throw new HttpError(401, 'unauthorized', 'the Authorization header must be "Bearer <key>"', { 'www-authenticate': 'Bearer' });
    const presented = createHash('sha256').update(match[1]!).digest();
    let found: ApiKeyConfig | undefined;
    for (const k of this.#keys) {
      if (timingSafeEqual(presented, k.hash) && !found) found = k.entry;
    }
    if (!found) throw new HttpError(401, 'unauthorized', 'the API key is not valid', { 'www-authenticate': 'Bearer error="invalid_token"' });
    return found;
  }

  /** 403 unless the key may use `scope` on `app`. */
  permit(found: ApiKeyConfig, app: string, scope: Scope): Caller {
    if (!found.apps.includes('*') && !found.apps.includes(app)) {
      throw new HttpError(403, 'forbidden', 'this API key may not use this app');
    }
    if (!found.scopes.includes(scope)) {
      throw new HttpError(403, 'forbidden', `this API key lacks the "${scope}" scope`);
    }
    return { keyName: found.name };
  }
}

/** The entry to configure for a key: its SHA-256 in lowercase hex. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
