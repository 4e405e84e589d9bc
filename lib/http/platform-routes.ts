import { randomUUID } from 'node:crypto';
import type { PlatformApp } from '../apps.js';
import { openEvent, PlatformEventError, MAX_BODY_BYTES } from '../platform/events.js';
import { MsgCrypt } from '../platform/msg-crypt.js';
import { NOSNIFF, type EdgeDeps, type HttpResult } from './edge.js';
import type { HandlersOf, RouteHandler } from './pipeline.js';

/** How long a push's signature is remembered against replays: the timestamps accepted around now (5 minutes each way). */
const REPLAY_WINDOW_MS = 10 * 60_000;

/** WeChat reads a plain `success`; anything else is retried by it (three times). */
const plain = (status: number, body: string): HttpResult => ({ statusCode: status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...NOSNIFF }, body });

/**
 * POST /v1/platforms/{name}/events: the platform's authorization event URL (docs/wechat.md §10),
 * called by WeChat, so no hub key: the push is verified by its signature (the platform's message
 * token), its timestamp (5 minutes either way) and its receive id, decrypted with the
 * EncodingAESKey, and a push already seen is answered `success` without acting twice. A refusal is
 * a 4xx with no detail (the log line says which check refused, never the body, a ticket or a key).
 * The component_verify_ticket is stored through the protocol (the last good one is kept 12 hours);
 * the authorization events are acknowledged and logged (their handling is the next work).
 */
export const eventsRoute: RouteHandler = async (event, deps, hub) => {
  const started = deps.clock.now();
  const refuse = (status: number, why: string) => {
    deps.logger.info('platform event refused', { status, why, ms: deps.clock.now() - started });
    return plain(status, status === 404 ? 'not found' : 'bad request');
  };
  try {
    const app = platformOf(deps, event.pathParameters?.name);
    if (!app) return refuse(404, 'unknown_platform');
    const raw = event.body ?? '';
    const body = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
    if (body.length > MAX_BODY_BYTES) return refuse(413, 'body_too_large');
    const crypt = new MsgCrypt({ token: await app.getToken(), encodingAesKey: await app.getAesKey(), receiveId: app.appid });
    const opened = openEvent({ query: new URLSearchParams(event.rawQueryString ?? ''), body, crypt, now: deps.clock.now() });
    const now = deps.clock.now();
    if (!(await hub.claimOnce(`event#${app.name}#${opened.msgSignature}`, { now, until: now + REPLAY_WINDOW_MS, attempt: randomUUID() }))) {
      deps.logger.info('platform event seen before: not acted on again', { platform: app.name, infoType: opened.event.infoType });
      return plain(200, 'success');
    }
    const e = opened.event;
    if (e.infoType === 'component_verify_ticket') {
      await deps.refresher.ingest(app.name, 'component_verify_ticket', { ticket: e.componentVerifyTicket, createTime: e.createTime });
    } else {
      deps.logger.warn('platform authorization event received; authorizers are not handled yet', { platform: app.name, infoType: e.infoType });
    }
    deps.logger.info('platform event', { platform: app.name, infoType: e.infoType, ms: deps.clock.now() - started });
    return plain(200, 'success');
  } catch (error) {
    if (error instanceof PlatformEventError) return refuse(400, error.reason);
    // The store or a secret failed: WeChat pushes again (every 10 minutes), and retries this one.
    deps.logger.error('platform event failed', { error: error instanceof Error ? error.name : 'unknown', ms: deps.clock.now() - started });
    return plain(503, 'try again');
  }
};

function platformOf(deps: EdgeDeps, name: string | undefined): PlatformApp | undefined {
  if (!name || !deps.refresher.hasApp(name)) return undefined;
  const app = deps.refresher.app(name);
  return app.type === 'platform' ? app : undefined;
}

/** The platform function's routes (lib/http/routes.ts). */
export const platformHandlers: HandlersOf<'platform'> = {
  'POST /v1/platforms/{name}/events': eventsRoute,
};

