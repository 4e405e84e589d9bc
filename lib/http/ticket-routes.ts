import * as z from 'zod/mini';
import { TICKET_TYPES, type HubApp, type TicketType } from '../apps.js';
import { UnknownKindError } from '../errors.js';
import { jsapiSignature, nonceStr, withoutFragment } from '../jssdk.js';
import { ticketKindId } from '../kinds/catalog.js';
import type { Served } from '../refresher.js';
import { forcedBody, lifetime, ok, staleValue, type EdgeDeps } from './edge.js';
import { allows } from './auth.js';
// Routes are built at load time from wrappers: each call is marked pure, so that a bundle that
// imports this module for something else drops what it does not use.
import { also, withApp, withErrors, withJsonBody, withoutQuery, type AppContext, type HandlersOf } from './pipeline.js';
import { HttpError } from '../errors.js';

/** The longest page URL the signature route signs. */
export const MAX_URL_BYTES = 2048;

const refreshBody = z.strictObject({ stale_ticket: staleValue('ticket', 'a') });

const signatureBody = z.strictObject({
  url: z
    .string({ error: 'must be a string' })
    .check(
      z.refine((u) => Buffer.byteLength(u) <= MAX_URL_BYTES, `must be at most ${MAX_URL_BYTES} bytes`),
      z.refine((u) => /^https?:\/\/[^\s]+$/i.test(u) && !/[\x00-\x1f\x7f]/.test(u) && URL.canParse(u), 'must be an absolute http(s) URL (the page\'s location.href)'),
    ),
});

/** GET /v1/apps/{app}/tickets/{type} */
export const getTicketRoute = /* @__PURE__ */ withErrors(
  /* @__PURE__ */ withApp('read', /* @__PURE__ */ also(ticketKindOf, /* @__PURE__ */ withoutQuery(async ({ deps, app, kind }) => ok(ticketBody(await deps.refresher.get(app, kind), deps.clock.now()))))),
);

/**
 * POST /v1/apps/{app}/tickets/{type}/refresh, body {"stale_ticket": "..."}: the ticket (and its
 * expiry) only for a caller that may also read it; a refresh-only caller learns what happened.
 */
export const refreshTicketRoute = /* @__PURE__ */ withErrors(
  /* @__PURE__ */ withApp('refresh', /* @__PURE__ */ also(ticketKindOf, /* @__PURE__ */ withoutQuery(/* @__PURE__ */ withJsonBody(refreshBody, async ({ deps, app, grant, kind, body }) => {
    const result = await deps.refresher.forceRefresh(app, body.stale_ticket, kind);
    return ok(forcedBody(result, allows(grant, app, 'read') ? ticketBody(result, deps.clock.now()) : undefined));
  })))),
);

/**
 * POST /v1/apps/{app}/jsapi-signature, body {"url": "https://…"}: what a page passes to wx.config
 * (and, for a WeCom app with an AgentId, to wx.agentConfig), signed with the hub's tickets. A WeCom
 * secret without an AgentId (contacts sync, customer contact) has no app ticket: its answer is
 * wx.config's alone, without `agentConfig` (README, "JS-SDK tickets and signatures").
 */
export const jsapiSignatureRoute = /* @__PURE__ */ withErrors(
  /* @__PURE__ */ withApp('read', /* @__PURE__ */ withoutQuery(/* @__PURE__ */ also(signable, /* @__PURE__ */ withJsonBody(signatureBody, async ({ deps, hubApp: app, body }) => {
    const page = withoutFragment(body.url);
    const config = await sign(deps, app, 'jsapi', page);
    if (app.type !== 'wecom') return ok({ appId: app.appid, ...config });
    if (app.agentid === undefined) return ok({ appId: app.corpid, ...config });
    const agent = await sign(deps, app, 'agent_config', page);
    return ok({ appId: app.corpid, ...config, agentConfig: { corpid: app.corpid, agentid: app.agentid, ...agent } });
  })))),
);

/** The tickets function's routes (lib/http/routes.ts): the JS-SDK family shares its code and warm containers. */
export const ticketsHandlers: HandlersOf<'tickets'> = {
  'GET /v1/apps/{app}/tickets/{type}': getTicketRoute,
  'POST /v1/apps/{app}/tickets/{type}/refresh': refreshTicketRoute,
  'POST /v1/apps/{app}/jsapi-signature': jsapiSignatureRoute,
  'GET /v1/platforms/{name}/authorizers/{appid}/tickets/{type}': getTicketRoute,
  'POST /v1/platforms/{name}/authorizers/{appid}/tickets/{type}/refresh': refreshTicketRoute,
  'POST /v1/platforms/{name}/authorizers/{appid}/jsapi-signature': jsapiSignatureRoute,
};

/** The app, if it has a JS-SDK to sign for: 404 for a Mini Program or a website app. */
function signable({ deps, app: name }: AppContext): { hubApp: Exclude<HubApp, { type: 'mini_program' | 'website' }> } {
  const app = deps.refresher.app(name);
  if (app.type === 'mini_program') throw new HttpError(404, 'unknown_credential', 'a Mini Program has no JS-SDK (wx.config); there is nothing to sign');
  if (app.type === 'website') throw new HttpError(404, 'unknown_credential', 'a website app has no JS-SDK tickets (it is for logins only); there is nothing to sign');
  return { hubApp: app };
}

async function sign(deps: EdgeDeps, app: HubApp, type: TicketType, url: string) {
  const ticket = await deps.refresher.get(app.name, ticketKindId(type));
  const timestamp = Math.floor(deps.clock.now() / 1000);
  const nonce = nonceStr();
  return { timestamp, nonceStr: nonce, signature: jsapiSignature({ ticket: ticket.value, nonceStr: nonce, timestamp, url }) };
}

/** The kind id of the path's ticket type: 404 for a type that does not exist or that this app does not have. */
function ticketKindOf({ event, deps, app }: AppContext): { kind: string } {
  const type = event.pathParameters?.type;
  if (!TICKET_TYPES.includes(type as TicketType)) {
    throw new HttpError(404, 'unknown_ticket_type', `ticket types are ${TICKET_TYPES.join(', ')}`);
  }
  const kind = ticketKindId(type as TicketType);
  if (!deps.refresher.hasKind(app, kind)) throw new UnknownKindError(app, `${type} ticket (${ticketsOf(deps.refresher.app(app))})`);
  return { kind };
}

function ticketsOf(app: HubApp): string {
  switch (app.type) {
    case 'official_account':
      return 'apps of type official_account have jsapi and wx_card';
    case 'mini_program':
      return 'apps of type mini_program have no tickets';
    case 'website':
      return 'apps of type website have no tickets: they are for logins only';
    case 'platform':
      return 'a platform has no JS-SDK tickets (its authorizers have theirs)';
    case 'authorizer':
      return 'an authorizer has jsapi and wx_card';
    case 'wecom':
      return app.agentid === undefined
        ? 'a WeCom app without an agentid (a contacts-sync or customer-contact secret) has only jsapi, the corp ticket; the app ticket for wx.agentConfig needs an app\'s AgentId'
        : 'apps of type wecom have jsapi and agent_config';
  }
}

function ticketBody(t: Served, now: number) {
  return { ticket: t.value, ...lifetime(t, now) };
}
