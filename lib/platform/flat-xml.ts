/**
 * A reader for the only XML shapes a third-party platform receives (docs/wechat.md §10b): an `<xml>`
 * root whose children are elements holding plain text or one CDATA section. It is not an XML
 * parser, on purpose: anything else is refused, so there is nothing to expand or to nest.
 *
 * - refused: DOCTYPE, ENTITY, comments, processing instructions (but a leading `<?xml …?>`),
 *   attributes, nested elements, a repeated tag, text outside the children, entities other than the
 *   five predefined ones (decoded in plain text, never inside CDATA);
 * - the caller caps the size before calling (see events.ts).
 *
 * It never throws: it answers either the fields or what was wrong.
 */

export type FlatXml = { ok: true; fields: Map<string, string> } | { ok: false; problem: string };

const OPEN_TAG = /<([A-Za-z_][A-Za-z0-9_.-]{0,63})(\/?)>/y;
const DECLARATION = /<\?xml[ \t\r\n][^<>?]*\?>/y;
const SPACE = /[ \t\r\n]*/y;
const ENTITY = /&(lt|gt|amp|quot|apos);/g;
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const CDATA_OPEN = '<![CDATA[';
const CDATA_CLOSE = ']]>';
/** Generous for these shapes (a handful of fields); stops a body made of thousands of empty tags. */
const MAX_FIELDS = 64;

function skipSpace(s: string, i: number): number {
  SPACE.lastIndex = i;
  SPACE.exec(s);
  return SPACE.lastIndex;
}

function decodeText(raw: string): string | undefined {
  if (raw.replace(ENTITY, '').includes('&')) return undefined;
  return raw.replace(ENTITY, (_, name: string) => ENTITIES[name] ?? '');
}

export function readFlatXml(s: string): FlatXml {
  const fail = (problem: string): FlatXml => ({ ok: false, problem });
  const fields = new Map<string, string>();
  let i = skipSpace(s, 0);
  DECLARATION.lastIndex = i;
  if (DECLARATION.exec(s)) i = skipSpace(s, DECLARATION.lastIndex);
  if (!s.startsWith('<xml>', i)) return fail('root');
  i += 5;
  for (;;) {
    i = skipSpace(s, i);
    if (s.startsWith('</xml>', i)) {
      return skipSpace(s, i + 6) === s.length ? { ok: true, fields } : fail('trailing');
    }
    if (i >= s.length) return fail('unclosed');
    if (s[i] !== '<') return fail('text');
    if (s.startsWith('<!', i) || s.startsWith('<?', i)) return fail('markup');
    OPEN_TAG.lastIndex = i;
    const open = OPEN_TAG.exec(s);
    if (!open) return fail('tag');
    const name = open[1] ?? '';
    if (name === 'xml') return fail('nested');
    if (fields.has(name)) return fail('duplicate');
    if (fields.size >= MAX_FIELDS) return fail('fields');
    i = OPEN_TAG.lastIndex;
    if (open[2] === '/') {
      fields.set(name, '');
      continue;
    }
    const close = `</${name}>`;
    const j = skipSpace(s, i);
    let value: string | undefined;
    if (s.startsWith(CDATA_OPEN, j)) {
      const end = s.indexOf(CDATA_CLOSE, j + CDATA_OPEN.length);
      if (end < 0) return fail('cdata');
      value = s.slice(j + CDATA_OPEN.length, end);
      i = skipSpace(s, end + CDATA_CLOSE.length);
    } else {
      const end = s.indexOf('<', i);
      if (end < 0) return fail('unclosed');
      value = decodeText(s.slice(i, end).trim());
      if (value === undefined) return fail('entity');
      i = end;
    }
    if (!s.startsWith(close, i)) return fail('nested');
    i += close.length;
    fields.set(name, value);
  }
}
