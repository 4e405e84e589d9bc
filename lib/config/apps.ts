import * as z from 'zod/mini';
import type { TicketType } from '../apps.js';
import { matching, parse, parseJson } from './parse.js';

/**
 * The apps' configuration schema (README, "Configuration"): an Official Account or Mini Program
 * entry, a WeCom app entry, a website entry (an Open Platform website or mobile app, for logins), the
 * list of them in HUB_APPS (names unique, compat appids unique), and one entry read from SSM; with
 * the defaults they take (name, proxy paths, tickets, compat).
 */

export const APP_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

const secretRef = z.union([
  z.strictObject({ env: matching(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name') }),
  z.strictObject({ ssm: matching(/^\/[A-Za-z0-9_.\-/]{1,1010}$/, 'must be an SSM parameter name starting with /') }),
], { error: 'must be {"env":"VAR"} or {"ssm":"/parameter/name"}' });

/** Path prefixes the token-injecting proxy forwards by default (WeChat's business API families). */
export const DEFAULT_PROXY_PATHS = {
  wechat: ['/cgi-bin/', '/wxa/', '/datacube/', '/card/', '/customservice/'],
  wecom: ['/cgi-bin/'],
} as const;

const proxyPathsSchema = z.optional(
  z
    .array(z.string().check(z.regex(/^\/[A-Za-z0-9_\-/.]{0,200}$/, 'must be a path prefix such as /cgi-bin/'), z.refine((p) => !p.split('/').includes('..'), 'must not contain ..')))
    .check(z.minLength(1, 'must list at least one path prefix')),
);

const ticketsSchema = <const T extends readonly [TicketType, ...TicketType[]]>(allowed: T) =>
  z._default(z.array(z.enum(allowed, { error: `must be one of ${allowed.join(', ')}` })), []);

const appName = z.optional(matching(APP_NAME, 'must be 1-64 letters, digits, _ or -'));

const wechatAppSchema = z
  .pipe(
    z.strictObject({
      name: appName,
      appid: matching(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -'),
      type: z.enum(['official_account', 'mini_program'], { error: 'must be official_account, mini_program, wecom, website or platform' }),
      tokenApi: z._default(z.enum(['classic', 'stable']), 'classic'),
      secret: secretRef,
      /** JS-SDK tickets the tick keeps fresh from the start (Official Accounts: jsapi, wx_card). */
      tickets: ticketsSchema(['jsapi', 'wx_card']),
      /** Answer on WeChat's own paths (/cgi-bin/token, …) so that an unmodified SDK can use the hub. */
      compat: z._default(z.boolean(), false),
      /** Path prefixes the token-injecting proxy may forward to. */
      proxyPaths: proxyPathsSchema,
    }),
    z.transform((a) => ({ ...a, name: a.name ?? a.appid, proxyPaths: a.proxyPaths ?? [...DEFAULT_PROXY_PATHS.wechat] })),
  )
  .check(z.refine((a) => a.type === 'official_account' || a.tickets.length === 0, { path: ['tickets'], message: 'a Mini Program has no JS-SDK tickets' }));

const AGENTID_MESSAGE = 'must be the app\'s AgentId (a positive integer); leave agentid out for a secret that has none (contacts sync, customer contact)';

/**
 * A WeCom secret: a self-built app's (with its AgentId: token, corp ticket, app ticket), or one
 * without an AgentId (contacts sync 通讯录同步, customer contact 客户联系): token and corp ticket only,
 * and then `name` is required (there is no `<corpid>-<agentid>` to default to).
 */
const wecomAppSchema = z.pipe(
  z
    .strictObject({
      name: appName,
      type: z.literal('wecom'),
      corpid: matching(/^[A-Za-z0-9_-]{1,64}$/, 'must be the corp ID (1-64 letters, digits, _ or -)'),
      agentid: z.optional(z.number({ error: AGENTID_MESSAGE }).check(z.refine((n) => Number.isInteger(n) && n > 0, AGENTID_MESSAGE))),
      secret: secretRef,
      /** JS-SDK tickets the tick keeps fresh from the start (WeCom: jsapi, the corp ticket; agent_config, the app ticket). */
      tickets: ticketsSchema(['jsapi', 'agent_config']),
      compat: z._default(z.boolean(), false),
      proxyPaths: proxyPathsSchema,
    })
    .check(
      z.refine((a) => a.agentid !== undefined || a.name !== undefined, {
        path: ['name'],
        message: 'is required for a WeCom secret without an agentid (contacts sync, customer contact): there is no <corpid>-<agentid> to name it by',
      }),
      z.refine((a) => a.agentid !== undefined || !a.tickets.includes('agent_config'), {
        path: ['tickets'],
        message: 'agent_config (the app ticket, for wx.agentConfig) needs an agentid: a secret without one has only the corp ticket (jsapi)',
      }),
    ),
  z.transform((a) => ({ ...a, name: a.name ?? `${a.corpid}-${a.agentid}`, proxyPaths: a.proxyPaths ?? [...DEFAULT_PROXY_PATHS.wecom] })),
);

/** An Open Platform website or mobile app: its AppSecret serves logins only (no token, no ticket, nothing to proxy). */
const websiteAppSchema = z.pipe(
  z.strictObject({
    name: appName,
    type: z.literal('website'),
    appid: matching(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -'),
    secret: secretRef,
    compat: z._default(z.boolean(), false),
  }),
  z.transform((a) => ({ ...a, name: a.name ?? a.appid, tickets: [] as TicketType[], proxyPaths: [] as string[] })),
);

/**
 * A third-party platform (开放平台第三方平台, a "component"): its component appid, its AppSecret, and
 * the message token and EncodingAESKey of its authorization event URL, each a secret reference.
 * `name` is required (its URLs are /v1/platforms/{name}/…).
 */
const platformSchema = z.pipe(
  z.strictObject({
    name: matching(APP_NAME, 'must be 1-64 letters, digits, _ or -'),
    type: z.literal('platform'),
    appid: matching(/^[A-Za-z0-9_-]{1,64}$/, 'must be the component appid (1-64 letters, digits, _ or -)'),
    secret: secretRef,
    token: secretRef,
    aesKey: secretRef,
    // Its SDKs on WeChat's own component paths, and its authorizers' tokens on the pass-through (docs/compat.md).
    compat: z._default(z.boolean(), false),
  }),
  z.transform((a) => ({ ...a, tickets: [] as TicketType[], proxyPaths: [] as string[] })),
);

/** An app entry, checked by the schema of its type, so that a message names the field that is wrong. */
const appSchema = z.pipe(
  z.unknown(),
  z.transform((value, ctx): z.output<typeof wechatAppSchema> | z.output<typeof wecomAppSchema> | z.output<typeof websiteAppSchema> | z.output<typeof platformSchema> => {
    const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
    const schema = type === 'wecom' ? wecomAppSchema : type === 'website' ? websiteAppSchema : type === 'platform' ? platformSchema : wechatAppSchema;
    const result = (schema as typeof wechatAppSchema).safeParse(value);
    if (result.success) return result.data;
    for (const issue of result.error.issues) ctx.issues.push({ code: 'custom', message: issue.message, path: issue.path, input: value });
    return z.NEVER;
  }),
);

export const appsSchema = z.array(appSchema).check(
  z.superRefine((apps, ctx) => {
    const seen = new Set<string>();
    const compatIds = new Set<string>();
    apps.forEach((a, i) => {
      if (seen.has(a.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate app name "${a.name}"` });
      seen.add(a.name);
      const id = a.type === 'wecom' ? undefined : a.appid;
      if (a.compat && id !== undefined) {
        if (compatIds.has(id)) ctx.addIssue({ code: 'custom', path: [i, 'compat'], message: `another compat app has appid "${id}": WeChat-compatible paths find an app by its appid` });
        compatIds.add(id);
      }
    });
  }),
);

export type AppConfig = z.output<typeof appSchema>;

/**
 * One app entry read from SSM (the parameter's JSON value); `name` defaults to the parameter's last
 * path segment. Throws ConfigurationInvalidError naming the parameter.
 */
export function parseAppEntry(json: string, parameter: string): AppConfig {
  const name = parameter.split('/').filter(Boolean).pop();
  const raw = parseJson(json, parameter);
  const withName = typeof raw === 'object' && raw !== null && !Array.isArray(raw) && !('name' in raw) && name ? { ...raw, name } : raw;
  return parse(appSchema, withName, parameter);
}
