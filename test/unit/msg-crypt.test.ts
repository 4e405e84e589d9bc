import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MsgCrypt, MsgCryptError, msgSignature, type MsgCryptReason } from '../../lib/platform/msg-crypt.js';

/**
 * Published WXBizMsgCrypt vectors (docs/wechat.md §10a). Each was copied from the file named above
 * it, at the commit given; none was produced by this code.
 */
const MP_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';

// (a) Wechat-Group/WxJava, weixin-java-common/src/test/java/me/chanjar/weixin/common/util/crypto/
//     WxCryptUtilTest.java (testAesEncrypt, testAesEncrypt2) at 9eba04dce957.
const WXJAVA = {
  appId: 'wxb11529c136998cb6',
  random: 'aaaabbbbccccdddd',
  message: '我是中文abcd123',
  encrypt: 'jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==',
  message2:
    '<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>',
  encrypt2:
    'jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb',
};

// (b) The official Official Account sample (Tencent's WXBizMsgCrypt Sample), as republished in
//     fotock/WXbizMsgCrypt-Node, sample.js at 3c808acfc303 (the same string is in copies of the
//     official Python sample).
const MP_SAMPLE = {
  token: 'spamtest',
  appId: 'wx2c2769f8efd9abc2',
  timestamp: '1409735669',
  nonce: '1320562132',
  msgSignature: '5d197aaffba7e9b25a30732f161a50dee96bd5fa',
  encrypt:
    'hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=',
};

// (c) The WeCom sample (the official C#/Python samples' comments), as used by w7corp/easywechat in
//     tests/Kernel/Traits/DecryptXmlMessageTest.php (message) and tests/Work/ServerTest.php
//     (URL verification echostr) at 7a93b804935c.
const WECOM = {
  token: 'QDG6eK',
  key: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C',
  corpId: 'wx5823bf96d3bd56c7',
  message: {
    timestamp: '1409659813',
    nonce: '1372623149',
    msgSignature: '477715d11cdb4164915debcba66cb864d751f3e6',
    encrypt:
      'RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==',
  },
  echo: {
    timestamp: '1409659589',
    nonce: '263014780',
    msgSignature: '5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3',
    encrypt: 'P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==',
  },
};

function refusal(f: () => unknown): MsgCryptReason | 'none' {
  try {
    f();
    return 'none';
  } catch (error) {
    if (error instanceof MsgCryptError) return error.reason;
    throw error;
  }
}

/** AES-256-CBC over a hand-built plaintext, to reach the refusals encrypt() never produces. */
function rawEncrypt(key: string, plain: Buffer): string {
  const k = Buffer.from(`${key}=`, 'base64');
  const c = createCipheriv('aes-256-cbc', k, k.subarray(0, 16));
  c.setAutoPadding(false);
  return Buffer.concat([c.update(plain), c.final()]).toString('base64');
}
const padded = (body: Buffer, pad: number) => Buffer.concat([body, Buffer.alloc(pad, pad)]);
const frame = (message: Buffer, length: number, receiveId: string) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(length);
  return Buffer.concat([Buffer.alloc(16, 7), len, message, Buffer.from(receiveId)]);
};

describe('WXBizMsgCrypt: published vectors', () => {
  it("(a) WxJava's fixed-random encryptions come out byte for byte, and decrypt back", () => {
    const crypt = new MsgCrypt({ token: 'pamtest', encodingAesKey: MP_KEY, receiveId: WXJAVA.appId });
    expect(crypt.encrypt(WXJAVA.message, WXJAVA.random)).toBe(WXJAVA.encrypt);
    expect(crypt.encrypt(WXJAVA.message, Buffer.from(WXJAVA.random))).toBe(WXJAVA.encrypt);
    expect(crypt.decrypt(WXJAVA.encrypt)).toBe(WXJAVA.message);
    expect(crypt.encrypt(WXJAVA.message2, WXJAVA.random)).toBe(WXJAVA.encrypt2);
    expect(crypt.decrypt(WXJAVA.encrypt2)).toBe(WXJAVA.message2);
  });

  it('(b) the official Official Account sample verifies and decrypts to the text message abcdteT', () => {
    const s = MP_SAMPLE;
    const crypt = new MsgCrypt({ token: s.token, encodingAesKey: MP_KEY, receiveId: s.appId });
    expect(crypt.sign(s.timestamp, s.nonce, s.encrypt)).toBe(s.msgSignature);
    expect(crypt.verify(s.msgSignature, s.timestamp, s.nonce, s.encrypt)).toBe(true);
    const xml = crypt.decrypt(s.encrypt);
    expect(xml).toContain('<MsgType><![CDATA[text]]></MsgType>');
    expect(xml).toContain('<Content><![CDATA[abcdteT]]></Content>');
    expect(xml).toContain('<ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>');
  });

  it('(c) the WeCom sample message and URL-verification echostr verify and decrypt', () => {
    const crypt = new MsgCrypt({ token: WECOM.token, encodingAesKey: WECOM.key, receiveId: WECOM.corpId });
    const m = WECOM.message;
    expect(crypt.verify(m.msgSignature, m.timestamp, m.nonce, m.encrypt)).toBe(true);
    const xml = crypt.decrypt(m.encrypt);
    expect(xml).toContain('<FromUserName><![CDATA[mycreate]]></FromUserName>');
    expect(xml).toContain('<Content><![CDATA[hello]]></Content>');
    const e = WECOM.echo;
    expect(crypt.verify(e.msgSignature, e.timestamp, e.nonce, e.encrypt)).toBe(true);
    expect(crypt.decrypt(e.encrypt)).toBe('1616140317555161061');
  });
});

describe('WXBizMsgCrypt: signatures', () => {
  const crypt = new MsgCrypt({ token: MP_SAMPLE.token, encodingAesKey: MP_KEY, receiveId: MP_SAMPLE.appId });
  const s = MP_SAMPLE;

  it('sorts the four strings before hashing, so argument order does not matter', () => {
    expect(msgSignature(s.encrypt, s.nonce, s.token, s.timestamp)).toBe(s.msgSignature);
  });

  it('accepts upper-case hex, refuses any change to a value, a wrong token, and malformed signatures', () => {
    expect(crypt.verify(s.msgSignature.toUpperCase(), s.timestamp, s.nonce, s.encrypt)).toBe(true);
    expect(crypt.verify(s.msgSignature, '1409735670', s.nonce, s.encrypt)).toBe(false);
    expect(crypt.verify(s.msgSignature, s.timestamp, '1320562133', s.encrypt)).toBe(false);
    expect(crypt.verify(s.msgSignature, s.timestamp, s.nonce, `${s.encrypt}A`)).toBe(false);
    const other = new MsgCrypt({ token: 'spamtesT', encodingAesKey: MP_KEY, receiveId: s.appId });
    expect(other.verify(s.msgSignature, s.timestamp, s.nonce, s.encrypt)).toBe(false);
    for (const bad of ['', s.msgSignature.slice(1), `${s.msgSignature}0`, 'z'.repeat(40), ` ${s.msgSignature.slice(1)}`]) {
      expect(crypt.verify(bad, s.timestamp, s.nonce, s.encrypt)).toBe(false);
    }
    expect(refusal(() => crypt.assertSignature('0'.repeat(40), s.timestamp, s.nonce, s.encrypt))).toBe('signature');
  });
});

describe('WXBizMsgCrypt: refusals', () => {
  const receiveId = 'wx0000000000000001';
  const crypt = new MsgCrypt({ token: 't', encodingAesKey: MP_KEY, receiveId });

  it("key: an EncodingAESKey that is not 43 base64 characters, or an empty token or receive id", () => {
    for (const encodingAesKey of ['', MP_KEY.slice(1), `${MP_KEY}=`, `${MP_KEY}H`, `${MP_KEY.slice(1)}-`, `${MP_KEY.slice(1)} `]) {
      expect(refusal(() => new MsgCrypt({ token: 't', encodingAesKey, receiveId }))).toBe('key');
    }
    expect(refusal(() => new MsgCrypt({ token: '', encodingAesKey: MP_KEY, receiveId }))).toBe('key');
    expect(refusal(() => new MsgCrypt({ token: 't', encodingAesKey: MP_KEY, receiveId: '' }))).toBe('key');
    // A bad key is the hub's configuration: a 500 whose message is not shown.
    expect(() => new MsgCrypt({ token: 't', encodingAesKey: 'x', receiveId })).toThrow(expect.objectContaining({ status: 500, expose: false }));
  });

  it('base64: not canonical base64', () => {
    for (const e of ['', 'abc', 'ab!d', 'a===', 'QUJD\n', ' QUJD', 'QUJD=']) expect(refusal(() => crypt.decrypt(e))).toBe('base64');
  });

  it('padding: a length not a multiple of 32, or a pad byte outside 1..32 or inconsistent', () => {
    expect(refusal(() => crypt.decrypt(Buffer.alloc(16).toString('base64')))).toBe('padding');
    expect(refusal(() => crypt.decrypt(Buffer.alloc(48).toString('base64')))).toBe('padding');
    const body = frame(Buffer.from('hi'), 2, receiveId); // 40 bytes
    expect(refusal(() => crypt.decrypt(rawEncrypt(MP_KEY, padded(body, 24))))).toBe('none');
    const zero = Buffer.concat([body, Buffer.alloc(24, 0)]);
    expect(refusal(() => crypt.decrypt(rawEncrypt(MP_KEY, zero)))).toBe('padding');
    const over = Buffer.concat([body, Buffer.alloc(56, 33)]);
    expect(refusal(() => crypt.decrypt(rawEncrypt(MP_KEY, over)))).toBe('padding');
    const mixed = padded(body, 24);
    mixed[mixed.length - 2] = 23;
    expect(refusal(() => crypt.decrypt(rawEncrypt(MP_KEY, mixed)))).toBe('padding');
    const wrongKey = new MsgCrypt({ token: 't', encodingAesKey: WECOM.key, receiveId });
    expect(['padding', 'length', 'receive_id']).toContain(refusal(() => wrongKey.decrypt(crypt.encrypt('x'))));
  });

  it('length: shorter than the 20-byte header, or a length field past the end', () => {
    expect(refusal(() => crypt.decrypt(rawEncrypt(MP_KEY, padded(Buffer.alloc(19, 1), 13))))).toBe('length');
    const body = frame(Buffer.from('hi'), 2 + receiveId.length + 1, receiveId);
    expect(refusal(() => crypt.decrypt(rawEncrypt(MP_KEY, padded(body, 24))))).toBe('length');
    const huge = frame(Buffer.from('hi'), 0xffffffff, receiveId);
    expect(refusal(() => crypt.decrypt(rawEncrypt(MP_KEY, padded(huge, 24))))).toBe('length');
  });

  it('receive_id: another appid, a truncated or extended one, or a length that shifts it', () => {
    const other = new MsgCrypt({ token: 't', encodingAesKey: MP_KEY, receiveId: 'wx0000000000000002' });
    expect(refusal(() => crypt.decrypt(other.encrypt('hello')))).toBe('receive_id');
    const prefix = new MsgCrypt({ token: 't', encodingAesKey: MP_KEY, receiveId: receiveId.slice(0, -1) });
    expect(refusal(() => crypt.decrypt(prefix.encrypt('hello')))).toBe('receive_id');
    expect(refusal(() => prefix.decrypt(crypt.encrypt('hello')))).toBe('receive_id');
    const shifted = frame(Buffer.from('hi'), 1, receiveId);
    expect(refusal(() => crypt.decrypt(rawEncrypt(MP_KEY, padded(shifted, 24))))).toBe('receive_id');
  });

  it('utf8: a message that is not UTF-8', () => {
    const body = frame(Buffer.from([0xff, 0xfe]), 2, receiveId);
    expect(refusal(() => crypt.decrypt(rawEncrypt(MP_KEY, padded(body, 24))))).toBe('utf8');
  });

  it('random: a fixed random that is not 16 bytes', () => {
    expect(refusal(() => crypt.encrypt('x', 'short'))).toBe('random');
    expect(refusal(() => crypt.encrypt('x', new Uint8Array(17)))).toBe('random');
  });

  it("errors name the reason only, never the key, token or plaintext", () => {
    const secret = new MsgCrypt({ token: 'tok3n-SECRET', encodingAesKey: MP_KEY, receiveId });
    const other = new MsgCrypt({ token: 't', encodingAesKey: MP_KEY, receiveId: 'wxother' });
    try {
      secret.decrypt(other.encrypt('plaintext-SECRET'));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(MsgCryptError);
      expect(error).toMatchObject({ status: 400, code: 'wechat_push_refused', extra: { reason: 'receive_id' } });
      const text = `${String(error)} ${(error as Error).stack ?? ''}`;
      for (const s of ['SECRET', MP_KEY, 'wxother']) expect(text).not.toContain(s);
    }
  });
});

describe('WXBizMsgCrypt: round trips', () => {
  it('any message, random and receive id: pads to 32, decrypts back, signs and verifies', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.stringMatching(/^wx[0-9a-f]{16}$/), fc.stringMatching(/^[A-Za-z0-9]{43}$/), (message, random, receiveId, key) => {
        const crypt = new MsgCrypt({ token: 'tok', encodingAesKey: key, receiveId });
        const encrypt = crypt.encrypt(message, random);
        expect(Buffer.from(encrypt, 'base64').length % 32).toBe(0);
        expect(crypt.decrypt(encrypt)).toBe(message);
        expect(crypt.verify(crypt.sign('1700000000', 'n', encrypt), '1700000000', 'n', encrypt)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('without a fixed random, two encryptions of one message differ', () => {
    const crypt = new MsgCrypt({ token: 't', encodingAesKey: MP_KEY, receiveId: 'wx1' });
    expect(crypt.encrypt('same')).not.toBe(crypt.encrypt('same'));
  });
});
