import * as z from 'zod/mini';

/**
 * The shapes of WeChat's (and WeCom's) JSON answers that WeChatClient (lib/wechat/client.ts) accepts:
 * a token, a ticket, an API quota, an IP list (the token probe), and an errcode with its errmsg.
 */

export const tokenResponse = z.object({
  access_token: z.string().check(z.minLength(1), z.maxLength(2048)),
  expires_in: z.number().check(z.int(), z.positive()),
});
export const ticketResponse = z.object({
  ticket: z.string().check(z.minLength(1), z.maxLength(2048)),
  expires_in: z.number().check(z.int(), z.positive()),
});
export const quotaResponse = z.object({
  quota: z.object({ daily_limit: z.number().check(z.int()), used: z.number().check(z.int()), remain: z.number().check(z.int()) }),
});
export const errorResponse = z.object({ errcode: z.number().check(z.int()), errmsg: z.optional(z.string()) });
export const ipListResponse = z.object({ ip_list: z.array(z.string()) });

export function isError(body: unknown): boolean {
  const err = errorResponse.safeParse(body);
  return err.success && err.data.errcode !== 0;
}
