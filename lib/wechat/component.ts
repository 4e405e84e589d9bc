import * as z from 'zod/mini';
import type { WeChatClient } from './client.js';
import type { RequestHooks } from './types.js';

/**
 * A third-party platform's (component's) API (docs/wechat.md §10): every call a JSON POST under
 * /cgi-bin/component/, the component token in the query. Built on WeChatClient.postJson (its bases,
 * retries, deadline, and never a log line: the bodies carry the component secret and refresh tokens).
 */

type Call = RequestHooks & { deadline?: number };

const componentToken = z.object({ component_access_token: z.string().check(z.minLength(1)), expires_in: z.number() });
const preAuthCode = z.object({ pre_auth_code: z.string().check(z.minLength(1)), expires_in: z.number() });
const authorization = z.object({
  authorization_info: z.object({
    authorizer_appid: z.string().check(z.minLength(1)),
    authorizer_access_token: z.string().check(z.minLength(1)),
    expires_in: z.number(),
    authorizer_refresh_token: z.string().check(z.minLength(1)),
    func_info: z.optional(z.array(z.object({ funcscope_category: z.optional(z.object({ id: z.number() })) }))),
  }),
});
const authorizerToken = z.object({
  authorizer_access_token: z.string().check(z.minLength(1)),
  expires_in: z.number(),
  authorizer_refresh_token: z.optional(z.string()),
});
const authorizerList = z.object({
  total_count: z.number(),
  list: z.array(z.object({ authorizer_appid: z.string(), refresh_token: z.string(), auth_time: z.optional(z.number()) })),
});
const ok = z.object({ errcode: z.optional(z.literal(0)) });

const parser = <T extends z.ZodMiniType>(schema: T) => (answer: unknown): z.output<T> | undefined => {
  const r = schema.safeParse(answer);
  return r.success ? r.data : undefined;
};

export interface Authorization {
  authorizerAppid: string;
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
  /** The permission sets (funcscope_category ids) the account granted. */
  funcs: number[];
}

/** The component API of one platform, through a WeChat client. */
export class ComponentApi {
  constructor(private readonly client: WeChatClient) {}

  /** api_component_token: the component token, with the component secret and the last pushed ticket. */
  async componentToken(req: { appid: string; secret: string; ticket: string } & Call): Promise<{ accessToken: string; expiresIn: number }> {
    const body = { component_appid: req.appid, component_appsecret: req.secret, component_verify_ticket: req.ticket };
    const t = await this.client.postJson('/cgi-bin/component/api_component_token', {}, body, req, parser(componentToken), true);
    return { accessToken: t.component_access_token, expiresIn: t.expires_in };
  }

  /** api_create_preauthcode: a code for one authorization link. */
  async preAuthCode(req: { appid: string; componentToken: string } & Call): Promise<{ preAuthCode: string; expiresIn: number }> {
    const t = await this.client.postJson('/cgi-bin/component/api_create_preauthcode', { component_access_token: req.componentToken }, { component_appid: req.appid }, req, parser(preAuthCode));
    return { preAuthCode: t.pre_auth_code, expiresIn: t.expires_in };
  }

  /** api_query_auth: an authorization code (the redirect's, or the event's) for the account's tokens. */
  async queryAuth(req: { appid: string; componentToken: string; code: string } & Call): Promise<Authorization> {
    const t = await this.client.postJson('/cgi-bin/component/api_query_auth', { component_access_token: req.componentToken }, { component_appid: req.appid, authorization_code: req.code }, req, parser(authorization));
    const a = t.authorization_info;
    const funcs = (a.func_info ?? []).flatMap((f) => (f.funcscope_category ? [f.funcscope_category.id] : []));
    return { authorizerAppid: a.authorizer_appid, accessToken: a.authorizer_access_token, expiresIn: a.expires_in, refreshToken: a.authorizer_refresh_token, funcs };
  }

  /**
   * api_authorizer_token: an authorizer's access token with its refresh token. WeChat may return a
   * refresh token: the caller stores whatever comes back (`refreshToken`, the one sent when none did).
   */
  async authorizerToken(req: { appid: string; componentToken: string; authorizerAppid: string; refreshToken: string } & Call): Promise<{ accessToken: string; expiresIn: number; refreshToken: string }> {
    const body = { component_appid: req.appid, authorizer_appid: req.authorizerAppid, authorizer_refresh_token: req.refreshToken };
    const t = await this.client.postJson('/cgi-bin/component/api_authorizer_token', { component_access_token: req.componentToken }, body, req, parser(authorizerToken));
    return { accessToken: t.authorizer_access_token, expiresIn: t.expires_in, refreshToken: t.authorizer_refresh_token || req.refreshToken };
  }

  /** api_get_authorizer_list: a page (at most 500) of the accounts that authorized the platform, with their current refresh tokens. */
  async authorizerList(req: { appid: string; componentToken: string; offset: number; count: number } & Call): Promise<{ total: number; list: { authorizerAppid: string; refreshToken: string; authTime?: number }[] }> {
    const body = { component_appid: req.appid, offset: req.offset, count: Math.min(500, req.count) };
    const t = await this.client.postJson('/cgi-bin/component/api_get_authorizer_list', { component_access_token: req.componentToken }, body, req, parser(authorizerList));
    return { total: t.total_count, list: t.list.map((x) => ({ authorizerAppid: x.authorizer_appid, refreshToken: x.refresh_token, ...(x.auth_time === undefined ? {} : { authTime: x.auth_time }) })) };
  }

  /**
   * Every account of api_get_authorizer_list, a page (of 500) at a time, each page taken after the
   * one before by what WeChat answered (a shorter page than asked skips nothing); `deadline` is
   * asked before each call.
   */
  async *authorizerPages(req: { appid: string; componentToken: string; deadline: () => number }): AsyncGenerator<{ authorizerAppid: string; refreshToken: string; authTime?: number }[]> {
    for (let offset = 0; ; ) {
      const page = await this.authorizerList({ appid: req.appid, componentToken: req.componentToken, offset, count: 500, deadline: req.deadline() });
      yield page.list;
      offset += page.list.length;
      if (page.list.length === 0 || offset >= page.total) return;
    }
  }

  /** api_start_push_ticket: ask WeChat to push a component_verify_ticket now (after a deploy with none). */
  async startPushTicket(req: { appid: string; secret: string } & Call): Promise<void> {
    await this.client.postJson('/cgi-bin/component/api_start_push_ticket', {}, { component_appid: req.appid, component_secret: req.secret }, req, parser(ok), true);
  }
}
