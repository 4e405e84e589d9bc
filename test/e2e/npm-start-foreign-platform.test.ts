import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../lib/http/auth.js';
import { runLocal, type LocalHub } from '../../lib/local/run-local.js';
import { closedPort } from '../support/listen.js';
import { ManualClock, MINUTE } from '../support/manual-clock.js';
import { ForeignPlatform, wxEncrypt } from './support/foreign-platform.js';

/**
 * `npm start` (runLocal, in process, as test/integration/local-hub.test.ts runs it) with a
 * third-party platform configured through the documented contract (HUB_APPS naming the platform,
 * its secrets from the environment, HUB_API_KEYS, WECHAT_API_BASE), against a WeChat-like platform
 * server that is not the project's simulator (./support/foreign-platform.ts: its own token
 * formats, its own WXBizMsgCrypt). The hub and the server share an injected clock (runLocal's
 * `clock` option), so that "kept fresh" is the tick after the clock moved, not a wait.
 */
const COMPONENT = 'wx_foreign_component';
const NAME = 'agency';
const ACCOUNT = 'wx_foreign_account1';
const READER = 'foreign_accounts_key_0123456789';
const ADMIN = 'foreign_admin_key_0123456789';
const SECRET = 'foreign-component-secret-0001';
const MSG_TOKEN = 'foreignMsgToken42';
const AES = 'Zm9yZWlnbi1wbGF0Zm9ybS1hZXMta2V5LTMyYnl0ZXM'; // base64 of 'foreign-platform-aes-key-32bytes', without its '='

const clock = new ManualClock();
const foreign = new ForeignPlatform({ componentAppid: COMPONENT, secret: SECRET, token: MSG_TOKEN, aesKey: AES, now: () => clock.now() });
let hub: LocalHub;
const lines: string[] = [];

beforeAll(async () => {
  const base = await foreign.listen();
  // The event URL is configured on the platform before the hub runs (as on WeChat's console): a port chosen first.
  const port = new URL(await closedPort()).port;
  foreign.eventUrl = `http://127.0.0.1:${port}/v1/platforms/${NAME}/events`;
  hub = await runLocal(
    {
      PORT: port,
      WECHAT_API_BASE: base,
      AGENCY_SECRET: SECRET,
      AGENCY_TOKEN: MSG_TOKEN,
      AGENCY_AES_KEY: AES,
      HUB_APPS: JSON.stringify([
        { name: NAME, type: 'platform', appid: COMPONENT, secret: { env: 'AGENCY_SECRET' }, token: { env: 'AGENCY_TOKEN' }, aesKey: { env: 'AGENCY_AES_KEY' } },
      ]),
      HUB_API_KEYS: JSON.stringify([
        { name: 'accounts', sha256: hashApiKey(READER), apps: [`${NAME}/*`], scopes: ['read', 'refresh'] },
        { name: 'agency-admin', sha256: hashApiKey(ADMIN), apps: [NAME, `${NAME}/*`], scopes: ['admin'] },
      ]),
      LOG_LEVEL: 'SILENT',
    },
    (l) => lines.push(l),
    { clock },
  );
  await foreign.settled();
});
afterAll(async () => {
  await hub?.close();
  await foreign.close();
});

async function call(method: 'GET' | 'POST', path: string, key: string, body?: unknown) {
  const res = await request(`${hub.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.statusCode, body: (await res.body.json()) as any };
}
const tokenRoute = `/v1/platforms/${NAME}/authorizers/${ACCOUNT}/access-token`;
const served = async () => (await call('GET', tokenRoute, READER)).body.access_token as string;

describe('npm start with a platform, against a platform server that is not the simulator', () => {
  it("the stand-in's WXBizMsgCrypt gives the published test vector (docs/wechat.md §10a, vector 2)", () => {
    const encrypt = wxEncrypt('abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', 'wxb11529c136998cb6', '我是中文abcd123', Buffer.from('aaaabbbbccccdddd'));
    expect(encrypt).toBe('jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==');
  });

  it("prints the platform's routes (no app token route: a platform has none of its own)", () => {
    const text = lines.join('\n');
    expect(lines[0]).toBe(`wechat-token-hub is running at ${hub.url}`);
    expect(text).toContain(`curl -s -H "Authorization: Bearer $HUB_KEY" ${hub.url}/v1/platforms/${NAME}/authorizers/<authorizer appid>/access-token`);
    expect(text).toContain(`curl -s -H "Authorization: Bearer $HUB_KEY" ${hub.url}/v1/platforms/${NAME}/authorizers\n`);
    expect(text).not.toContain('/v1/apps/');
    expect(text).not.toMatch(/simulator/i);
  });

  it('at start, with no ticket, the hub asked for one (api_start_push_ticket) and took the encrypted push with `success`; a push signed with another token is refused', async () => {
    expect(foreign.count('api_start_push_ticket')).toBe(1);
    expect(foreign.pushes).toEqual([{ infoType: 'component_verify_ticket', status: 200, body: 'success' }]);
    const again = await foreign.pushTicket();
    expect([again.status, again.body]).toEqual([200, 'success']);
    const forged = await foreign.pushTicket('not-the-message-token');
    expect(forged.status).toBe(400);
  });

  it("an authorization (the hub's link, the server's authorized push) registers the account, whose token is the server's current one", async () => {
    const link = await call('POST', `/v1/platforms/${NAME}/authorization-links`, ADMIN, { redirect_uri: 'https://agency.example.com/authorized' });
    expect(link.status).toBe(200);
    // The component token was fetched with a ticket this server pushed (the latest two are accepted).
    expect(foreign.count('api_component_token')).toBe(1);
    expect(foreign.requests.find((r) => r.endpoint === 'api_component_token')!.body).toMatchObject({ component_appid: COMPONENT, component_appsecret: SECRET });
    const preAuthCode = new URL(link.body.pc_url).searchParams.get('pre_auth_code')!;
    expect(foreign.preAuthCodes.has(preAuthCode)).toBe(true);

    expect((await call('GET', tokenRoute, READER)).status).toBe(404);
    const { push } = await foreign.authorize(ACCOUNT, preAuthCode);
    expect([push.infoType, push.status, push.body]).toEqual(['authorized', 200, 'success']);
    expect(foreign.count('api_query_auth')).toBe(1);

    const listed = await call('GET', `/v1/platforms/${NAME}/authorizers`, ADMIN);
    expect(listed.status).toBe(200);
    expect(listed.body.authorizers).toEqual([expect.objectContaining({ appid: ACCOUNT, state: 'fresh', funcs: [1, 15, 4] })]);
    const res = await call('GET', tokenRoute, READER);
    expect(res.status).toBe(200);
    expect(res.body.access_token).toMatch(/^FAT:wx_foreign_account1:\d+:/);
    expect(res.body.access_token).toBe(foreign.currentToken(ACCOUNT));
    // The admin key reads no token; the reader lists no accounts.
    expect((await call('GET', tokenRoute, ADMIN)).status).toBe(403);
    expect((await call('GET', `/v1/platforms/${NAME}/authorizers`, READER)).status).toBe(403);
  });

  it('the tick keeps it fresh: with the clock 10 minutes before its expiry, it refreshes with the refresh token the server issued', async () => {
    const first = await served();
    const refreshToken = foreign.refreshToken(ACCOUNT)!;
    clock.advance(7200 * 1000 - 10 * MINUTE);
    const outcomes = await hub.tick();
    expect(outcomes).toContainEqual({ app: `${NAME}/${ACCOUNT}`, kind: 'access_token', outcome: 'refreshed' });
    const calls = foreign.requests.filter((r) => r.endpoint === 'api_authorizer_token');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.body).toMatchObject({ component_appid: COMPONENT, authorizer_appid: ACCOUNT, authorizer_refresh_token: refreshToken });
    const second = await served();
    expect(second).not.toBe(first);
    expect(second).toBe(foreign.currentToken(ACCOUNT));
  });

  it('a passive refresh probes the stale token (get_api_domain_ip): still accepted, it is kept; invalidated by the server, it is replaced by the current one', async () => {
    const current = await served();
    const kept = await call('POST', `${tokenRoute}/refresh`, READER, { stale_token: current });
    expect([kept.status, kept.body.refreshed, kept.body.access_token]).toEqual([200, false, current]);
    expect(foreign.requests.filter((r) => r.endpoint === 'get_api_domain_ip').at(-1)!.body).toEqual({ access_token: current });
    const fetches = foreign.count('api_authorizer_token');

    foreign.invalidate(ACCOUNT);
    clock.advance(11_000); // past PROBE_TTL (10 s): the "still accepted" answer no longer stands
    const replaced = await call('POST', `${tokenRoute}/refresh`, READER, { stale_token: current });
    expect([replaced.status, replaced.body.refreshed]).toEqual([200, true]);
    expect(foreign.count('api_authorizer_token')).toBe(fetches + 1);
    expect(replaced.body.access_token).not.toBe(current);
    expect(replaced.body.access_token).toBe(foreign.currentToken(ACCOUNT));
    expect(await served()).toBe(foreign.currentToken(ACCOUNT));
  });

  it('a refresh token the server replaced (61023) is recovered from api_get_authorizer_list', async () => {
    const stale = await served();
    const listed = foreign.count('api_get_authorizer_list'); // the tick's roster check read it before
    const replacement = foreign.replaceRefreshToken(ACCOUNT);
    foreign.invalidate(ACCOUNT);
    clock.advance(11_000);
    const res = await call('POST', `${tokenRoute}/refresh`, READER, { stale_token: stale });
    expect([res.status, res.body.refreshed]).toEqual([200, true]);
    expect(foreign.count('api_get_authorizer_list')).toBe(listed + 1);
    expect(foreign.requests.filter((r) => r.endpoint === 'api_authorizer_token').at(-1)!.body).toMatchObject({ authorizer_refresh_token: replacement });
    expect(res.body.access_token).toBe(foreign.currentToken(ACCOUNT));
  });

  it('an unauthorized push stops it: its token route answers 410, and the tick fetches nothing for it', async () => {
    const push = await foreign.unauthorize(ACCOUNT);
    expect([push.infoType, push.status, push.body]).toEqual(['unauthorized', 200, 'success']);
    const res = await call('GET', tokenRoute, READER);
    expect([res.status, res.body.error.code]).toEqual([410, 'authorizer_revoked']);
    const fetches = foreign.count('api_authorizer_token');
    clock.advance(3 * 3_600_000);
    expect(await hub.tick()).toContainEqual({ app: `${NAME}/${ACCOUNT}`, kind: 'access_token', outcome: 'removed' });
    expect(foreign.count('api_authorizer_token')).toBe(fetches);
  });
});
