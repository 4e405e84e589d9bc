import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import API from 'co-wechat-api';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../lib/http/auth.js';
import { jsapiSignature } from '../../lib/jssdk.js';
import { runLocal, type LocalHub } from '../../lib/local/run-local.js';

/**
 * `npm start` with an Official Account and a WeCom app against a WeChat-like server that is
 * deliberately not the project's simulator: a few lines that know tokens and tickets, and can be
 * told to stop accepting the current token.
 */
const OA_SECRET = 'other-oa-secret-123';
const WECOM_SECRET = 'other-wecom-secret-456';
const KEY = 'local_hub_tickets_key_0123456789';
const ADMIN = 'local_hub_admin_key_0123456789';
const count: Record<string, number> = {};
const valid = new Set<string>();
const issued: Record<string, string> = {};
let wechat: Server;
let hub: LocalHub;

const bump = (what: string) => (count[what] = (count[what] ?? 0) + 1);
function issue(what: string, prefix: string): string {
  const value = `${prefix}-${bump(what)}-${'x'.repeat(40)}`;
  issued[what] = value;
  return value;
}

beforeAll(async () => {
  wechat = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const q = url.searchParams;
    const reply = (body: unknown, delayMs = 0) => setTimeout(() => res.end(JSON.stringify(body)), delayMs);
    res.setHeader('content-type', 'application/json');
    const tokenOk = () => valid.has(q.get('access_token') ?? '');
    bump(`call:${url.pathname}`);
    switch (url.pathname) {
      case '/cgi-bin/token': {
        if (q.get('appid') === 'wx_spent') return reply({ errcode: 45009, errmsg: 'reach max api daily quota limit' });
        if (q.get('appid') === 'wx_walled') return reply({ errcode: 40164, errmsg: 'invalid ip 203.0.113.9, not in whitelist' });
        if (q.get('secret') !== OA_SECRET) return reply({ errcode: 40001, errmsg: 'invalid credential' });
        const t = issue('oa_token', 'oa');
        valid.add(t);
        return reply({ access_token: t, expires_in: 7200 }, 30);
      }
      case '/cgi-bin/gettoken': {
        if (q.get('corpid') !== 'ww_other' || q.get('corpsecret') !== WECOM_SECRET) return reply({ errcode: 40001, errmsg: 'invalid secret' });
        const t = issue('wecom_token', 'wc');
        valid.add(t);
        return reply({ errcode: 0, errmsg: 'ok', access_token: t, expires_in: 7200 });
      }
      case '/cgi-bin/getcallbackip':
        return reply(tokenOk() ? { ip_list: ['1.2.3.4'] } : { errcode: 40001, errmsg: 'invalid credential' });
      case '/cgi-bin/ticket/getticket':
        if (!tokenOk()) return reply({ errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest' });
        return reply({ errcode: 0, errmsg: 'ok', ticket: issue(`oa_${q.get('type')}`, `t${q.get('type')}`), expires_in: 7200 }, 30);
      case '/cgi-bin/get_jsapi_ticket':
        if (!tokenOk()) return reply({ errcode: 42001, errmsg: 'access_token expired' });
        return reply({ errcode: 0, errmsg: 'ok', ticket: issue('wecom_jsapi', 'corp'), expires_in: 7200 });
      case '/cgi-bin/ticket/get':
        if (!tokenOk()) return reply({ errcode: 42001, errmsg: 'access_token expired' });
        return reply({ errcode: 0, errmsg: 'ok', ticket: issue('wecom_agent', 'agent'), expires_in: 7200 });
      default:
        res.statusCode = 404;
        return reply({ errcode: 404, errmsg: 'no' });
    }
  });
  await new Promise<void>((r) => wechat.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(wechat.address() as AddressInfo).port}`;
  hub = await runLocal(
    {
      PORT: '0',
      WECHAT_API_BASE: base,
      WECOM_API_BASE: base,
      SHOP_SECRET: OA_SECRET,
      CRM_SECRET: WECOM_SECRET,
      HUB_APPS: JSON.stringify([
        { name: 'shop', appid: 'wx_shop_01', type: 'official_account', secret: { env: 'SHOP_SECRET' }, compat: true },
        { name: 'crm', type: 'wecom', corpid: 'ww_other', agentid: 1000002, secret: { env: 'CRM_SECRET' }, compat: true },
        { name: 'spent', appid: 'wx_spent', type: 'official_account', secret: { env: 'SHOP_SECRET' } },
        { name: 'walled', appid: 'wx_walled', type: 'official_account', secret: { env: 'SHOP_SECRET' } },
      ]),
      HUB_API_KEYS: JSON.stringify([
        { name: 'svc', sha256: hashApiKey(KEY), apps: ['shop', 'crm'], scopes: ['read', 'refresh', 'proxy'] },
        { name: 'ops', sha256: hashApiKey(ADMIN), apps: ['*'], scopes: ['admin'] },
      ]),
      LOG_LEVEL: 'SILENT',
    },
    () => {},
  );
});
afterAll(async () => {
  await hub?.close();
  wechat?.closeAllConnections();
  await new Promise<void>((r) => wechat.close(() => r()));
});

async function call(method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await request(`${hub.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.statusCode, body: (await res.body.json()) as any };
}

describe('npm start with tickets, against a WeChat-like server that is not the simulator', () => {
  it('a burst of concurrent ticket reads on a fresh hub costs one ticket fetch, and serves what that server issued', async () => {
    expect(count.oa_jsapi).toBeUndefined(); // the start-up tick fetched tokens, not unused tickets
    const burst = await Promise.all(Array.from({ length: 40 }, () => call('GET', '/v1/apps/shop/tickets/jsapi')));
    expect(burst.every((r) => r.status === 200)).toBe(true);
    expect(count.oa_jsapi).toBe(1);
    expect(new Set(burst.map((r) => r.body.ticket))).toEqual(new Set([issued.oa_jsapi]));
  });

  it('signatures verify with the tickets that server issued (Official Account and WeCom)', async () => {
    const url = 'https://shop.example/item?id=9';
    const oa = await call('POST', '/v1/apps/shop/jsapi-signature', { url: `${url}#reviews` });
    expect(oa.status).toBe(200);
    expect(oa.body.appId).toBe('wx_shop_01');
    expect(oa.body.signature).toBe(jsapiSignature({ ticket: issued.oa_jsapi!, nonceStr: oa.body.nonceStr, timestamp: oa.body.timestamp, url }));

    const wc = await call('POST', '/v1/apps/crm/jsapi-signature', { url });
    expect(wc.status).toBe(200);
    expect(wc.body.appId).toBe('ww_other');
    expect(wc.body.signature).toBe(jsapiSignature({ ticket: issued.wecom_jsapi!, nonceStr: wc.body.nonceStr, timestamp: wc.body.timestamp, url }));
    const a = wc.body.agentConfig;
    expect(a.corpid).toBe('ww_other');
    expect(a.agentid).toBe(1000002);
    expect(a.signature).toBe(jsapiSignature({ ticket: issued.wecom_agent!, nonceStr: a.nonceStr, timestamp: a.timestamp, url }));
  });

  it('a ticket fetch answered with 40001 heals through one token refresh', async () => {
    const tokensBefore = count.oa_token!;
    const old = (await call('GET', '/v1/apps/shop/access-token')).body.access_token;
    valid.delete(old); // someone outside the hub fetched with the same secret
    const card = await call('GET', '/v1/apps/shop/tickets/wx_card');
    expect(card.status).toBe(200);
    expect(card.body.ticket).toBe(issued.oa_wx_card);
    expect(count.oa_token).toBe(tokensBefore + 1);
    expect(count.oa_wx_card).toBe(1);
    expect(count['call:/cgi-bin/ticket/getticket']).toBe(3); // jsapi once; wx_card refused with the dead token, then issued
    const now = (await call('GET', '/v1/apps/shop/access-token')).body.access_token;
    expect(now).toBe(issued.oa_token);
  });
});

describe('npm start for services that are not rewritten, against the same non-simulator server', () => {
  const sdk = (key: string) => {
    let stored: { accessToken: string; expireTime: number } | null = null;
    const api = new API('wx_shop_01', key, async () => stored, async (t) => void (stored = t));
    api.prefix = `${hub.url}/cgi-bin/`;
    return api;
  };

  it('an unmodified SDK gets the hub\'s token and ticket with zero new upstream fetches, and WeChat-shaped errors for a wrong key', async () => {
    const before = { ...count };
    const api = sdk(KEY);
    expect((await api.getAccessToken()).accessToken).toBe(issued.oa_token);
    expect((await api.getTicket('jsapi')).ticket).toBe(issued.oa_jsapi);
    expect(count.oa_token).toBe(before.oa_token);
    expect(count.oa_jsapi).toBe(before.oa_jsapi);
    await expect(sdk('hub_wrong_key_0123456789abcdef').getAccessToken()).rejects.toMatchObject({ name: 'WeChatAPIError', code: 40125 });
    const wecom = await request(`${hub.url}/cgi-bin/gettoken?corpid=ww_other&corpsecret=${KEY}`);
    expect(await wecom.body.json()).toEqual({ errcode: 0, errmsg: 'ok', access_token: issued.wecom_token, expires_in: expect.any(Number) });
    expect(count.wecom_token).toBe(before.wecom_token);
  });

  it('the proxy answers a WeChat API call with the hub\'s token and heals a revoked token with one refresh', async () => {
    const proxied = await call('GET', '/v1/apps/shop/wechat/cgi-bin/getcallbackip');
    expect(proxied.status).toBe(200);
    expect(proxied.body).toEqual({ ip_list: ['1.2.3.4'] });
    const tokens = count.oa_token!;
    valid.delete(issued.oa_token!); // revoked outside the hub
    const healed = await call('GET', '/v1/apps/shop/wechat/cgi-bin/getcallbackip');
    expect(healed.body).toEqual({ ip_list: ['1.2.3.4'] });
    expect(count.oa_token).toBe(tokens + 1);
  });
});

describe('npm start for an operator, against the same non-simulator server', () => {
  it('/v1/status lists every app with its failures (45009, 40164 recorded as such) and no token; 403 without the admin scope', async () => {
    const res = await request(`${hub.url}/v1/status`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.statusCode).toBe(200);
    const text = await res.body.text();
    const body = JSON.parse(text);
    const token = (app: string) => body.apps.find((a: any) => a.app === app).credentials.find((c: any) => c.kind === 'access_token');
    expect(body.apps.map((a: any) => a.app).sort()).toEqual(['crm', 'shop', 'spent', 'walled']);
    expect(token('spent')).toMatchObject({ state: 'blocked', failures: 1, lastError: { code: 'quota:45009' } });
    expect(token('walled')).toMatchObject({ state: 'backoff', failures: 1, lastError: { code: 'configuration:40164' } });
    expect(token('shop')).toMatchObject({ state: 'ok' });
    for (const v of Object.values(issued)) expect(text).not.toContain(v);
    expect(text).not.toContain(OA_SECRET);
    expect((await call('GET', '/v1/status')).status).toBe(403);
  });
});
