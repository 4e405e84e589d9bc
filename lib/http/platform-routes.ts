import { randomUUID } from 'node:crypto';
import type { PlatformApp } from '../apps.js';
import { openEvent, PlatformEventError, MAX_BODY_BYTES, type PlatformEvent } from '../platform/events.js';
import { MsgCrypt } from '../platform/msg-crypt.js';
import { WeChatError } from '../wechat/errors.js';
import { NOSNIFF, type EdgeDeps, type HttpResult } from './edge.js';
import type { HandlersOf, HubServices, RouteHandler } from './pipeline.js';
import { authorizationLinksRoute, authorizedPageRoute, authorizersRoute, platformOf } from './platform-admin-routes.js';

/** How long a push's signature is remembered against replays: the timestamps accepted around now (5 minutes each way). */
const REPLAY_WINDOW_MS = 10 * 60_000;

/** WeChat reads a plain `success`; anything else is retried by it (three times). */
const plain = (status: number, body: string): HttpResult => ({ statusCode: status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...NOSNIFF }, body });

/**
 * POST /v1/platforms/{name}/events: the platform's authorization event URL (docs/wechat.md §10),
 * called by WeChat, so no hub key: the push is verified by its signature (the platform's message
 * token), its timestamp (5 minutes either way) and its receive id, decrypted with the
 * EncodingAESKey, and a push already acted on is answered `success` without acting twice. A
 * refusal is a 4xx with no detail (the log line says which check refused, never the body, a ticket
 * or a key). A push whose handling failed gives its claim back and is answered 503, so that
 * WeChat's retry does it.
 * - component_verify_ticket: stored through the protocol (the last good one is kept 12 hours);
 * - authorized, updateauthorized: the code exchanged (api_query_auth) and the authorizer
 *   registered with its tokens (lib/platform/authorizations.ts);
 * - unauthorized: the authorizer marked revoked, its record kept.
 */
export const eventsRoute: RouteHandler = async (event, deps, hub) => {
  const started = deps.clock.now();
  const refuse = (status: number, why: string) => {
    deps.logger.info('platform event refused', { status, why, ms: deps.clock.now() - started });
    return plain(status, status === 404 ? 'not found' : 'bad request');
  };
  let claimed: { name: string; attempt: string } | undefined;
  try {
    const app = await platformOf(deps, event.pathParameters?.name);
    if (!app) return refuse(404, 'unknown_platform');
    const raw = event.body ?? '';
    const body = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
    if (body.length > MAX_BODY_BYTES) return refuse(413, 'body_too_large');
    const crypt = new MsgCrypt({ token: await app.getToken(), encodingAesKey: await app.getAesKey(), receiveId: app.appid });
    const opened = openEvent({ query: new URLSearchParams(event.rawQueryString ?? ''), body, crypt, now: deps.clock.now() });
    const now = deps.clock.now();
    const claim = { name: `event#${app.name}#${opened.msgSignature}`, attempt: randomUUID() };
    if (!(await hub.claimOnce(claim.name, { now, until: now + REPLAY_WINDOW_MS, attempt: claim.attempt }))) {
      deps.logger.info('platform event seen before: not acted on again', { platform: app.name, infoType: opened.event.infoType });
      return plain(200, 'success');
    }
    claimed = claim;
    await act(opened.event, app, deps, hub);
    deps.logger.info('platform event', { platform: app.name, infoType: opened.event.infoType, ms: deps.clock.now() - started });
    return plain(200, 'success');
  } catch (error) {
    if (error instanceof PlatformEventError) return refuse(400, error.reason);
    if (claimed) await hub.releaseOnce(claimed.name, claimed.attempt).catch(() => undefined);
    // The store, a secret or WeChat failed: WeChat retries this push (and pushes a ticket every 10 minutes).
    deps.logger.error('platform event failed', { error: error instanceof Error ? error.name : 'unknown', ms: deps.clock.now() - started });
    return plain(503, 'try again');
  }
};

async function act(e: PlatformEvent, app: PlatformApp, deps: EdgeDeps, hub: HubServices): Promise<void> {
  switch (e.infoType) {
    case 'component_verify_ticket':
      await deps.refresher.ingest(app.name, 'component_verify_ticket', { ticket: e.componentVerifyTicket, createTime: e.createTime });
      return;
    case 'authorized':
    case 'updateauthorized': {
      try {
        const done = await hub.authorizations.authorize(app, e.authorizationCode);
        if (!done.done) deps.logger.info('authorization code already used by the redirect', { platform: app.name, authorizer: e.authorizerAppid });
      } catch (error) {
        // WeChat refused the code itself (used, expired): asking again would be refused again. The
        // redirect, or the account's next authorization, registers it; busy or unreachable: retried.
        if (!(error instanceof WeChatError) || error.errcode === undefined || error.kind === 'retry_later' || error.kind === 'refresh') throw error;
        deps.logger.warn('WeChat refused the authorization code of an event', { platform: app.name, authorizer: e.authorizerAppid, errcode: error.errcode });
      }
      return;
    }
    case 'unauthorized':
      if (!(await hub.authorizations.revoke(app, e.authorizerAppid))) deps.logger.warn('unauthorized event for an account the hub has no record of', { platform: app.name, authorizer: e.authorizerAppid });
      return;
  }
}

/** The platform function's routes (lib/http/routes.ts). */
export const platformHandlers: HandlersOf<'platform'> = {
  'POST /v1/platforms/{name}/events': eventsRoute,
  'GET /v1/platforms/{name}/authorized': authorizedPageRoute,
  'POST /v1/platforms/{name}/authorization-links': authorizationLinksRoute,
  'GET /v1/platforms/{name}/authorizers': authorizersRoute,
};
