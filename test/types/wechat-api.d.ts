/** The part of wechat-api 1.35 (an unmodified npm SDK, callback style) that the tests call. */
declare module 'wechat-api' {
  type Callback<T> = (err: (Error & { code?: number }) | null, result: T) => void;
  interface StoredToken {
    accessToken: string;
    expireTime: number;
  }
  export default class WechatAPI {
    constructor(
      appid: string,
      appsecret: string,
      getToken?: (callback: Callback<StoredToken | null | undefined>) => void,
      saveToken?: (token: StoredToken, callback: (err: Error | null) => void) => void,
    );
    /**
     * Where every API call goes (https://api.weixin.qq.com, no trailing slash): a public property,
     * set by the constructor; setEndpoint(domain) can only make it https://<domain>.
     */
    endpoint: string;
    /** showqrcode's host (mp.weixin.qq.com): setEndpoint leaves it alone. */
    mpPrefix: string;
    /** uploadimg's and uploadvideo's host (file.api.weixin.qq.com, http): setEndpoint leaves it alone. */
    fileServerPrefix: string;
    setEndpoint(domain: string): void;
    getUser(options: string | { openid: string; lang?: string }, callback: Callback<Record<string, unknown>>): void;
    getIp(callback: Callback<{ ip_list: string[] }>): void;
    getJsConfig(
      param: { url: string; debug?: boolean; jsApiList?: string[] },
      callback: Callback<{ appId: string; timestamp: string; nonceStr: string; signature: string }>,
    ): void;
  }
}
