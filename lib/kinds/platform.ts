import * as z from 'zod/mini';
import { fingerprint } from '../fingerprint.js';
import type { ComponentApi } from '../wechat/component.js';
import { RetryLaterError, WeChatError } from '../wechat/errors.js';
import { attributes } from './attributes.js';
import type { CredentialKind } from './kind.js';
import { secretFingerprint, secretFor } from './secret.js';

/** WeChat keeps a pushed component_verify_ticket valid 12 hours (docs/wechat.md §10); it pushes one every 10 minutes. */
export const TICKET_LIFE_MS = 12 * 3_600_000;
/** 61005: the ticket expired; 61006: it is invalid (docs/wechat.md §10). */
const TICKET_REFUSED = new Set([61005, 61006]);

const platform = attributes(z.object({ appid: z.string() }), 'platform credential');

/** What the event URL hands the ticket kind: the ticket and when WeChat made it (epoch seconds, its CreateTime). */
export interface PushedTicket {
  ticket: string;
  createTime: number;
}

/**
 * A platform's component_verify_ticket (docs/wechat.md §10): WeChat pushes it to the authorization
 * event URL every 10 minutes, and the hub stores it through the protocol (`ingest`), keeping the
 * last good one for its 12 hours, never dropping it at 10 minutes. It cannot be fetched: when it is
 * due (no push for nearly 12 hours, REFRESH_MARGIN before it expires, or none yet after a deploy)
 * the "fetch" asks WeChat to push one now (api_start_push_ticket) and reports that it waits for it.
 */
export function componentVerifyTicket(api: ComponentApi): CredentialKind {
  return {
    id: 'component_verify_ticket',
    charges: () => [],
    async fetch(app, ctx) {
      const { appid } = platform(app);
      await api.startPushTicket({ appid, secret: await secretFor(app, ctx), deadline: ctx.deadline, onRetry: ctx.onRetry, onUnsent: ctx.onUnsent });
      throw new RetryLaterError(undefined, 'WeChat was asked to push a component_verify_ticket (api_start_push_ticket); it arrives at the event URL');
    },
    ingest(_app, pushed, now) {
      const p = pushed as PushedTicket;
      const made = Number.isFinite(p.createTime) ? Math.min(now, p.createTime * 1000) : now;
      return { value: p.ticket, expiresIn: Math.max(1, Math.floor((made + TICKET_LIFE_MS - now) / 1000)) };
    },
  };
}

/**
 * A platform's component_access_token (docs/wechat.md §10): api_component_token with the
 * component's AppSecret and the last pushed ticket (resolved before the lease). 61005/61006 (the
 * ticket expired or is invalid): WeChat is asked to push a new one, and the fetch is tried again
 * with it when it comes (the tick). 61004 is the platform's IP whitelist: a configuration error.
 */
export function componentAccessToken(api: ComponentApi): CredentialKind {
  return {
    id: 'component_access_token',
    dependsOn: 'component_verify_ticket',
    prewarm: true,
    charges: (app, { forced, forcedDailyBudget }) => [{ scope: app.name, api: 'component_token', period: 'day', forcedBudget: forced ? forcedDailyBudget : undefined }],
    async fetch(app, ctx) {
      const { appid } = platform(app);
      const ticket = ctx.dependencyValue;
      if (ticket === undefined) throw new Error('a component token is fetched with the component_verify_ticket');
      const secret = await secretFor(app, ctx);
      try {
        const t = await api.componentToken({ appid, secret, ticket, deadline: ctx.deadline, onRetry: ctx.onRetry, onUnsent: ctx.onUnsent });
        return { value: t.accessToken, expiresIn: t.expiresIn, sourceFingerprint: fingerprint(secret) };
      } catch (error) {
        if (error instanceof WeChatError && error.errcode !== undefined && TICKET_REFUSED.has(error.errcode)) {
          await api.startPushTicket({ appid, secret, deadline: ctx.deadline }).catch(() => undefined);
        }
        throw error;
      }
    },
    failurePolicy: (error) => (error instanceof WeChatError && error.errcode !== undefined && TICKET_REFUSED.has(error.errcode) ? { configuration: false, blockedForMs: 0 } : undefined),
    sourceFingerprint: secretFingerprint,
  };
}
