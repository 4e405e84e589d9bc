import { describe, expect, it } from 'vitest';
import { ApiKeyring, IamPrincipals, hashApiKey, permit, principalArn } from '../../lib/http/auth.js';
import { HttpError } from '../../lib/http/errors.js';

const A = 'key_for_app_a_0123456789';
const ADMIN = 'key_admin_only_0123456789';
const ring = new ApiKeyring([
  { name: 'a', sha256: hashApiKey(A), apps: ['a'], scopes: ['read'] },
  { name: 'admin', sha256: hashApiKey(ADMIN), apps: ['*'], scopes: ['admin'] },
]);

function status(header: string | undefined, app: string, scope: 'read' | 'refresh'): number {
  try {
    ring.authorize(header, app, scope);
    return 200;
  } catch (e) {
    return (e as HttpError).status;
  }
}

describe('ApiKeyring', () => {
  it.each([
    ['no header', undefined, 401],
    ['not Bearer', `Basic ${A}`, 401],
    ['too short', 'Bearer abc', 401],
    ['unknown key', 'Bearer key_that_nobody_has_000000', 401],
    ['right key', `Bearer ${A}`, 200],
  ])('%s → %i', (_label, header, expected) => {
    expect(status(header, 'a', 'read')).toBe(expected);
  });

  it('a key for app a can neither read nor refresh app b', () => {
    expect(status(`Bearer ${A}`, 'b', 'read')).toBe(403);
    expect(status(`Bearer ${A}`, 'b', 'refresh')).toBe(403);
  });

  it('a key is held to its scopes; admin does not imply read', () => {
    expect(status(`Bearer ${A}`, 'a', 'refresh')).toBe(403);
    expect(status(`Bearer ${ADMIN}`, 'a', 'read')).toBe(403);
  });

  it('stores nothing but hashes and never echoes the key', () => {
    try {
      ring.authorize('Bearer key_that_nobody_has_000000', 'a', 'read');
    } catch (e) {
      expect((e as Error).message).not.toContain('key_that_nobody_has');
    }
  });
});

describe('IAM principals', () => {
  const principals = new IamPrincipals([
    { name: 'orders', arn: 'arn:aws:iam::123456789012:role/orders', apps: ['a'], scopes: ['read', 'refresh'] },
  ]);

  it.each([
    ['arn:aws:sts::123456789012:assumed-role/orders/lambda-session', 'arn:aws:iam::123456789012:role/orders'],
    ['arn:aws-cn:sts::123456789012:assumed-role/r/s', 'arn:aws-cn:iam::123456789012:role/r'],
    ['arn:aws:iam::123456789012:user/alice', 'arn:aws:iam::123456789012:user/alice'],
  ])('%s is %s', (from, to) => {
    expect(principalArn(from)).toBe(to);
  });

  it('maps an assumed role to its grant and refuses others', () => {
    const grant = principals.identify({ iamUserArn: 'arn:aws:sts::123456789012:assumed-role/orders/x' });
    expect(permit(grant, 'a', 'refresh')).toEqual({ keyName: 'orders' });
    expect(() => permit(grant, 'b', 'read')).toThrow(HttpError);
    expect(() => principals.identify({ iamUserArn: 'arn:aws:sts::999999999999:assumed-role/orders/x' })).toThrow(/not allowed/);
    expect(() => principals.identify({ authorization: `Bearer ${A}` } as never)).toThrow(/IAM-signed/);
  });
});
