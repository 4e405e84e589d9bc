import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalServer } from '../../lib/http/local-server.js';
import { captureOutput } from '../support/capture.js';
import { addWebsite, LOGIN_KEY, loginContainer, MP, NO_LOGIN_KEY, OA, SITE } from '../support/login-world.js';
import { listen } from '../support/listen.js';
import { closeSharedDynalite, httpEvent, startWorld } from '../support/world.js';

afterAll(closeSharedDynalite);

describe('login redaction', () => {
  it('no log line or metric of native and compatible logins holds a code, a session_key, a user token, a secret or a key', async () => {
    const logger = new Logger({ serviceName: 'login-redaction', logLevel: 'DEBUG' });
    const world = await startWorld({ logger });
    addWebsite(world);
    const sent: string[] = []; // every code sent, WeChat's or made up
    const { lines } = await captureOutput(async () => {
      const hub = loginContainer(world, {}, { metrics: new Metrics({ namespace: 'LoginRedaction', serviceName: 'login-redaction' }) });
      const server = await listen(createLocalServer(hub));
      const code = (appid: string, user = {}) => {
        const c = world.sim.issueLoginCode(appid, user).code;
        sent.push(c);
        return c;
      };
      const login = (app: string, body: Record<string, string>, key = LOGIN_KEY) =>
        request(`${server.url}/v1/apps/${app}/${'js_code' in body ? 'login' : 'oauth/token'}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.body.text());
      const get = (path: string) => request(`${server.url}${path}`).then((r) => r.body.text());
      try {
        // native: success, used code, -1 retried, -1 lasting, 45011, 40226, a wrong secret, a wrong key, hostile bodies
        const used = code(MP);
        await login('mp', { js_code: used });
        await login('mp', { js_code: used });
        world.sim.failNext({ kind: 'errcode', errcode: -1 }, 2, MP, ['jscode2session']);
        await login('mp', { js_code: code(MP) });
        world.sim.failNext({ kind: 'errcode', errcode: -1 }, 10, MP, ['jscode2session']);
        await login('mp', { js_code: code(MP) });
        world.sim.failNext({ kind: 'errcode', errcode: 45011 }, 1, MP, ['jscode2session']);
        await login('mp', { js_code: code(MP) });
        await login('mp', { js_code: code(MP, { risky: true }) });
        await login('oa', { code: code(OA, { scope: 'snsapi_userinfo' }) });
        await login('site', { code: code(SITE) });
        await login('mp', { js_code: code(MP) }, NO_LOGIN_KEY);
        await login('oa', { js_code: code(OA) });
        const junk = 'made_up_code_0123456789abcdef';
        sent.push(junk);
        await login('mp', { js_code: junk, extra: junk });
        await login('mp', { js_code: `${junk} with spaces` });
        world.setSecret('SECRET_MP', 'wrong-secret-that-must-not-leak');
        await login('mp', { js_code: code(MP) });
        world.setSecret('SECRET_MP', world.secrets.SECRET_MP!);
        // compat: success, errors, the user token's own calls
        await get(`/sns/jscode2session?appid=${MP}&secret=${LOGIN_KEY}&js_code=${code(MP)}&grant_type=authorization_code`);
        await get(`/sns/jscode2session?appid=${MP}&secret=${NO_LOGIN_KEY}&js_code=${code(MP)}`);
        world.sim.failNext({ kind: 'errcode', errcode: 40226 }, 1, MP, ['jscode2session']);
        await get(`/sns/jscode2session?appid=${MP}&secret=${LOGIN_KEY}&js_code=${code(MP)}`);
        const t = JSON.parse(await get(`/sns/oauth2/access_token?appid=${OA}&secret=${LOGIN_KEY}&code=${code(OA, { scope: 'snsapi_userinfo' })}&grant_type=authorization_code`));
        const r = JSON.parse(await get(`/sns/oauth2/refresh_token?appid=${OA}&grant_type=refresh_token&refresh_token=${t.refresh_token}`));
        await get(`/sns/userinfo?access_token=${r.access_token}&openid=${t.openid}`);
        await get(`/sns/auth?access_token=${t.access_token}&openid=${t.openid}`);
        await get(`/sns/auth?access_token=${junk}&openid=${t.openid}`);
        // a Lambda-style call of the login route, with the metrics flushed as the functions do
        await hub.login(httpEvent({ method: 'POST', app: 'mp', key: LOGIN_KEY, path: '/v1/apps/mp/login', routeKey: 'POST /v1/apps/{app}/login', body: { js_code: code(MP) } }));
        await hub.tick();
      } finally {
        await server.close();
        await world.close();
      }
    });
    const logged = lines.join('');
    expect(logged).toContain('request served');
    expect(logged).toContain('request refused');
    expect(logged).toContain('compat request');
    expect(logged).toContain('"CloudWatchMetrics"'); // the metrics were written to the same output
    const forbidden = [...sent, ...world.sim.issuedLoginValues(), ...Object.values(world.secrets), 'wrong-secret-that-must-not-leak', LOGIN_KEY, NO_LOGIN_KEY];
    expect(world.sim.issuedLoginValues().length).toBeGreaterThan(sent.length); // session keys and user tokens were issued too
    for (const f of forbidden) expect(logged).not.toContain(f);
  });
});
