import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import type { AuthorizerApp, AuthorizerStatus, PlatformApp } from '../apps.js';
import { DEFAULT_PROXY_PATHS } from '../config.js';
import type { CredentialStore, PrincipalRow } from '../store/store.js';

/**
 * Authorizers (docs/wechat.md §10): the accounts that authorized a third-party platform, principals
 * registered at run time by their authorization, one row each (`PRINCIPAL#<platform>/<appid>`,
 * source `platform:<platform>`), listed by the prefix `<platform>/`. The row says who the account
 * is and whether its authorization stands; its tokens and refresh token are credentials of it
 * (lib/kinds/authorizer.ts), never in the row.
 */

export const AUTHORIZER_TYPE = 'authorizer';
/** An authorizer appid as WeChat issues them (wx + 16 hex), loosely: letters, digits, _ and -. */
export const AUTHORIZER_APPID = /^[A-Za-z0-9_-]{1,64}$/;

export const authorizerName = (platform: string, appid: string): string => `${platform}/${appid}`;
export const authorizerPrefix = (platform: string): string => `${platform}/`;

/** The platform and appid of an authorizer's principal name, or undefined for any other name. */
export function splitAuthorizerName(name: string): { platform: string; appid: string } | undefined {
  const at = name.indexOf('/');
  if (at <= 0) return undefined;
  const appid = name.slice(at + 1);
  return AUTHORIZER_APPID.test(appid) ? { platform: name.slice(0, at), appid } : undefined;
}

const docSchema = z.object({
  platform: z.string(),
  appid: z.string(),
  componentAppid: z.string(),
  status: z.enum(['authorized', 'revoked']),
  funcs: z.array(z.number()),
  authorizedAt: z.number(),
  revokedAt: z.optional(z.number()),
});
export type AuthorizerDoc = z.output<typeof docSchema>;

/** The authorizer a row describes, of the platform it authorized; undefined for a row that is not one. */
export function authorizerFromRow(row: PrincipalRow, platform: PlatformApp): AuthorizerApp | undefined {
  if (row.type !== AUTHORIZER_TYPE) return undefined;
  const doc = docSchema.safeParse(row.doc);
  if (!doc.success || doc.data.platform !== platform.name) return undefined;
  return authorizerApp(platform, doc.data);
}

function authorizerApp(platform: PlatformApp, d: AuthorizerDoc): AuthorizerApp {
  return {
    type: 'authorizer',
    name: authorizerName(platform.name, d.appid),
    appid: d.appid,
    platform: platform.name,
    componentAppid: d.componentAppid,
    status: d.status,
    funcs: d.funcs,
    authorizedAt: d.authorizedAt,
    ...(d.revokedAt === undefined ? {} : { revokedAt: d.revokedAt }),
    tickets: [],
    // Its token on WeChat's own paths (the SDK's platform mode) only when its platform has `compat`.
    compat: platform.compat,
    proxyPaths: DEFAULT_PROXY_PATHS.wechat,
    getSecret: () => Promise.reject(new Error('an authorizer has no secret: its token is fetched with its refresh token')),
  };
}

/** The row of an authorizer in this state. */
export function authorizerRow(platform: PlatformApp, d: Omit<AuthorizerDoc, 'platform' | 'componentAppid'>, now: number): { row: PrincipalRow; app: AuthorizerApp } {
  const doc: AuthorizerDoc = { platform: platform.name, componentAppid: platform.appid, ...d };
  const digest = createHash('sha256').update(JSON.stringify(doc)).digest('base64url');
  return {
    row: { name: authorizerName(platform.name, d.appid), type: AUTHORIZER_TYPE, source: `platform:${platform.name}`, doc: { ...doc }, digest, updatedAt: now },
    app: authorizerApp(platform, doc),
  };
}

/** The authorizer's row with a new status (kept, never deleted: its history is the platform's record). */
export async function setAuthorizerStatus(store: CredentialStore, platform: PlatformApp, appid: string, status: AuthorizerStatus, now: number): Promise<AuthorizerApp | undefined> {
  const row = await store.getPrincipal(authorizerName(platform.name, appid));
  const current = row && authorizerFromRow(row, platform);
  if (!current) return undefined;
  const next = authorizerRow(platform, { appid, status, funcs: [...current.funcs], authorizedAt: current.authorizedAt, ...(status === 'revoked' ? { revokedAt: now } : {}) }, now);
  await store.putPrincipal(next.row);
  return next.app;
}
