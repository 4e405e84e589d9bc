import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKeyConfig, IamPrincipalConfig, Scope } from '../config.js';
import { HttpError } from '../errors.js';

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

/**
 * Whether a grant's app list covers the principal `app`: `*` (every one), its name, or, for a
 * platform's authorizer (`<platform>/<appid>`), `<platform>/*` (every account that authorized it).
 */
export function covers(apps: readonly string[], app: string): boolean {
  if (apps.includes('*') || apps.includes(app)) return true;
  const slash = app.indexOf('/');
  return slash > 0 && apps.includes(`${app.slice(0, slash)}/*`);
}

/** Whether the grant covers `scope` on `app`. */
export function allows(grant: Grant, app: string, scope: Scope): boolean {
  return covers(grant.apps, app) && grant.scopes.includes(scope);
}

/** 403 unless the grant covers `scope` on `app`. */
export function permit(grant: Grant, app: string, scope: Scope): Caller {
  if (!covers(grant.apps, app)) {
    throw new HttpError(403, 'forbidden', 'this caller may not use this app');
  }
  if (!grant.scopes.includes(scope)) {
    throw new HttpError(403, 'forbidden', `this caller lacks the "${scope}" scope`);
  }
  return { keyName: grant.name };
}

/** `<scheme> <credentials>` (RFC 9110, section 11.4): the scheme is a token, compared without case. */
const CREDENTIALS = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) +(\S(?:.*\S)?)$/;
/** RFC 9110's token68, the form of a bearer token (RFC 6750). */
const TOKEN68 = /^[A-Za-z0-9._~+/-]+=*$/;
const FORMAT = 'the Authorization header must be "Bearer <key>"';

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

  /**
   * The key's entry, or 401: "is required" without a header; the format message for a header that
   * is not `<scheme> <credentials>` or names another scheme; "is not valid" for any bearer token
   * (`Bearer`, in any case) that is not a configured key, whatever its length or form.
   */
  authenticate(authorization: string | undefined): ApiKeyConfig {
    if (!authorization?.trim()) throw new HttpError(401, 'unauthorized', 'an API key is required: Authorization: Bearer <key>', { 'www-authenticate': 'Bearer' });
    const match = CREDENTIALS.exec(authorization.trim());
    if (!match) throw new HttpError(401, 'unauthorized', FORMAT, { 'www-authenticate': 'Bearer' });
    if (match[1]!.toLowerCase() !== 'bearer') {
      throw new HttpError(401, 'unauthorized', 'the Authorization header must use the Bearer scheme: "Bearer <key>"', { 'www-authenticate': 'Bearer' });
    }
    const token = match[2]!;
    // A token that is not a token68 cannot be a key; it is refused as any unknown key is.
    const found = TOKEN68.test(token) ? this.lookup(token) : undefined;
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
