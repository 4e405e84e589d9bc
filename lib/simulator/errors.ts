/** errmsg texts the simulator answers with: WeChat's (api.weixin.qq.com) and WeCom's (qyapi.weixin.qq.com). */

export const WECHAT_ERRMSG: Readonly<Record<number, string>> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40003: 'invalid openid',
  40013: 'invalid appid',
  40029: 'invalid code',
  40030: 'invalid refresh_token',
  40097: 'invalid args',
  40125: 'invalid appsecret',
  40164: 'invalid ip 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in whitelist rid: 0000',
  40226: 'high risk user, login is blocked',
  41001: 'access_token missing',
  41002: 'appid missing',
  41004: 'appsecret missing',
  41008: 'missing code',
  42001: 'access_token expired',
  43001: 'require GET method',
  43002: 'require POST method',
  45009: 'reach max api daily quota limit',
  45011: 'api minute-quota reach limit mustslower retry next minute',
  47001: 'data format error',
  48001: 'api unauthorized',
  61003: 'component is not authorized by this account',
  61005: 'component ticket is expired',
  61006: 'component ticket is invalid',
  61009: 'code is invalid',
  61010: 'code is expired',
  61011: 'invalid component',
  61023: 'refresh_token is invalid',
};

export const WECOM_ERRMSG: Readonly<Record<number, string>> = {
  [-1]: 'system busy',
  40001: 'invalid secret',
  40013: 'invalid corpid',
  40014: 'invalid access_token',
  40058: 'invalid parameter',
  41001: 'access_token missing',
  41002: 'corpid missing',
  41004: 'corpsecret missing',
  42001: 'access_token expired',
  45009: 'api freq out of limit',
  48001: 'api unauthorized',
  60020: 'not allow to access from your ip',
};

export type ErrmsgTable = Readonly<Record<number, string>>;

export function errorBody(table: ErrmsgTable, errcode: number): { errcode: number; errmsg: string } {
  return { errcode, errmsg: table[errcode] ?? 'error' };
}
