import { randomBytes } from 'node:crypto';
import { WeChatSimulator } from '../simulator/wechat-simulator.js';

/**
 * `npm start`'s demo (no HUB_APPS): the WeChat simulator with an Official Account, a WeCom app and
 * a third-party platform (docs/wechat.md §10), each with a random secret, and the HUB_APPS naming
 * them. The platform's message token and EncodingAESKey are random too: the simulator encrypts its
 * pushes with them (§10a), the hub reads them from the environment like any secret.
 */

export const DEMO_PLATFORM = 'demo-platform';
export const DEMO_COMPONENT = 'wx_demo_component';
/** The appid the printed lines use for an account that authorizes the demo platform (any appid works). */
export const DEMO_AUTHORIZER = 'wx_demo_authorizer';

export interface Demo {
  simulator: WeChatSimulator;
  /** What runLocal adds to the environment: the API bases, the secrets, HUB_APPS. */
  settings: Record<string, string>;
  /** Once the hub listens: the platform's event URL, its first ticket (so the start's tick fetches its component token at once), the 10-minute ticket timer. */
  listening(hubUrl: string): Promise<void>;
  /** The lines printed about the simulator and the demo platform; `curl`: with the simulator's curl lines (not with HUB_AUTH=iam, where nothing could read the token). */
  notes(hubUrl: string, curl: boolean): string[];
  close(): Promise<void>;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

export async function startDemo(): Promise<Demo> {
  const simulator = new WeChatSimulator();
  const secret = hex(16);
  const wecomSecret = hex(16);
  const platform = { appid: DEMO_COMPONENT, secret: hex(16), token: hex(16), aesKey: randomBytes(32).toString('base64').slice(0, 43) };
  simulator.addApp({ appid: 'wx_demo_app', secret });
  simulator.addWeComApp({ corpid: 'ww_demo_corp', agentid: 1000002, secret: wecomSecret });
  simulator.addPlatform(platform);
  const base = await simulator.listen(0);
  const settings = {
    WECHAT_API_BASE: base,
    WECOM_API_BASE: base, // the simulator answers WeCom's paths too
    HUB_DEMO_SECRET: secret,
    HUB_DEMO_WECOM_SECRET: wecomSecret,
    HUB_DEMO_PLATFORM_SECRET: platform.secret,
    HUB_DEMO_PLATFORM_TOKEN: platform.token,
    HUB_DEMO_PLATFORM_AES_KEY: platform.aesKey,
    HUB_APPS: JSON.stringify([
      { name: 'demo', appid: 'wx_demo_app', type: 'official_account', tokenApi: 'classic', secret: { env: 'HUB_DEMO_SECRET' }, compat: true },
      { name: 'demo-wecom', type: 'wecom', corpid: 'ww_demo_corp', agentid: 1000002, secret: { env: 'HUB_DEMO_WECOM_SECRET' }, compat: true },
      {
        name: DEMO_PLATFORM,
        type: 'platform',
        appid: DEMO_COMPONENT,
        secret: { env: 'HUB_DEMO_PLATFORM_SECRET' },
        token: { env: 'HUB_DEMO_PLATFORM_TOKEN' },
        aesKey: { env: 'HUB_DEMO_PLATFORM_AES_KEY' },
        compat: true,
      },
    ]),
  };
  return {
    simulator,
    settings,
    async listening(hubUrl) {
      simulator.setEventUrl(DEMO_COMPONENT, `${hubUrl}/v1/platforms/${DEMO_PLATFORM}/events`);
      // Answered once the hub took it (a refusal is a status, never a throw); without a ticket the tick asks for one (api_start_push_ticket).
      await simulator.pushTicket(DEMO_COMPONENT);
      simulator.startTicketTimer(); // real time, every 10 minutes, as WeChat
    },
    notes: (hubUrl, curl) => [
      `WeChat and WeCom simulator: ${base} (demo apps "demo", an Official Account, "demo-wecom", and the third-party platform "${DEMO_PLATFORM}"; no HUB_APPS set)`,
      `Demo platform "${DEMO_PLATFORM}" (component appid ${DEMO_COMPONENT}): the simulator pushes its ticket to ${hubUrl}/v1/platforms/${DEMO_PLATFORM}/events now and every 10 minutes.`,
      ...(curl
        ? [
            'An account authorizes it (the simulator pushes the authorized event; the hub registers the account and stores its tokens), and withdraws it (its token route then answers 410):',
            `  curl -s -X POST ${base}/__sim/authorize -d '{"component_appid":"${DEMO_COMPONENT}","authorizer_appid":"${DEMO_AUTHORIZER}"}'`,
            `  curl -s -X POST ${base}/__sim/unauthorize -d '{"component_appid":"${DEMO_COMPONENT}","authorizer_appid":"${DEMO_AUTHORIZER}"}'`,
          ]
        : []),
    ],
    close: () => simulator.close(), // stops the ticket timer too
  };
}
