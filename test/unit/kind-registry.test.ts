import { describe, expect, it } from 'vitest';
import type { HubApp } from '../../lib/apps.js';
import { KindCatalog } from '../../lib/kinds/catalog.js';
import { dependencyOf } from '../../lib/kinds/kind.js';
import { registerKinds } from '../../lib/kinds/registry.js';
import { PRINCIPAL_TYPES } from '../../lib/principals/types.js';
import type { WeChatClient } from '../../lib/wechat/client.js';

/** The kind registry and the principal types as data (lib/kinds/registry.ts, lib/kinds/catalog.ts, lib/principals/types.ts). */
const clients = { wechat: {} as WeChatClient, wecom: {} as WeChatClient };
const common = { tickets: [], compat: false, proxyPaths: [], getSecret: async () => 'not-used' } as const;
const oa: HubApp = { ...common, name: 'oa', type: 'official_account', appid: 'wx_oa_0001', tokenApi: 'classic' };
const mp: HubApp = { ...common, name: 'mp', type: 'mini_program', appid: 'wx_mp_0002', tokenApi: 'stable' };
const crm: HubApp = { ...common, name: 'crm', type: 'wecom', corpid: 'ww_corp_0001', agentid: 1000002 };
const contacts: HubApp = { ...common, name: 'contacts', type: 'wecom', corpid: 'ww_corp_0001' };
const site: HubApp = { ...common, name: 'site', type: 'website', appid: 'wx_site_0009' };

describe('KindCatalog', () => {
  it('refuses a principal type that lists a kind no module registers', () => {
    const types = { ...PRINCIPAL_TYPES, official_account: { platform: 'wechat' as const, kinds: [{ kind: 'wechat/access_token' }, { kind: 'wechat/no_such_ticket' }] } };
    expect(() => new KindCatalog(clients, types)).toThrow(/official_account.*wechat\/no_such_ticket/);
    // A new type whose only kind is unknown is refused too, not silently given no kinds.
    expect(() => new KindCatalog(clients, { ...PRINCIPAL_TYPES, platform: { platform: 'wechat', kinds: [{ kind: 'wechat/component_access_token' }] } })).toThrow(/component_access_token/);
    // The shipped types are all resolvable.
    expect(() => new KindCatalog(clients)).not.toThrow();
  });

  it('kinds of an Official Account are in tick order: the token first, then the tickets fetched with it', () => {
    const kinds = new KindCatalog(clients).kindsOf(oa);
    expect(kinds.map((k) => k.id)).toEqual(['access_token', 'jsapi_ticket', 'wx_card_ticket']);
    expect(kinds[0]!.dependsOn).toBeUndefined();
    for (const k of kinds.slice(1)) expect(dependencyOf(k, oa)).toEqual({ app: 'oa', kind: 'access_token' });
  });

  it('every type lists a kind only after the kind it is fetched with', () => {
    const catalog = new KindCatalog(clients);
    for (const app of [oa, mp, crm, contacts, site]) {
      const ids = catalog.kindsOf(app).map((k) => k.id);
      catalog.kindsOf(app).forEach((k, i) => {
        const dep = dependencyOf(k, app);
        if (dep === undefined || dep.app !== app.name) return;
        expect(ids.indexOf(dep.kind), `${app.name}: ${dep.kind} is listed`).toBeGreaterThanOrEqual(0);
        expect(ids.indexOf(dep.kind), `${app.name}: ${k.id} after ${dep.kind}`).toBeLessThan(i);
      });
    }
  });

  it('a WeCom app without an agentid has no agent_config_ticket; with one it has', () => {
    const catalog = new KindCatalog(clients);
    expect(catalog.kindsOf(contacts).map((k) => k.id)).toEqual(['access_token', 'jsapi_ticket']);
    expect(catalog.kind(contacts, 'agent_config_ticket')).toBeUndefined();
    expect(catalog.kindsOf(crm).map((k) => k.id)).toEqual(['access_token', 'jsapi_ticket', 'agent_config_ticket']);
    expect(catalog.platformOf(crm)).toBe('wecom');
  });

  it('a website app has no kinds, a Mini Program only its token', () => {
    const catalog = new KindCatalog(clients);
    expect(catalog.kindsOf(site)).toEqual([]);
    expect(catalog.kind(site, 'access_token')).toBeUndefined();
    expect(catalog.kindsOf(mp).map((k) => k.id)).toEqual(['access_token']);
    expect(catalog.kind(mp, 'jsapi_ticket')).toBeUndefined();
  });

  it('an unknown principal type has no kinds', () => {
    const odd = { ...oa, type: 'component' } as unknown as HubApp;
    expect(new KindCatalog(clients).kindsOf(odd)).toEqual([]);
  });
});

describe('the kind registry', () => {
  it('registers every kind the principal types list, under platform/kind ids', () => {
    const registry = registerKinds(clients);
    const listed = Object.values(PRINCIPAL_TYPES).flatMap((t) => t.kinds.map((k) => k.kind));
    for (const id of listed) expect(registry.has(id), id).toBe(true);
    for (const [id, kind] of registry) expect(id.endsWith(`/${kind.id}`) || id === 'wechat/mini_program_access_token' || id === 'platform/authorizer_access_token', id).toBe(true);
  });
});
