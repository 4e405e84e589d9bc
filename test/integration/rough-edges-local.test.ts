import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { runLocal } from '../../lib/local/run-local.js';

const PRINCIPALS = JSON.stringify([{ name: 'orders', arn: 'arn:aws:iam::123456789012:role/orders', apps: ['*'], scopes: ['read', 'refresh'] }]);

describe('npm start (runLocal), as a new user would try it', () => {
  it.each([
    ['abc', /^Invalid configuration: PORT: must be a port number 0-65535$/],
    ['-1', /^Invalid configuration: PORT: must be a port number 0-65535$/],
    ['70000', /^Invalid configuration: PORT: must be a port number 0-65535$/],
    ['', /^Invalid configuration: PORT: must be a port number 0-65535$/],
  ])('PORT=%j is refused naming PORT', async (port, message) => {
    await expect(runLocal({ PORT: port, LOG_LEVEL: 'SILENT' }, () => {})).rejects.toThrow(message);
  });

  it('LOG_LEVEL=VERBOSE is refused naming LOG_LEVEL and the levels', async () => {
    await expect(runLocal({ PORT: '0', LOG_LEVEL: 'VERBOSE' }, () => {})).rejects.toThrow(
      /^Invalid configuration: LOG_LEVEL: must be one of DEBUG, INFO, WARN, ERROR, SILENT$/,
    );
  });

  it('REFRESH_MARGIN longer than a token lives is refused', async () => {
    await expect(runLocal({ PORT: '0', LOG_LEVEL: 'SILENT', REFRESH_MARGIN: '9000' }, () => {})).rejects.toThrow(/REFRESH_MARGIN: must be less than 7200/);
  });

  it('with HUB_AUTH=iam prints no demo key and no curl line, but that requests must be SigV4-signed and cannot be authenticated here', async () => {
    const lines: string[] = [];
    const hub = await runLocal({ PORT: '0', LOG_LEVEL: 'silent', HUB_AUTH: 'iam', HUB_IAM_PRINCIPALS: PRINCIPALS }, (l) => lines.push(l));
    try {
      const text = lines.join('\n');
      expect(lines[0]).toBe(`wechat-token-hub is running at ${hub.url}`);
      expect(text).not.toMatch(/Demo API key|Bearer|curl|hub_[A-Za-z0-9_-]{16,}/);
      expect(text).toMatch(/SigV4-signed by a principal in HUB_IAM_PRINCIPALS \(orders\)/);
      expect(text).toMatch(/not emulated locally/);
      expect(text).toMatch(/cannot authenticate any request: every route that needs a caller answers 401 \(only GET \/v1\/health answers\)/);
      // What it says is so: a request, even one that carries a key, is refused.
      for (const path of ['/v1/apps/demo/access-token', '/v1/apps/demo/tickets/jsapi', '/v1/apps/demo/wechat/cgi-bin/getcallbackip', '/v1/status']) {
        const res = await request(`${hub.url}${path}`, { headers: { authorization: 'Bearer hub_some_key_someone_has_0000' } });
        const body = (await res.body.json()) as { error: { code: string; message: string } };
        expect([path, res.statusCode, body.error.code]).toEqual([path, 401, 'unauthorized']);
        expect(body.error.message).toMatch(/IAM-signed \(SigV4\)/);
      }
      const health = await request(`${hub.url}/v1/health`);
      await health.body.dump();
      expect(health.statusCode).toBe(200);
      const compat = await request(`${hub.url}/cgi-bin/token?grant_type=client_credential&appid=wx_demo_app&secret=hub_some_key_someone_has_0000`);
      const answer = (await compat.body.json()) as { errcode?: number; access_token?: string };
      expect(answer.access_token).toBeUndefined();
      expect(answer.errcode).toBe(40125);
    } finally {
      await hub.close();
    }
  });

  it('takes LOG_LEVEL and PORT from the configuration (lowercase level, PORT=0 a free port)', async () => {
    const lines: string[] = [];
    const hub = await runLocal({ PORT: '0', LOG_LEVEL: 'error' }, (l) => lines.push(l));
    try {
      expect(hub.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(hub.url).not.toMatch(/:3000$/);
      expect(lines.join('\n')).toMatch(/Demo API key/);
    } finally {
      await hub.close();
    }
  });
});
