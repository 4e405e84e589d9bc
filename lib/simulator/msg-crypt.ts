import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * WXBizMsgCrypt as WeChat applies it to the pushes of a third-party platform (docs/wechat.md §10a),
 * written here on its own on purpose: the hub's implementation (lib/platform/, lib/wechat/) is checked
 * against this one, and a shared bug would pass every test.
 *   key = base64(EncodingAESKey + "="), 32 bytes; IV = the key's first 16 bytes; AES-256-CBC;
 *   PKCS#7 padding to a multiple of 32 bytes;
 *   plaintext = 16 random bytes + the message's length (4 bytes, big-endian) + the message + the receive id.
 */

const BLOCK = 32;

function keyOf(aesKey: string): Buffer {
  if (aesKey.length !== 43) throw new Error('an EncodingAESKey has 43 characters');
  const key = Buffer.from(`${aesKey}=`, 'base64');
  if (key.length !== 32) throw new Error('an EncodingAESKey decodes to 32 bytes');
  return key;
}

/** The Encrypt field of a message for `receiveId` (a component appid); `random` fixed only for test vectors. */
export function encryptMessage(aesKey: string, receiveId: string, message: string, random: Buffer = randomBytes(16)): string {
  const key = keyOf(aesKey);
  const msg = Buffer.from(message, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(msg.length, 0);
  const plain = Buffer.concat([random, length, msg, Buffer.from(receiveId, 'utf8')]);
  const pad = BLOCK - (plain.length % BLOCK);
  const padded = Buffer.concat([plain, Buffer.alloc(pad, pad)]);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
  return Buffer.concat([cipher.update(padded), cipher.final()]).toString('base64');
}

/** The message and receive id inside an Encrypt field; throws on a bad key, padding or length. */
export function decryptMessage(aesKey: string, encrypt: string): { message: string; receiveId: string } {
  const key = keyOf(aesKey);
  const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
  const padded = Buffer.concat([decipher.update(Buffer.from(encrypt, 'base64')), decipher.final()]);
  const pad = padded[padded.length - 1] ?? 0;
  if (pad < 1 || pad > BLOCK || pad > padded.length) throw new Error('bad padding');
  const plain = padded.subarray(0, padded.length - pad);
  if (plain.length < 20) throw new Error('too short');
  const length = plain.readUInt32BE(16);
  if (20 + length > plain.length) throw new Error('bad length');
  return { message: plain.subarray(20, 20 + length).toString('utf8'), receiveId: plain.subarray(20 + length).toString('utf8') };
}

/** sha1 of the sorted parts joined: `signature` with [token, timestamp, nonce], `msg_signature` with Encrypt too. */
export function sha1Signature(...parts: string[]): string {
  return createHash('sha1').update([...parts].sort().join('')).digest('hex');
}

/** The encrypted push: its query string (signature, timestamp, nonce, encrypt_type, msg_signature) and XML body. */
export function encryptedPush(p: { token: string; aesKey: string; appid: string }, inner: string, nowMs: number): { query: string; body: string } {
  const timestamp = String(Math.floor(nowMs / 1000));
  const nonce = String(randomBytes(4).readUInt32BE(0));
  const encrypt = encryptMessage(p.aesKey, p.appid, inner);
  const query = new URLSearchParams({
    signature: sha1Signature(p.token, timestamp, nonce),
    timestamp,
    nonce,
    encrypt_type: 'aes',
    msg_signature: sha1Signature(p.token, timestamp, nonce, encrypt),
  });
  return { query: query.toString(), body: `<xml><AppId><![CDATA[${p.appid}]]></AppId><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>` };
}

/** An event's inner XML: strings in CDATA, numbers bare, as WeChat writes them. */
export function eventXml(fields: Record<string, string | number>): string {
  const parts = Object.entries(fields).map(([k, v]) => (typeof v === 'number' ? `<${k}>${v}</${k}>` : `<${k}><![CDATA[${v}]]></${k}>`));
  return `<xml>${parts.join('')}</xml>`;
}

/** A field of a flat XML message (CDATA or not), for the tests that read pushes. */
export function xmlField(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>(?:<!\\[CDATA\\[([\\s\\S]*?)\\]\\]>|([^<]*))</${name}>`).exec(xml);
  return m ? (m[1] ?? m[2]) : undefined;
}
