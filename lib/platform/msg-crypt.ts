import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { HubError } from '../errors.js';

/**
 * WXBizMsgCrypt, the scheme WeChat encrypts its pushes with (docs/wechat.md §10a): a SHA-1 signature
 * over the sorted token, timestamp, nonce and ciphertext; AES-256-CBC with the key's first 16 bytes
 * as IV and PKCS#7 padding to a multiple of 32 bytes; a plaintext of 16 random bytes, a 4-byte
 * big-endian length, the message and the receive id (a platform's component appid).
 */

export type MsgCryptReason =
  /** The msg_signature does not match. */
  | 'signature'
  /** The EncodingAESKey is not 43 characters of base64 for 32 bytes (or token/receive id empty). */
  | 'key'
  /** The Encrypt is not canonical base64. */
  | 'base64'
  /** The ciphertext's length or its PKCS#7 padding is wrong. */
  | 'padding'
  /** The plaintext is too short, or its length field does not fit. */
  | 'length'
  /** The message is not UTF-8. */
  | 'utf8'
  /** The receive id is not the expected one. */
  | 'receive_id'
  /** encrypt() was given a random that is not 16 bytes. */
  | 'random';

/** Whether a refusal is the hub's own (a bad key, a bad random: 500, not shown), not the push's. */
export const hubsOwnFault = (reason: string): boolean => reason === 'key' || reason === 'random';

/**
 * Every refusal of this module. Its message names the reason only: never a key, token or plaintext.
 * A bad key or random is the hub's own configuration or code (500, not shown); the rest is the push's.
 */
export class MsgCryptError extends HubError {
  override readonly name = 'MsgCryptError';
  constructor(readonly reason: MsgCryptReason) {
    const ours = hubsOwnFault(reason);
    super(`WXBizMsgCrypt refused: ${reason}`, { status: ours ? 500 : 400, code: 'wechat_push_refused', expose: !ours, extra: ours ? {} : { reason } });
  }
}

export interface MsgCryptOptions {
  /** The Token configured on the platform. */
  token: string;
  /** The 43-character EncodingAESKey configured on the platform. */
  encodingAesKey: string;
  /** What the plaintext must end with: the component appid (a WeCom corpid or SuiteId elsewhere). */
  receiveId: string;
}

/** PKCS#7 block size of WXBizMsgCrypt: 32, not AES's 16 (docs/wechat.md §10a). */
export const PAD_BLOCK = 32;
const RANDOM_BYTES = 16;
const HEADER_BYTES = RANDOM_BYTES + 4;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const AES_KEY = /^[A-Za-z0-9+/]{43}$/;
const SIGNATURE = /^[0-9a-fA-F]{40}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** sha1 of the four strings sorted lexicographically (by UTF-16 code unit, as every SDK's sort) and joined. */
export function msgSignature(token: string, timestamp: string, nonce: string, encrypt: string): string {
  return createHash('sha1').update([token, timestamp, nonce, encrypt].sort().join(''), 'utf8').digest('hex');
}

export class MsgCrypt {
  readonly receiveId: string;
  readonly #token: string;
  readonly #key: Buffer;
  readonly #receiveIdBytes: Buffer;

  constructor(options: MsgCryptOptions) {
    const { token, encodingAesKey, receiveId } = options;
    if (typeof token !== 'string' || token === '' || typeof receiveId !== 'string' || receiveId === '') throw new MsgCryptError('key');
    if (typeof encodingAesKey !== 'string' || !AES_KEY.test(encodingAesKey)) throw new MsgCryptError('key');
    const key = Buffer.from(`${encodingAesKey}=`, 'base64');
    if (key.length !== 32) throw new MsgCryptError('key');
    this.#token = token;
    this.#key = key;
    this.receiveId = receiveId;
    this.#receiveIdBytes = Buffer.from(receiveId, 'utf8');
  }

  /** The msg_signature WeChat would send for this ciphertext. */
  sign(timestamp: string, nonce: string, encrypt: string): string {
    return msgSignature(this.#token, timestamp, nonce, encrypt);
  }

  /** Whether `signature` is the msg_signature of these values, compared in constant time. */
  verify(signature: string, timestamp: string, nonce: string, encrypt: string): boolean {
    if (typeof signature !== 'string' || !SIGNATURE.test(signature)) return false;
    if (typeof timestamp !== 'string' || typeof nonce !== 'string' || typeof encrypt !== 'string') return false;
    const expected = Buffer.from(this.sign(timestamp, nonce, encrypt), 'latin1');
    return timingSafeEqual(expected, Buffer.from(signature.toLowerCase(), 'latin1'));
  }

  /** verify(), or a MsgCryptError('signature'). */
  assertSignature(signature: string, timestamp: string, nonce: string, encrypt: string): void {
    if (!this.verify(signature, timestamp, nonce, encrypt)) throw new MsgCryptError('signature');
  }

  /** The message inside an Encrypt, after checking padding, length and receive id. */
  decrypt(encrypt: string): string {
    if (typeof encrypt !== 'string' || encrypt === '' || !BASE64.test(encrypt)) throw new MsgCryptError('base64');
    const cipherText = Buffer.from(encrypt, 'base64');
    if (cipherText.length === 0 || cipherText.length % PAD_BLOCK !== 0) throw new MsgCryptError('padding');
    const plain = this.#aes(false, cipherText);
    const pad = plain[plain.length - 1] ?? 0;
    if (pad < 1 || pad > PAD_BLOCK) throw new MsgCryptError('padding');
    for (let i = plain.length - pad; i < plain.length; i++) if (plain[i] !== pad) throw new MsgCryptError('padding');
    const body = plain.subarray(0, plain.length - pad);
    if (body.length < HEADER_BYTES) throw new MsgCryptError('length');
    const length = body.readUInt32BE(RANDOM_BYTES);
    if (length > body.length - HEADER_BYTES) throw new MsgCryptError('length');
    const receiveId = body.subarray(HEADER_BYTES + length);
    if (!receiveId.equals(this.#receiveIdBytes)) throw new MsgCryptError('receive_id');
    try {
      return utf8.decode(body.subarray(HEADER_BYTES, HEADER_BYTES + length));
    } catch {
      throw new MsgCryptError('utf8');
    }
  }

  /** The Encrypt of `message`; `random` (16 bytes) fixes the random prefix, for tests and the simulator. */
  encrypt(message: string, random?: Uint8Array | string): string {
    const prefix = random === undefined ? randomBytes(RANDOM_BYTES) : typeof random === 'string' ? Buffer.from(random, 'utf8') : Buffer.from(random);
    if (prefix.length !== RANDOM_BYTES) throw new MsgCryptError('random');
    const text = Buffer.from(message, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(text.length);
    const body = Buffer.concat([prefix, length, text, this.#receiveIdBytes]);
    const pad = PAD_BLOCK - (body.length % PAD_BLOCK);
    return this.#aes(true, Buffer.concat([body, Buffer.alloc(pad, pad)])).toString('base64');
  }

  /** Raw AES-256-CBC with no padding of node's own: the 32-byte padding is handled above. */
  #aes(encrypt: boolean, input: Buffer): Buffer {
    const iv = this.#key.subarray(0, 16);
    const cipher = encrypt ? createCipheriv('aes-256-cbc', this.#key, iv) : createDecipheriv('aes-256-cbc', this.#key, iv);
    cipher.setAutoPadding(false);
    return Buffer.concat([cipher.update(input), cipher.final()]);
  }
}
