import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_BODY_BYTES, openEvent, parseInnerEvent, PlatformEventError, type OpenEventInput, type PlatformEventReason } from '../../lib/platform/events.js';
import { readFlatXml } from '../../lib/platform/flat-xml.js';
import { MsgCrypt } from '../../lib/platform/msg-crypt.js';

const APPID = 'wx_component_0001';
const TOKEN = 'platform-token';
const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const OTHER_KEY = 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C';
const NOW_S = 1_700_000_000;
const crypt = new MsgCrypt({ token: TOKEN, encodingAesKey: KEY, receiveId: APPID });

const ticketXml = (appId = APPID) =>
  `<xml><AppId><![CDATA[${appId}]]></AppId>\n<CreateTime>1413192605</CreateTime>\n<InfoType><![CDATA[component_verify_ticket]]></InfoType>\n<ComponentVerifyTicket><![CDATA[ticket@@@abc]]></ComponentVerifyTicket>\n</xml>`;
const authorizedXml = (infoType: string) =>
  `<xml><AppId><![CDATA[${APPID}]]></AppId><CreateTime>1413192760</CreateTime><InfoType><![CDATA[${infoType}]]></InfoType><AuthorizerAppid><![CDATA[wxauthorizer]]></AuthorizerAppid><AuthorizationCode><![CDATA[queryauthcode@@@x]]></AuthorizationCode><AuthorizationCodeExpiredTime>1413196360</AuthorizationCodeExpiredTime><PreAuthCode><![CDATA[preauthcode@@@y]]></PreAuthCode></xml>`;
const unauthorizedXml = `<xml><AppId><![CDATA[${APPID}]]></AppId><CreateTime>1413192760</CreateTime><InfoType><![CDATA[unauthorized]]></InfoType><AuthorizerAppid><![CDATA[wxauthorizer]]></AuthorizerAppid></xml>`;

function push(inner: string, o: { by?: MsgCrypt; timestamp?: string; nonce?: string; outer?: (e: string) => string } = {}): OpenEventInput {
  const by = o.by ?? crypt;
  const timestamp = o.timestamp ?? String(NOW_S);
  const nonce = o.nonce ?? '1320562132';
  const encrypt = by.encrypt(inner);
  const body = o.outer ? o.outer(encrypt) : `<xml>\n  <AppId><![CDATA[${APPID}]]></AppId>\n  <Encrypt><![CDATA[${encrypt}]]></Encrypt>\n</xml>`;
  const query = { timestamp, nonce, msg_signature: by.sign(timestamp, nonce, encrypt), encrypt_type: 'aes', signature: 'ignored' };
  return { query, body, crypt, now: NOW_S * 1000, maxSkewSeconds: 300 };
}

function refusal(f: () => unknown): PlatformEventReason | 'none' {
  try {
    f();
    return 'none';
  } catch (error) {
    if (error instanceof PlatformEventError) return error.reason;
    throw error;
  }
}

describe('openEvent: the four InfoTypes', () => {
  it('component_verify_ticket, with the nonce and timestamp for replay checks', () => {
    expect(openEvent(push(ticketXml()))).toEqual({
      event: { infoType: 'component_verify_ticket', appId: APPID, createTime: 1413192605, componentVerifyTicket: 'ticket@@@abc' },
      timestamp: NOW_S,
      nonce: '1320562132',
      msgSignature: expect.stringMatching(/^[0-9a-f]{40}$/),
    });
  });

  it('authorized and updateauthorized', () => {
    for (const infoType of ['authorized', 'updateauthorized'] as const) {
      expect(openEvent(push(authorizedXml(infoType))).event).toEqual({
        infoType,
        appId: APPID,
        createTime: 1413192760,
        authorizerAppid: 'wxauthorizer',
        authorizationCode: 'queryauthcode@@@x',
        authorizationCodeExpiredTime: 1413196360,
        preAuthCode: 'preauthcode@@@y',
      });
    }
  });

  it('unauthorized', () => {
    expect(openEvent(push(unauthorizedXml)).event).toEqual({ infoType: 'unauthorized', appId: APPID, createTime: 1413192760, authorizerAppid: 'wxauthorizer' });
  });

  it('accepts ToUserName instead of AppId, a byte body, URLSearchParams, no encrypt_type, and the skew boundary', () => {
    const input = push(ticketXml(), { outer: (e) => `<?xml version="1.0"?><xml><ToUserName><![CDATA[x]]></ToUserName><Encrypt><![CDATA[${e}]]></Encrypt></xml>` });
    expect(openEvent(input).event.infoType).toBe('component_verify_ticket');
    const q = input.query as Record<string, string>;
    const params = new URLSearchParams({ timestamp: q.timestamp ?? '', nonce: q.nonce ?? '', msg_signature: q.msg_signature ?? '' });
    expect(openEvent({ ...input, query: params, body: Buffer.from(input.body as string) }).event.infoType).toBe('component_verify_ticket');
    expect(openEvent(push(ticketXml(), { timestamp: String(NOW_S - 300) })).timestamp).toBe(NOW_S - 300);
  });

  it("passes the official MP sample's signature and decryption, then refuses its text message as an unknown InfoType", () => {
    // docs/wechat.md §10a vector 1 (source: see test/unit/msg-crypt.test.ts).
    const mp = new MsgCrypt({ token: 'spamtest', encodingAesKey: KEY, receiveId: 'wx2c2769f8efd9abc2' });
    const encrypt =
      'hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=';
    const body = `<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`;
    const query = { timestamp: '1409735669', nonce: '1320562132', msg_signature: '5d197aaffba7e9b25a30732f161a50dee96bd5fa' };
    expect(refusal(() => openEvent({ query, body, crypt: mp, now: 1409735669_000 }))).toBe('info_type');
    expect(refusal(() => openEvent({ query, body, crypt: mp, now: 1409735669_000 + 301_000 }))).toBe('timestamp');
  });
});

describe('openEvent: every refusal', () => {
  const ok = push(ticketXml());
  const withQuery = (q: Record<string, unknown>) => ({ ...ok, query: { ...(ok.query as Record<string, string>), ...q } as OpenEventInput['query'] });

  it('too_large and xml: the outer body', () => {
    expect(refusal(() => openEvent({ ...ok, body: `<xml><Encrypt>${'A'.repeat(MAX_BODY_BYTES)}</Encrypt></xml>` }))).toBe('too_large');
    expect(refusal(() => openEvent({ ...ok, body: new Uint8Array(MAX_BODY_BYTES + 1) }))).toBe('too_large');
    expect(refusal(() => openEvent({ ...ok, body: new Uint8Array([0x3c, 0xff]) }))).toBe('xml');
    expect(refusal(() => openEvent({ ...ok, body: '<xml><AppId>x</AppId></xml>' }))).toBe('xml');
    expect(refusal(() => openEvent({ ...ok, body: '<xml><Encrypt></Encrypt></xml>' }))).toBe('xml');
    expect(refusal(() => openEvent({ ...ok, body: 42 as unknown as string }))).toBe('xml');
  });

  it('query: missing, repeated or malformed parameters; encrypt_type other than aes', () => {
    expect(refusal(() => openEvent(withQuery({ timestamp: undefined })))).toBe('query');
    expect(refusal(() => openEvent(withQuery({ timestamp: '17e8' })))).toBe('query');
    expect(refusal(() => openEvent(withQuery({ nonce: '' })))).toBe('query');
    expect(refusal(() => openEvent(withQuery({ nonce: ['a', 'b'] })))).toBe('query');
    expect(refusal(() => openEvent(withQuery({ msg_signature: 'abc' })))).toBe('query');
    expect(refusal(() => openEvent(withQuery({ encrypt_type: 'raw' })))).toBe('query');
  });

  it('signature: another token, another nonce, another Encrypt', () => {
    const wrong = new MsgCrypt({ token: 'other-token', encodingAesKey: KEY, receiveId: APPID });
    expect(refusal(() => openEvent(push(ticketXml(), { by: wrong })))).toBe('signature');
    expect(refusal(() => openEvent(withQuery({ nonce: '1' })))).toBe('signature');
    expect(refusal(() => openEvent({ ...ok, body: (ok.body as string).replace(/Encrypt><!\[CDATA\[./, (m) => `${m.slice(0, -1)}${m.endsWith('x') ? 'y' : 'x'}`) }))).toBe('signature');
  });

  it('timestamp: further than maxSkewSeconds either way', () => {
    expect(refusal(() => openEvent(push(ticketXml(), { timestamp: String(NOW_S - 301) })))).toBe('timestamp');
    expect(refusal(() => openEvent(push(ticketXml(), { timestamp: String(NOW_S + 301) })))).toBe('timestamp');
    expect(refusal(() => openEvent({ ...push(ticketXml(), { timestamp: String(NOW_S + 30) }), maxSkewSeconds: 10 }))).toBe('timestamp');
  });

  it('crypto reasons pass through: another key, another receive id, a signed Encrypt that is not ciphertext', () => {
    const otherKey = new MsgCrypt({ token: TOKEN, encodingAesKey: OTHER_KEY, receiveId: APPID });
    expect(['padding', 'length', 'receive_id', 'utf8']).toContain(refusal(() => openEvent(push(ticketXml(), { by: otherKey }))));
    const otherId = new MsgCrypt({ token: TOKEN, encodingAesKey: KEY, receiveId: 'wx_component_0002' });
    expect(refusal(() => openEvent(push(ticketXml(), { by: otherId })))).toBe('receive_id');
    const signed = (encrypt: string) => ({ ...ok, body: `<xml><Encrypt>${encrypt}</Encrypt></xml>`, query: { ...(ok.query as Record<string, string>), msg_signature: crypt.sign(String(NOW_S), '1320562132', encrypt) } });
    expect(refusal(() => openEvent(signed('not*base64')))).toBe('base64');
    expect(refusal(() => openEvent(signed(Buffer.alloc(16).toString('base64'))))).toBe('padding');
  });

  it('app_id: the inner AppId or the outer AppId is not the component', () => {
    expect(refusal(() => openEvent(push(ticketXml('wx_someone_else'))))).toBe('app_id');
    expect(refusal(() => openEvent(push(ticketXml(), { outer: (e) => `<xml><AppId>wx_someone_else</AppId><Encrypt>${e}</Encrypt></xml>` })))).toBe('app_id');
  });

  it('info_type and fields: the inner XML', () => {
    expect(refusal(() => openEvent(push(ticketXml().replace('component_verify_ticket', 'notify_third_fasteregister'))))).toBe('info_type');
    expect(refusal(() => openEvent(push('<xml><AppId>x</AppId></xml>')))).toBe('info_type');
    expect(refusal(() => openEvent(push(ticketXml().replace(/<ComponentVerifyTicket>.*<\/ComponentVerifyTicket>/, ''))))).toBe('fields');
    expect(refusal(() => openEvent(push(ticketXml().replace('1413192605', '14131926O5'))))).toBe('fields');
    expect(refusal(() => openEvent(push(authorizedXml('authorized').replace(/<PreAuthCode>.*<\/PreAuthCode>/, ''))))).toBe('fields');
    expect(refusal(() => openEvent(push('not xml at all')))).toBe('xml');
  });
});

describe('the flat XML reader', () => {
  const read = (s: string) => readFlatXml(s);

  it('reads plain text (trimmed, five entities decoded), CDATA (as is), empty and self-closed elements', () => {
    const r = read(' <xml>\n<A> a &amp; &lt;b&gt; &quot;&apos; </A><B>  <![CDATA[ &amp; <!DOCTYPE x> ]]>  </B><C></C><D/></xml>\n');
    expect(r.ok && Object.fromEntries(r.fields)).toEqual({ A: 'a & <b> "\'', B: ' &amp; <!DOCTYPE x> ', C: '', D: '' });
  });

  it('refuses DOCTYPE, ENTITY, comments, PIs, attributes, nesting, duplicates, stray text, unknown entities', () => {
    const bad = [
      '<!DOCTYPE xml [<!ENTITY a "b">]><xml><A>&a;</A></xml>',
      '<xml><!ENTITY a "b"><A>x</A></xml>',
      '<xml><!-- c --><A>x</A></xml>',
      '<xml><?pi x?><A>x</A></xml>',
      '<xml><A id="1">x</A></xml>',
      '<xml><A><B>x</B></A></xml>',
      '<xml><A>x<![CDATA[y]]></A></xml>',
      '<xml><A><![CDATA[y]]>x</A></xml>',
      '<xml><A>x</A><A>y</A></xml>',
      '<xml>text<A>x</A></xml>',
      '<xml><A>&a;</A></xml>',
      '<xml><A>&#60;</A></xml>',
      '<xml><A>x</B></xml>',
      '<xml><A>x</A>',
      '<xml><A><![CDATA[x</A></xml>',
      '<xml><A>x</A></xml><xml></xml>',
      '<xml><xml>x</xml></xml>',
      '<root><A>x</A></root>',
      '',
    ];
    for (const s of bad) expect(read(s).ok, s).toBe(false);
    const tags = (n: number) => `<xml>${Array.from({ length: n }, (_, i) => `<T${i}/>`).join('')}</xml>`;
    expect(read(tags(64)).ok).toBe(true);
    expect(read(tags(65)).ok).toBe(false);
  });

  it('parseInnerEvent refuses what is not a string or too large', () => {
    expect(refusal(() => parseInnerEvent(`<xml><A>${'x'.repeat(MAX_BODY_BYTES)}</A></xml>`))).toBe('too_large');
    expect(refusal(() => parseInnerEvent(undefined as unknown as string))).toBe('too_large');
  });
});

describe('openEvent: a property', () => {
  it('random pushes never throw anything but PlatformEventError, and open only when token, key, receive id and time are right', () => {
    const wrongToken = new MsgCrypt({ token: 'not-the-token', encodingAesKey: KEY, receiveId: APPID });
    const wrongKey = new MsgCrypt({ token: TOKEN, encodingAesKey: OTHER_KEY, receiveId: APPID });
    const wrongId = new MsgCrypt({ token: TOKEN, encodingAesKey: KEY, receiveId: `${APPID}x` });
    const senders = { right: crypt, wrongToken, wrongKey, wrongId };
    const inners = fc.oneof(fc.constantFrom(ticketXml(), authorizedXml('authorized'), unauthorizedXml, ticketXml('wxother')), fc.string({ maxLength: 300 }));
    let openedCount = 0;
    const noise = fc.oneof(fc.string({ maxLength: 400 }), fc.stringMatching(/^[A-Za-z0-9+/=]{0,200}$/));
    fc.assert(
      fc.property(
        fc.constantFrom(...(Object.keys(senders) as (keyof typeof senders)[])),
        inners,
        fc.integer({ min: -1000, max: 1000 }),
        fc.string({ minLength: 0, maxLength: 20 }),
        fc.constantFrom('good', 'random-sig', 'random-body', 'mangled-body'),
        fc.stringMatching(/^[0-9a-f]{40}$/),
        noise,
        (sender, inner, skew, nonce, mode, randomSig, junk) => {
          const input = push(inner, { by: senders[sender], timestamp: String(NOW_S + skew), nonce });
          const q = input.query as Record<string, string>;
          if (mode === 'random-sig') q.msg_signature = randomSig;
          if (mode === 'random-body') input.body = junk;
          if (mode === 'mangled-body') input.body = (input.body as string).replace(/<Encrypt>/, `<Encrypt>${junk}`);
          let opened;
          try {
            opened = openEvent(input);
          } catch (error) {
            expect(error).toBeInstanceOf(PlatformEventError);
            return;
          }
          expect(sender).toBe('right');
          expect(Math.abs(skew)).toBeLessThanOrEqual(300);
          expect(opened.event.appId).toBe(APPID);
          expect(opened.nonce).toBe(nonce);
          openedCount++;
        },
      ),
      { numRuns: 1000 },
    );
    expect(openedCount).toBeGreaterThan(0);
  });
});
