import CoWechatAPI from 'co-wechat-api';
import { OfficialAccount } from 'node-easywechat';
import { ApiConfig, ApiConfigKit, DefaultCache, HttpKit, UserApi, WeChat, type HttpDelegate } from 'tnwx';
import WechatAPI from 'wechat-api';

/**
 * The four unmodified Node SDKs from npm, each configured as docs/sdks.md says (the hub's URL as
 * its API base, a hub key with the read scope as its "secret"), behind one small interface: an
 * ordinary API call (GET /cgi-bin/user/info) and a JS-SDK signature made the SDK's own way (its
 * own ticket cache, its own signing code). Nothing here changes how an SDK caches or retries.
 */

export const SDK_NAMES = ['co-wechat-api', 'wechat-api', 'node-easywechat', 'tnwx'] as const;
export type SdkName = (typeof SDK_NAMES)[number];

/** What the service saw of one API call, after the SDK's own retries. */
export interface ApiOutcome {
  ok: boolean;
  /** WeChat's errcode, when the SDK gave one (returned or thrown). */
  errcode?: number;
}

/** The wx.config fields the SDK produced for a page. */
export interface SignedPage {
  nonceStr: string;
  timestamp: string | number;
  signature: string;
}

export interface SdkUnderTest {
  name: SdkName;
  /** GET /cgi-bin/user/info?openid=… through the SDK. */
  getUser(openid: string): Promise<ApiOutcome>;
  /** The SDK's JS-SDK signature of `url` (wx.config), with the ticket it holds or fetches. */
  signPage(url: string): Promise<SignedPage>;
}

export interface SdkSetup {
  /** The hub's base URL, no trailing slash (http://127.0.0.1:3000). */
  base: string;
  appid: string;
  /** A hub API key with the read scope on the app: the SDK's "AppSecret". */
  key: string;
}

export function makeSdk(name: SdkName, setup: SdkSetup): SdkUnderTest {
  switch (name) {
    case 'co-wechat-api':
      return coWechatApi(setup);
    case 'wechat-api':
      return wechatApi(setup);
    case 'node-easywechat':
      return nodeEasyWechat(setup);
    case 'tnwx':
      return tnwx(setup);
  }
}

function outcomeOf(body: unknown): ApiOutcome {
  const errcode = (body as { errcode?: unknown } | null)?.errcode;
  return typeof errcode === 'number' && errcode !== 0 ? { ok: false, errcode } : { ok: true };
}

function outcomeOfError(error: unknown): ApiOutcome {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? { ok: false, errcode: code } : { ok: false };
}

/** co-wechat-api 3.11: the public `prefix` property; a shared token store is the caller's (here, memory). */
export function coWechatApi({ base, appid, key }: SdkSetup): SdkUnderTest {
  let stored: { accessToken: string; expireTime: number } | null = null;
  const api = new CoWechatAPI(appid, key, async () => stored, async (t) => void (stored = t));
  api.prefix = `${base}/cgi-bin/`;
  return {
    name: 'co-wechat-api',
    getUser: (openid) => api.getUser({ openid, lang: 'en' }).then(outcomeOf, outcomeOfError),
    signPage: (url) => api.getJsConfig({ url, debug: false, jsApiList: ['updateAppMessageShareData'] }),
  };
}

/**
 * wechat-api 1.35: setEndpoint(domain) builds `https://` + domain, so it cannot name an http hub (nor
 * a port-and-scheme choice of one's own). Every token, ticket and API URL is built from the public
 * `endpoint` property that setEndpoint sets, so the hub's URL is assigned to it directly.
 * (`mpPrefix`, showqrcode, and `fileServerPrefix`, uploadimg/uploadvideo, are separate properties
 * that neither touches.)
 */
export function wechatApi({ base, appid, key }: SdkSetup): SdkUnderTest {
  const api = new WechatAPI(appid, key); // its default token store: the instance's memory
  api.endpoint = base;
  return {
    name: 'wechat-api',
    getUser: (openid) =>
      new Promise((resolve) => api.getUser({ openid, lang: 'en' }, (err, data) => resolve(err ? outcomeOfError(err) : outcomeOf(data)))),
    signPage: (url) =>
      new Promise((resolve, reject) => api.getJsConfig({ url, debug: false, jsApiList: ['updateAppMessageShareData'] }, (err, cfg) => (err ? reject(err) : resolve(cfg)))),
  };
}

/**
 * A node-easywechat cache kept in memory, with the lifetimes the SDK asks for (seconds), as Redis'
 * SET … EX would keep them. Its default FileCache writes `<prefix>.access_token.<appid>.<secret>…`
 * files into the working directory: with a hub key as the secret, the key would be in a file name.
 */
export function memoryCache(now: () => number = () => Date.now()) {
  const entries = new Map<string, { value: unknown; until: number }>();
  const live = (k: string) => {
    const e = entries.get(k);
    if (e && now() < e.until) return e;
    entries.delete(k);
    return undefined;
  };
  return {
    get: async (k: string) => live(k)?.value ?? null,
    has: async (k: string) => live(k) !== undefined,
    set: async (k: string, value: unknown = null, lifetime = 0) => {
      entries.set(k, { value, until: lifetime > 0 ? now() + lifetime * 1000 : Infinity });
      return true;
    },
    delete: async (k: string) => entries.delete(k),
  };
}

/**
 * node-easywechat 3.6: `http: { baseURL }` (its axios base), a memory cache instead of its file cache,
 * and a token cache key without the secret in it.
 */
export function nodeEasyWechat({ base, appid, key }: SdkSetup): SdkUnderTest {
  const app = new OfficialAccount({ app_id: appid, secret: key, token: '', aes_key: '', http: { baseURL: `${base}/` } } as ConstructorParameters<typeof OfficialAccount>[0]);
  app.setCache(memoryCache() as unknown as Parameters<typeof app.setCache>[0]);
  // Its token's cache key is `official_account.access_token.<appid>.<secret>.0`: keep the key out of it.
  (app.getAccessToken() as unknown as { setKey(key: string): unknown }).setKey(`official_account.access_token.${appid}`);
  return {
    name: 'node-easywechat',
    getUser: async (openid) => {
      try {
        const res = await app.getClient().get('cgi-bin/user/info', { params: { openid, lang: 'en' } });
        return outcomeOf(res.toObject());
      } catch (error) {
        return outcomeOfError(error);
      }
    },
    signPage: async (url) => {
      const cfg = await app.getTicket().configSignature(url);
      return { nonceStr: cfg.nonceStr, timestamp: cfg.timestamp, signature: cfg.signature };
    },
  };
}

/**
 * A tnwx HttpDelegate that sends every request to the hub instead of api.weixin.qq.com (tnwx has
 * no base-URL option: its URLs are absolute constants), passing the rest to tnwx's own axios kit.
 */
export class HubHostDelegate implements HttpDelegate {
  readonly #inner: HttpDelegate;
  readonly #base: string;
  constructor(base: string, inner: HttpDelegate) {
    this.#base = base;
    this.#inner = inner;
  }
  #to(url: string): string {
    return url.replace(/^https?:\/\/api\.weixin\.qq\.com(?=\/)/, this.#base);
  }
  httpGet(url: string, options?: unknown) {
    return this.#inner.httpGet(this.#to(url), options);
  }
  httpGetToResponse(url: string, options?: unknown) {
    return this.#inner.httpGetToResponse(this.#to(url), options);
  }
  httpPost(url: string, data: string, options?: unknown) {
    return this.#inner.httpPost(this.#to(url), data, options);
  }
  httpPostToResponse(url: string, data: string, options?: unknown) {
    return this.#inner.httpPostToResponse(this.#to(url), data, options);
  }
  httpDeleteToResponse(url: string, options?: unknown) {
    return this.#inner.httpDeleteToResponse(this.#to(url), options);
  }
  httpPostWithCert(url: string, data: string, certFileContent: Buffer, passphrase: string) {
    return this.#inner.httpPostWithCert(this.#to(url), data, certFileContent, passphrase);
  }
  upload(url: string, filePath: string, params?: string) {
    return this.#inner.upload(this.#to(url), filePath, params);
  }
  uploadToResponse(url: string, filePath: string, data: string, options?: unknown) {
    return this.#inner.uploadToResponse(this.#to(url), filePath, data, options);
  }
  httpPutToResponse(url: string, data: string, options?: unknown) {
    return this.#inner.httpPutToResponse(this.#to(url), data, options);
  }
}

/**
 * tnwx 2.5: process-wide configuration (one current app), so one tnwx per test process. Its
 * default cache (memory) and its own token handling; HttpKit.setHttpDelegate (a static setter)
 * points it at the hub.
 */
let tnwxDelegate: HttpDelegate | undefined;
export function tnwx({ base, appid, key }: SdkSetup): SdkUnderTest {
  tnwxDelegate ??= HttpKit.getHttpDelegate; // tnwx's own AxiosHttpKit, kept across setups
  HttpKit.setHttpDelegate = new HubHostDelegate(base, tnwxDelegate);
  ApiConfigKit.setCache = new DefaultCache();
  ApiConfigKit.putApiConfig(new ApiConfig(appid, key, 'hub-test-token'));
  ApiConfigKit.setCurrentAppId(appid);
  return {
    name: 'tnwx',
    getUser: (openid) => UserApi.getUserInfo(openid, 'en').then(outcomeOf, outcomeOfError),
    signPage: async (url) => {
      const nonceStr = Math.random().toString(36).slice(2, 12);
      const timestamp = String(Math.floor(Date.now() / 1000));
      return { nonceStr, timestamp, signature: await WeChat.jssdkSignature(nonceStr, timestamp, url) };
    },
  };
}
