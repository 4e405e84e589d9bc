/**
 * A third-party platform for the platform benchmarks (bench/platform-day.ts, bench/platform-scale.ts):
 * the simulator's platform, the hub configured with that platform only, a container behind a local
 * server as WeChat's event URL (its own metered DynamoDB client: the platform function's cost),
 * the first ticket pushed. Other containers (the tick, the readers) are made with their own meters.
 */
import type { Hub, HubDeps } from '../lib/hub.js';
import { hashApiKey } from '../lib/http/auth.js';
import { createLocalServer } from '../lib/http/local-server.js';
import { ManualClock } from '../test/support/manual-clock.js';
import { listen } from '../test/support/listen.js';
import { authorizerEvent, AUTHORIZERS_KEY, COMPONENT, PLATFORM, PLATFORM_AES, PLATFORM_NAME, PLATFORM_SECRET, PLATFORM_TOKEN } from '../test/support/platform-world.js';
import { sharedDynalite, startWorld, type World } from '../test/support/world.js';
import { emptyMeter, meteredClient, type Meter } from './ddb-meter.js';

export { COMPONENT, PLATFORM_NAME };

export interface PlatformBench {
  world: World;
  /** Every DynamoDB request of every container; and those of the event URL's container alone. */
  all: Meter;
  events: Meter;
  /** A new container (a Lambda container of its own) counted in `meter` and in `all`. */
  container(meter: Meter, env?: Record<string, string>, deps?: Partial<HubDeps>): Hub;
  /** Authorize `appids` through the event URL (`parallel` pushes at a time); throws unless each was answered `success`. */
  authorizeAll(appids: readonly string[], parallel: number): Promise<void>;
  /** A read of an authorizer's token: GET /v1/platforms/{name}/authorizers/{appid}/access-token. */
  readToken(hub: Hub, appid: string): Promise<{ status: number; token?: string }>;
  close(): Promise<void>;
}

export async function startPlatformBench(options: { clock: ManualClock; env?: Record<string, string> }): Promise<PlatformBench> {
  const world = await startWorld({ clock: options.clock, store: 'dynamo' });
  const endpoint = (await sharedDynalite()).endpoint;
  world.sim.addPlatform({ appid: COMPONENT, secret: PLATFORM_SECRET, token: PLATFORM_TOKEN, aesKey: PLATFORM_AES });
  const secrets = { P_SECRET: PLATFORM_SECRET, P_TOKEN: PLATFORM_TOKEN, P_AES: PLATFORM_AES };
  for (const [k, v] of Object.entries(secrets)) world.setSecret(k, v);
  const env = {
    HUB_APPS: JSON.stringify([PLATFORM]),
    HUB_API_KEYS: JSON.stringify([{ name: 'authorizers', sha256: hashApiKey(AUTHORIZERS_KEY), apps: [`${PLATFORM_NAME}/*`], scopes: ['read', 'refresh'] }]),
    ...secrets,
    ...options.env,
  };
  const all = emptyMeter();
  const events = emptyMeter();
  const clients: { destroy(): void }[] = [];
  const container = (meter: Meter, extra: Record<string, string> = {}, deps: Partial<HubDeps> = {}) => {
    const dynamodb = meteredClient(endpoint, meter, meter === all ? [] : [all]);
    clients.push(dynamodb);
    // WeChat's attempt timeout as in production (5 s; the test world's 300 ms would retry calls a busy machine answers late).
    return world.container({ ...env, ...extra }, { dynamodb, wechatTimeouts: {}, ...deps });
  };
  const eventHub = container(events);
  const server = await listen(createLocalServer(eventHub));
  world.sim.setEventUrl(COMPONENT, `${server.url}/v1/platforms/${PLATFORM_NAME}/events`);
  const pushed = await world.sim.pushTicket(COMPONENT);
  if (pushed.status !== 200) throw new Error(`the hub did not take the ticket: ${pushed.status}`);

  return {
    world,
    all,
    events,
    container,
    async authorizeAll(appids, parallel) {
      let next = 0;
      const worker = async () => {
        while (next < appids.length) {
          const appid = appids[next++]!;
          const { push } = await world.sim.authorize(COMPONENT, appid);
          if (push.status !== 200 || push.body !== 'success') throw new Error(`the authorization of ${appid} was answered ${push.status} ${push.body}`);
        }
      };
      await Promise.all(Array.from({ length: parallel }, worker));
    },
    async readToken(hub, appid) {
      const res = await hub.getToken(authorizerEvent(appid, '/access-token', '/access-token', { key: AUTHORIZERS_KEY }));
      if (res.statusCode !== 200) return { status: res.statusCode ?? 0 };
      return { status: 200, token: (JSON.parse(res.body!) as { access_token: string }).access_token };
    },
    async close() {
      await server.close();
      await world.close();
      for (const c of clients) c.destroy();
    },
  };
}

/** The benchmarks' authorizer appids (`wxa000000000000042`: wx-like, 18 characters). */
export const authorizerAppid = (i: number): string => `wxa${String(i).padStart(15, '0')}`;
