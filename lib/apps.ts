import type { TokenApi } from './wechat/client.js';

export type AppType = 'official_account' | 'mini_program';

/** A configured WeChat app, with its secret resolved at run time (never held in configuration). */
export interface HubApp {
  /** URL id of the app in the hub's API. */
  name: string;
  appid: string;
  type: AppType;
  tokenApi: TokenApi;
  getSecret(): Promise<string>;
}
