import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalServer } from '../../lib/http/local-server.js';
import { addWebsite, LOGIN_KEY, loginContainer, MP, NO_LOGIN_KEY, OA, SITE } from '../support/login-world.js';
import { listen, type Listening } from '../support/listen.js';
import { closeSharedDynalite, READ_KEY, startWorld, type World } from '../support/world.js';

/**
 * Hostile requests to the login routes and the compatible login paths, over a real socket: never a
 * 5xx, a stack trace, a secret, or an echo of the code that was sent.
 */
let world: World;
let server: Listening;

beforeAll(async () => {
  world = await startWorld();
  addWebsite(world);
  server = await listen(createLocalServer(loginContainer(world)));
});
afterAll(async () => {
  await server.close();
  await world.close();
  await closeSharedDynalite();
});

async function call(method: string, path: string, o: { key?: string; body?: string; type?: string } = {}) {
  const headers: Record<string, string> = {};
  if (o.key) headers.authorization = `Bearer ${o.key}`;
  if (o.type) headers['content-type'] = o.type;
  const res = await request(`${server.url}${path}`, { method: method as 'POST', headers, body: o.body });
  return { status: res.statusCode, text: await res.body.text() };
}

/** A code-like value long enough that finding it in an answer cannot be chance. */
const codeLike = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_-]{16,40}$/),
  fc.string({ minLength: 16, maxLength: 600 }),
  fc.constantFrom('0'.repeat(16), `${'%00'.repeat(8)}abcdefgh`, '<script>alert(1)</script>'),
);
const secrets = () => Object.values(world.secrets);

function clean(r: { status: number; text: string }, sent: string[]) {
  expect(r.status).toBeLessThan(500);
  expect(r.text).not.toMatch(/\bat .*\.(ts|js|mjs):\d+/);
  for (const s of secrets()) expect(r.text).not.toContain(s);
  for (const s of sent) if (s.length >= 16) expect(r.text).not.toContain(s);
}

describe('hostile requests to the login routes', () => {
  it('arbitrary bodies, content types and keys on POST …/login and …/oauth/token get a 4xx that echoes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('mp', 'oa', 'site', 'crm', 'other', 'ghost', 'a%20b'),
        fc.constantFrom('login', 'oauth/token'),
        fc.option(fc.constantFrom(LOGIN_KEY, NO_LOGIN_KEY, READ_KEY, 'x', `${LOGIN_KEY}x`), { nil: undefined }),
        fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8', ''),
        codeLike,
        fc.oneof(
          fc.constant('js_code'),
          fc.constant('code'),
          fc.string({ maxLength: 8 }),
        ),
        fc.oneof(fc.constant('object'), fc.constant('raw'), fc.constant('nested')),
        async (app, route, key, type, code, field, shape) => {
          const body = shape === 'raw' ? code : JSON.stringify(shape === 'nested' ? { [field]: { code } } : { [field]: code });
          const r = await call('POST', `/v1/apps/${app}/${route}`, { key, body, type: type || undefined });
          clean(r, [code]);
          expect(r.status).not.toBe(200);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('arbitrary queries on the compatible login paths get WeChat\'s error shape and echo nothing', async () => {
    const param = fc.constantFrom('appid', 'secret', 'js_code', 'code', 'grant_type', 'refresh_token', 'access_token', 'openid', 'lang', 'x');
    const value = fc.oneof(fc.constantFrom(MP, OA, SITE, LOGIN_KEY, NO_LOGIN_KEY, 'authorization_code', 'refresh_token'), codeLike);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/sns/jscode2session', '/sns/oauth2/access_token', '/sns/oauth2/refresh_token', '/sns/userinfo', '/sns/auth', '/sns/other', '/sns/'),
        fc.constantFrom('GET', 'POST', 'DELETE'),
        fc.array(fc.tuple(param, value), { maxLength: 6 }),
        async (path, method, pairs) => {
          const query = new URLSearchParams(pairs).toString();
          const r = await call(method, `${path}?${query}`, method === 'GET' ? {} : { body: '{}', type: 'application/json' });
          const codes = pairs.filter(([k]) => k !== 'appid' && k !== 'grant_type').map(([, v]) => v).filter((v) => ![MP, OA, SITE, 'authorization_code', 'refresh_token'].includes(v));
          clean(r, codes);
          expect(r.status).toBe(200);
          expect(JSON.parse(r.text)).toHaveProperty('errcode');
        },
      ),
      { numRuns: 200 },
    );
    // Made-up codes may reach WeChat (the hub cannot tell a real one), but no token was fetched for any of it.
    expect(world.sim.calls(MP, 'stable_token') + world.sim.calls(OA, 'token')).toBe(0);
  });
});
