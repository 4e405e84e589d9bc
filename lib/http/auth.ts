import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKeyConfig, IamPrincipalConfig, Scope } from '../config.js';
import { HttpError } from './errors.js';

export interface Caller {
  keyName: string;
}

/** Who a caller is and what they may use. */
export interface Grant {
  name: string;
  apps: readonly string[];
  scopes: readonly Scope[];
}

/** Tells who is calling from what API Gateway passed on: a bearer key, or an IAM-signed identity. */
export interface Authenticator {
  identify(request: { authorization?: string; iamUserArn?: string }): Grant;
  /** A key presented on its own (WeChat-compatible paths carry it as `secret`); absent with IAM auth. */
  lookup?(key: string): Grant | undefined;
}

/** 403 unless the grant covers `scope` on `app`. */
export function permit(grant: Grant, app: string, scope: Scope): Caller {
  if (!grant.apps.includes('*') && !grant.apps.includes(app)) {
    throw new HttpError(403, 'forbidden', 'this caller may not use this app');
  }
  if (!grant.scopes.includes(scope)) {
    throw new HttpError(403, 'forbidden', `this caller lacks the "${scope}" scope`);
  }
  return { keyName: grant.name };
}

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{16,256})$/;

/** API keys held as SHA-256 hashes, each with the apps and scopes it may use. */
export class ApiKeyring implements Authenticator {
  readonly #keys: { entry: ApiKeyConfig; hash: Buffer }[];

  constructor(keys: readonly ApiKeyConfig[]) {
    this.#keys = keys.map((entry) => ({ entry, hash: Buffer.from(entry.sha256, 'hex') }));
  }

  /**
   * Who is calling, if the key may use `scope` on `app`: 401 without a valid key, 403 when the key
   * is valid but not for this app or scope. Every stored hash is compared, in constant time.
   */
  authorize(authorization: string | undefined, app: string, scope: Scope): Caller {
    return permit(this.authenticate(authorization), app, scope);
  }

  identify(request: { authorization?: string }): Grant {
    return this.authenticate(request.authorization);
  }

  /** The entry of a key presented as it is (WeChat-compatible paths carry it as `secret`), or undefined. */
  lookup(key: string): ApiKeyConfig | undefined {
    const presented = createHash('sha256').update(key).digest();
    let found: ApiKeyConfig | undefined;
    for (const k of this.#keys) {
      if (timingSafeEqual(presented, k.hash) && !found) found = k.entry;
    }
    return found;
  }

  /** The key's entry, or 401. */
  authenticate(authorization: string | undefined): ApiKeyConfig {
    if (!authorization) throw new HttpError(401, 'unauthorized', 'an API key is required: Authorization: Bearer <key>', { 'www-authenticate': 'Bearer' });
    const match = BEARER.exec(authorization.trim());
    if (!match) throw new HttpError(401, 'unauthorized', 'the Authorization header must be "Bearer <key>"', { 'www-authenticate': 'Bearer' });
    const found = this.lookup(match[1]!);
    if (!found) throw new HttpError(401, 'unauthorized', 'the API key is not valid', { 'www-authenticate': 'Bearer error="invalid_token"' });
    return found;
  }
}

/**
 * Callers inside AWS, signed with SigV4 and checked by API Gateway's IAM authorizer: the hub maps
 * the caller's IAM role or user to the apps and scopes it may use.
 */
export class IamPrincipals implements Authenticator {
  readonly #principals: readonly IamPrincipalConfig[];

  constructor(principals: readonly IamPrincipalConfig[]) {
    this.#principals = principals;
  }

  identify(request: { iamUserArn?: string }): Grant {
    const arn = request.iamUserArn ? principalArn(request.iamUserArn) : undefined;
    if (!arn) throw new HttpError(401, 'unauthorized', 'this API takes IAM-signed (SigV4) requests');
    const found = this.#principals.find((p) => p.arn === arn);
    if (!found) throw new HttpError(403, 'forbidden', 'this IAM principal is not allowed to use the hub');
    return found;
  }
}

/** `arn:aws:sts::123:assumed-role/Role/session` → `arn:aws:iam::123:role/Role`; users stay as they are. */
export function principalArn(userArn: string): string {
  const assumed = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([\w+=,.@-]+)\/[\w+=,.@-]+$/.exec(userArn);
  if (assumed) return `arn:${assumed[1]}:iam::${assumed[2]}:role/${assumed[3]}`;
  return userArn;
}

/** The entry to configure for a key: its SHA-256 in lowercase hex. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
