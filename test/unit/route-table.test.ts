import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { allowedMethods, matchRoute, ROUTES, routeKeyOf, routesOf, type FunctionName } from '../../lib/http/routes.js';

/**
 * serverless.yml against THE route table (lib/http/routes.ts), both ways: a route added to one and
 * not the other fails here. The route's AuthorizationType override (resources.extensions) must say
 * what the table's `authorizer` flag says.
 */
const require = createRequire(import.meta.url);
const yaml = require('js-yaml') as { load(text: string): unknown };
/** The framework's own naming of a route's CloudFormation resource (HttpApiRouteGetV1Status). */
const naming = require('osls/lib/plugins/aws/lib/naming.js') as { getHttpApiRouteLogicalId(routeKey: string): string };

interface HttpApiEvent { httpApi?: { method?: string; path?: string } | string }
interface Sls {
  functions: Record<string, { handler: string; events?: (HttpApiEvent & Record<string, unknown>)[] }>;
  resources: { extensions?: Record<string, { Properties?: { AuthorizationType?: string } }> };
}
const sls = yaml.load(readFileSync(new URL('../../serverless.yml', import.meta.url), 'utf8')) as Sls;

/** Every httpApi event of serverless.yml, as `METHOD /path` with its function (method `*` is API Gateway's ANY). */
const events = Object.entries(sls.functions).flatMap(([fn, f]) =>
  (f.events ?? []).flatMap((e) => {
    if (!('httpApi' in e)) return [];
    const h = e.httpApi;
    if (typeof h === 'string') return [{ fn, key: h === '*' ? '*' : h.replace(/^\*/, 'ANY') }];
    const method = String(h?.method ?? '*').toUpperCase();
    return [{ fn, key: `${method === '*' ? 'ANY' : method} ${h?.path}` }];
  }),
);
const STAGE_AUTHORIZER = '${self:custom.routeAuthorization.${param:authorizer}}';

describe('the route table and serverless.yml', () => {
  it('every table route is an httpApi event of its function, with its method and path', () => {
    for (const r of ROUTES) {
      expect(events, routeKeyOf(r)).toContainEqual({ fn: r.function, key: routeKeyOf(r) });
    }
  });

  it('no httpApi event is missing from the table, and none is there twice', () => {
    const table = ROUTES.map((r) => ({ fn: r.function as string, key: routeKeyOf(r) }));
    for (const e of events) expect(table, `${e.fn}: ${e.key}`).toContainEqual(e);
    expect(new Set(events.map((e) => e.key)).size).toBe(events.length);
    expect(events).toHaveLength(ROUTES.length);
  });

  it('the functions with routes are the table\'s; refreshTick has none', () => {
    const withRoutes = new Set(events.map((e) => e.fn));
    expect([...withRoutes].sort()).toEqual([...new Set(ROUTES.map((r) => r.function))].sort());
    expect(withRoutes.has('refreshTick')).toBe(false);
    expect(Object.keys(sls.functions).sort()).toEqual([...withRoutes, 'refreshTick'].sort());
  });

  it('each route\'s AuthorizationType override says what its authorizer flag says', () => {
    const extensions = sls.resources.extensions ?? {};
    for (const r of ROUTES) {
      const id = naming.getHttpApiRouteLogicalId(routeKeyOf(r));
      const type = extensions[id]?.Properties?.AuthorizationType;
      // Without an authorizer: NONE, or no override (a route without an authorizer is NONE).
      if (r.authorizer) expect(type, `${routeKeyOf(r)} (${id})`).toBe(STAGE_AUTHORIZER);
      else expect([undefined, 'NONE'], `${routeKeyOf(r)} (${id})`).toContain(type);
    }
    // And no override of a route the table does not have.
    const ids = new Set(ROUTES.map((r) => naming.getHttpApiRouteLogicalId(routeKeyOf(r))));
    for (const id of Object.keys(extensions).filter((k) => k.startsWith('HttpApiRoute'))) expect(ids, id).toContain(id);
  });

  it('only the compat paths, health, a platform\'s event URL (WeChat calls it; the push is signed) and its authorization page (a browser comes back with WeChat\'s code) go without the authorizer, and they check no Authorization header', () => {
    const open = ROUTES.filter((r) => !r.authorizer).map((r) => r.function === 'compat' ? 'compat' : routeKeyOf(r));
    expect([...new Set(open)]).toEqual(['GET /v1/health', 'compat', 'POST /v1/platforms/{name}/events', 'GET /v1/platforms/{name}/authorized']);
    for (const r of ROUTES) expect(r.authorizer, routeKeyOf(r)).toBe(r.scope !== 'none');
  });
});

describe('matching a request to the table, as API Gateway does', () => {
  const key = (method: string, path: string) => {
    const m = matchRoute(method, path);
    return m && { key: routeKeyOf(m.route), params: m.params };
  };

  it('prefers a route without a greedy variable, then the longer greedy one', () => {
    expect(key('GET', '/v1/apps/oa/access-token')).toEqual({ key: 'GET /v1/apps/{app}/access-token', params: { app: 'oa' } });
    expect(key('POST', '/v1/apps/oa/tickets/jsapi/refresh')).toEqual({ key: 'POST /v1/apps/{app}/tickets/{type}/refresh', params: { app: 'oa', type: 'jsapi' } });
    expect(key('DELETE', '/v1/apps/oa/wechat/cgi-bin/x')).toEqual({ key: 'ANY /v1/apps/{app}/wechat/{path+}', params: { app: 'oa', path: 'cgi-bin/x' } });
    expect(key('GET', '/cgi-bin/token')?.key).toBe('GET /cgi-bin/token');
    // Another method on a route's path: the catch-all, as API Gateway routes it.
    expect(key('POST', '/cgi-bin/token')).toEqual({ key: 'ANY /{path+}', params: { path: 'cgi-bin/token' } });
    expect(key('DELETE', '/v1/apps/oa/access-token')?.key).toBe('ANY /{path+}');
    expect(key('GET', '/')).toBeUndefined();
  });

  it('knows which methods a hub path has (405 with Allow), and none for other paths', () => {
    expect(allowedMethods('/v1/apps/oa/access-token')).toEqual(['GET']);
    expect(allowedMethods('/v1/health')).toEqual(['GET']);
    expect(allowedMethods('/v2/nothing')).toBeUndefined();
  });

  it('every function but refreshTick has routes', () => {
    const fns: FunctionName[] = ['getToken', 'forceRefresh', 'tickets', 'status', 'compat', 'proxy', 'login'];
    for (const fn of fns) expect(routesOf(fn).length, fn).toBeGreaterThan(0);
  });
});
