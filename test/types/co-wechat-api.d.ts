/** The part of co-wechat-api (an unmodified npm SDK, used as WeChat's own users use it) that the tests call. */
declare module 'co-wechat-api' {
  interface Token {
    accessToken: string;
    expireTime: number;
    isValid(): boolean;
  }
  interface Ticket {
    ticket: string;
    expireTime: number;
  }
  export default class API {
    constructor(
      appid: string,
      appsecret: string,
      getToken?: () => Promise<{ accessToken: string; expireTime: number } | null>,
      saveToken?: (t: { accessToken: string; expireTime: number } | null) => Promise<void>,
    );
    /** Where every call goes: https://api.weixin.qq.com/cgi-bin/ by default. */
    prefix: string;
    /** Where code2Session goes: https://api.weixin.qq.com/sns/ by default. */
    snsPrefix: string;
    code2Session(jsCode: string): Promise<{ openid: string; session_key: string; unionid?: string }>;
    getAccessToken(): Promise<Token>;
    getTicket(type?: string): Promise<Ticket>;
    getLatestTicket(): Promise<Ticket>;
    getIp(): Promise<{ ip_list: string[] }>;
    getUser(options: string | { openid: string; lang?: string }): Promise<Record<string, unknown>>;
    getJsConfig(param: { url: string; debug?: boolean; jsApiList?: string[] }): Promise<{ appId: string; timestamp: string; nonceStr: string; signature: string }>;
  }
}
