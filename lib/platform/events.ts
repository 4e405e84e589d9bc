import * as z from 'zod/mini';
import { HubError } from '../errors.js';
import { readFlatXml } from './flat-xml.js';
import { hubsOwnFault, MsgCryptError, type MsgCrypt, type MsgCryptReason } from './msg-crypt.js';

/**
 * What WeChat pushes to a third-party platform's "authorization event URL" (docs/wechat.md §10,
 * §10a, §10b): an outer XML whose `Encrypt` holds, under WXBizMsgCrypt, an inner XML with an
 * `InfoType`. Pure: no HTTP, no store. A route verifies, opens and then answers `success`.
 */

export type PlatformEventReason =
  | MsgCryptReason
  /** The body is over MAX_BODY_BYTES. */
  | 'too_large'
  /** The outer or inner XML is not the flat shape (or has no Encrypt). */
  | 'xml'
  /** timestamp, nonce or msg_signature missing, repeated or malformed; encrypt_type not aes. */
  | 'query'
  /** The timestamp is further than maxSkewSeconds from now. */
  | 'timestamp'
  /** An InfoType this module does not know. */
  | 'info_type'
  /** A known InfoType with a field missing or malformed. */
  | 'fields'
  /** The AppId is not the component's own (the receive id). */
  | 'app_id';

/** Every refusal of this module. Its message names the reason only, never the content. */
export class PlatformEventError extends HubError {
  override readonly name = 'PlatformEventError';
  constructor(readonly reason: PlatformEventReason) {
    const ours = hubsOwnFault(reason);
    super(`platform event refused: ${reason}`, { status: ours ? 500 : 400, code: 'platform_event_refused', expose: !ours, extra: ours ? {} : { reason } });
  }
}

/** Bodies over this are refused before anything else: a real push is well under 2 KB. */
export const MAX_BODY_BYTES = 64 * 1024;
export const DEFAULT_MAX_SKEW_SECONDS = 300;

interface EventBase {
  /** The component appid the push is for. */
  appId: string;
  /** Epoch seconds, as WeChat wrote it. */
  createTime: number;
}
export type PlatformEvent =
  | (EventBase & { infoType: 'component_verify_ticket'; componentVerifyTicket: string })
  | (EventBase & {
      infoType: 'authorized' | 'updateauthorized';
      authorizerAppid: string;
      authorizationCode: string;
      /** Epoch seconds. */
      authorizationCodeExpiredTime: number;
      preAuthCode: string;
    })
  | (EventBase & { infoType: 'unauthorized'; authorizerAppid: string });

const text = z.string().check(z.minLength(1), z.maxLength(1024));
const seconds = z.string().check(z.regex(/^\d{1,12}$/));
const base = { AppId: text, CreateTime: seconds };
const ticketSchema = z.object({ ...base, ComponentVerifyTicket: text });
const authorizedSchema = z.object({
  ...base,
  AuthorizerAppid: text,
  AuthorizationCode: text,
  AuthorizationCodeExpiredTime: seconds,
  PreAuthCode: text,
});
const unauthorizedSchema = z.object({ ...base, AuthorizerAppid: text });

function fieldsOf(xml: string): Record<string, string> {
  const read = readFlatXml(xml);
  if (!read.ok) throw new PlatformEventError('xml');
  return Object.fromEntries(read.fields);
}

function parsed<T>(schema: z.ZodMiniType<T>, fields: Record<string, string>): T {
  const result = schema.safeParse(fields);
  if (!result.success) throw new PlatformEventError('fields');
  return result.data;
}

/** The inner (decrypted) XML as a typed event; anything else a PlatformEventError. */
export function parseInnerEvent(xml: string): PlatformEvent {
  if (typeof xml !== 'string' || xml.length > MAX_BODY_BYTES) throw new PlatformEventError('too_large');
  const fields = fieldsOf(xml);
  const infoType = fields.InfoType;
  const common = (f: { AppId: string; CreateTime: string }) => ({ appId: f.AppId, createTime: Number(f.CreateTime) });
  switch (infoType) {
    case 'component_verify_ticket': {
      const f = parsed(ticketSchema, fields);
      return { infoType, ...common(f), componentVerifyTicket: f.ComponentVerifyTicket };
    }
    case 'authorized':
    case 'updateauthorized': {
      const f = parsed(authorizedSchema, fields);
      return {
        infoType,
        ...common(f),
        authorizerAppid: f.AuthorizerAppid,
        authorizationCode: f.AuthorizationCode,
        authorizationCodeExpiredTime: Number(f.AuthorizationCodeExpiredTime),
        preAuthCode: f.PreAuthCode,
      };
    }
    case 'unauthorized': {
      const f = parsed(unauthorizedSchema, fields);
      return { infoType, ...common(f), authorizerAppid: f.AuthorizerAppid };
    }
    default:
      throw new PlatformEventError('info_type');
  }
}

export interface OuterBody {
  encrypt: string;
  /** `AppId` (platform pushes) or `ToUserName` (the same envelope elsewhere), when present. */
  appId?: string;
  toUserName?: string;
}

/** The outer XML WeChat POSTs: `<xml><AppId>…</AppId><Encrypt>…</Encrypt></xml>`. */
export function parseOuterBody(body: string | Uint8Array): OuterBody {
  let xml: string;
  if (typeof body === 'string') {
    if (body.length > MAX_BODY_BYTES || Buffer.byteLength(body, 'utf8') > MAX_BODY_BYTES) throw new PlatformEventError('too_large');
    xml = body;
  } else if (body instanceof Uint8Array) {
    if (body.length > MAX_BODY_BYTES) throw new PlatformEventError('too_large');
    try {
      xml = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      throw new PlatformEventError('xml');
    }
  } else {
    throw new PlatformEventError('xml');
  }
  const fields = fieldsOf(xml);
  const encrypt = fields.Encrypt;
  if (encrypt === undefined || encrypt === '') throw new PlatformEventError('xml');
  const outer: OuterBody = { encrypt };
  if (fields.AppId !== undefined) outer.appId = fields.AppId;
  if (fields.ToUserName !== undefined) outer.toUserName = fields.ToUserName;
  return outer;
}

export type Query = URLSearchParams | Readonly<Record<string, string | readonly string[] | undefined>>;

function param(query: Query, name: string): string | undefined {
  const values = query instanceof URLSearchParams ? query.getAll(name) : [query[name]].flat();
  const present = values.filter((v): v is string => v !== undefined);
  if (present.length > 1 || (present.length === 1 && typeof present[0] !== 'string')) throw new PlatformEventError('query');
  return present[0];
}

export interface OpenEventInput {
  /** The query string: `timestamp`, `nonce`, `msg_signature` (and `encrypt_type=aes`, `signature`). */
  query: Query;
  /** The POST body, as received. */
  body: string | Uint8Array;
  crypt: MsgCrypt;
  /** Epoch milliseconds (Clock.now()). */
  now: number;
  /** Default DEFAULT_MAX_SKEW_SECONDS. */
  maxSkewSeconds?: number;
}

export interface OpenedEvent {
  event: PlatformEvent;
  /** As signed: a caller refusing replays keeps (nonce, timestamp) for maxSkewSeconds. */
  timestamp: number;
  nonce: string;
  msgSignature: string;
}

/**
 * Verify, check the time, decrypt and parse one push. The only exception is PlatformEventError:
 * its reason says which step refused (a MsgCryptError's reason is passed on as it is).
 */
export function openEvent(input: OpenEventInput): OpenedEvent {
  const { query, body, crypt, now } = input;
  const maxSkewSeconds = input.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS;
  const outer = parseOuterBody(body);
  const timestamp = param(query, 'timestamp');
  const nonce = param(query, 'nonce');
  const msgSignature = param(query, 'msg_signature');
  const encryptType = param(query, 'encrypt_type');
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) throw new PlatformEventError('query');
  if (nonce === undefined || nonce === '' || nonce.length > 128) throw new PlatformEventError('query');
  if (msgSignature === undefined || !/^[0-9a-fA-F]{40}$/.test(msgSignature)) throw new PlatformEventError('query');
  if (encryptType !== undefined && encryptType !== 'aes') throw new PlatformEventError('query');
  if (!crypt.verify(msgSignature, timestamp, nonce, outer.encrypt)) throw new PlatformEventError('signature');
  if (!(Math.abs(Number(timestamp) - now / 1000) <= maxSkewSeconds)) throw new PlatformEventError('timestamp');
  if (outer.appId !== undefined && outer.appId !== crypt.receiveId) throw new PlatformEventError('app_id');
  let inner: string;
  try {
    inner = crypt.decrypt(outer.encrypt);
  } catch (error) {
    if (error instanceof MsgCryptError) throw new PlatformEventError(error.reason);
    throw error;
  }
  const event = parseInnerEvent(inner);
  if (event.appId !== crypt.receiveId) throw new PlatformEventError('app_id');
  return { event, timestamp: Number(timestamp), nonce, msgSignature };
}
