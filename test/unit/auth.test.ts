import { describe, expect, it } from 'vitest';
import { ApiKeyring, IamPrincipals, hashApiKey, permit, principalArn } from '../../lib/http/auth.js';
import { HttpError } from '../../lib/errors.js';

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

  function refusal(header: string | undefined): { status: number; message: string; challenge: string | undefined } {
    try {
      ring.authenticate(header);
    } catch (e) {
      const http = e as HttpError;
      return { status: http.status, message: http.message, challenge: http.headers['www-authenticate'] };
    }
    throw new Error('the header was accepted');
  }

  it.each([
    ['a short well-formed key', 'Bearer hub_wrong'],
    ['a one-character key', 'Bearer x'],
    ['a long unknown key', `Bearer ${'k'.repeat(400)}`],
    ['a token68 with padding', 'Bearer aGVsbG8=='],
    ['a lowercase scheme and an unknown key', 'bearer key_that_nobody_has_000000'],
    ['an uppercase scheme and an unknown key', 'BEARER key_that_nobody_has_000000'],
    ['more than one space', 'Bearer   key_that_nobody_has_000000'],
    ['a token that is not a token68', 'Bearer not a key'],
  ])('%s is parsed, and is "not valid"', (_label, header) => {
    expect(refusal(header)).toEqual({ status: 401, message: 'the API key is not valid', challenge: 'Bearer error="invalid_token"' });
  });

  it.each([
    ['a lowercase scheme', `bearer ${A}`],
    ['an uppercase scheme', `BEARER ${A}`],
    ['a mixed-case scheme', `bEaReR ${A}`],
    ['surrounding spaces', `  Bearer ${A}  `],
  ])('%s with the right key is accepted (RFC 9110: the scheme is case-insensitive)', (_label, header) => {
    expect(ring.authenticate(header).name).toBe('a');
  });

  it.each([
    ['no scheme', A],
    ['a scheme alone', 'Bearer'],
    ['a scheme and spaces', 'Bearer   '],
    ['a colon after the scheme', `Bearer: ${A}`],
  ])('%s gets the format message', (_label, header) => {
    expect(refusal(header)).toEqual({ status: 401, message: 'the Authorization header must be "Bearer <key>"', challenge: 'Bearer' });
  });

  it.each([
    ['Basic', `Basic ${Buffer.from(`x:${A}`).toString('base64')}`],
    ['Token', `Token ${A}`],
    ['Digest', 'Digest username="a", realm="hub"'],
  ])('another scheme (%s) is told which scheme is expected', (_label, header) => {
    expect(refusal(header)).toEqual({ status: 401, message: 'the Authorization header must use the Bearer scheme: "Bearer <key>"', challenge: 'Bearer' });
  });

  it('no header, or an empty one, says a key is required', () => {
    expect(refusal(undefined).message).toBe('an API key is required: Authorization: Bearer <key>');
    expect(refusal('').message).toBe('an API key is required: Authorization: Bearer <key>');
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
