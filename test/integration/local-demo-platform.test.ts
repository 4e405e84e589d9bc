import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runLocal, type LocalHub } from '../../lib/local/run-local.js';

/**
 * `npm start` with no configuration runs a demo third-party platform on the simulator
 * (lib/local/demo.ts): the simulator pushes its ticket to the hub's event URL at start (so the
 * component token is fetched by the start's tick) and every 10 minutes, and the lines it prints
 * drive an authorization and read the account's token with the printed demo key. Only the
 * intervals are faked (setInterval), so that the 10-minute ticket timer can be seen to run.
 */
const COMPONENT = 'wx_demo_component';
const AUTHORIZER = 'wx_demo_authorizer';
let hub: LocalHub;
let lines: string[] = [];
let key: string;

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  lines = [];
  hub = await runLocal({ PORT: '0', LOG_LEVEL: 'SILENT' }, (l) => lines.push(l));
  key = /^Demo API key .*: (hub_\S+)$/m.exec(lines.join('\n'))![1]!;
});
afterAll(async () => {
  await hub?.close();
  vi.useRealTimers();
});

/** The printed line that starts with `curl -s` and contains `marker` (ends with it, when it ends with `$`). */
function curlLine(marker: string): string {
  const end = marker.endsWith('$');
  const m = end ? marker.slice(0, -1) : marker;
  const found = lines.filter((l) => l.trimStart().startsWith('curl -s') && (end ? l.endsWith(m) : l.includes(m)));
  expect(found, `one printed curl line with ${marker}`).toHaveLength(1);
  return found[0]!.trim();
}

/** Runs a printed simulator line (`curl -s -X POST <url> -d '<json>'`). */
async function simCurl(marker: string) {
  const m = /^curl -s -X POST (\S+) -d '(.+)'$/.exec(curlLine(marker));
  expect(m, 'the simulator line is a POST with a JSON body').not.toBeNull();
  const res = await request(m![1]!, { method: 'POST', body: m![2]! });
  return (await res.body.json()) as { errcode: number; push: { status: number; body: string } };
}

/** Runs a printed hub line (`curl -s -H "Authorization: Bearer $HUB_KEY" <url>`) with the printed key. */
async function hubCurl(marker: string) {
  const m = /^curl -s -H "Authorization: Bearer \$HUB_KEY" (\S+)$/.exec(curlLine(marker));
  expect(m, 'the hub line is a GET with the key').not.toBeNull();
  const res = await request(m![1]!, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.statusCode, body: (await res.body.json()) as any };
}

const tickets = () => hub.simulator!.pushes(COMPONENT).filter((p) => p.infoType === 'component_verify_ticket');

describe("npm start's demo platform", () => {
  it('prints the platform, where its events go, and how to drive an authorization', () => {
    const text = lines.join('\n');
    expect(text).toContain(`Demo platform "demo-platform" (component appid ${COMPONENT}): the simulator pushes its ticket to ${hub.url}/v1/platforms/demo-platform/events now and every 10 minutes.`);
    expect(text).toMatch(/^Apps: demo, demo-wecom, demo-platform; /m);
    expect(curlLine('/__sim/authorize')).toContain(`"component_appid":"${COMPONENT}","authorizer_appid":"${AUTHORIZER}"`);
    expect(curlLine('/authorizers/')).toBe(`curl -s -H "Authorization: Bearer $HUB_KEY" ${hub.url}/v1/platforms/demo-platform/authorizers/${AUTHORIZER}/access-token`);
    // The demo's AppSecrets and the platform's message token (32 hex characters each) are never printed.
    expect(text).not.toMatch(/[0-9a-f]{32}/);
  });

  it('pushed a ticket at start, which the hub took, and the start\'s tick fetched the component token with it', async () => {
    expect(tickets()).toHaveLength(1);
    expect([tickets()[0]!.status, tickets()[0]!.body]).toEqual([200, 'success']);
    expect(hub.simulator!.calls(COMPONENT, 'component_token')).toBe(1);
    expect(hub.simulator!.calls(COMPONENT, 'start_push_ticket')).toBe(0);
  });

  it('the printed lines authorize an account, list it and serve its token with the demo key; withdrawn, its token route answers 410', async () => {
    const before = await hubCurl('/authorizers/');
    expect([before.status, before.body.error.code]).toEqual([404, 'unknown_authorizer']);
    const authorized = await simCurl('/__sim/authorize');
    expect([authorized.errcode, authorized.push.status, authorized.push.body]).toEqual([0, 200, 'success']);

    const token = await hubCurl('/authorizers/');
    expect(token.status).toBe(200);
    expect(hub.simulator!.isValid(token.body.access_token)).toBe(true);
    const listed = await hubCurl('/v1/platforms/demo-platform/authorizers$');
    expect(listed.status).toBe(200);
    expect(listed.body.authorizers).toEqual([expect.objectContaining({ appid: AUTHORIZER, state: 'fresh' })]);

    const withdrawn = await simCurl('/__sim/unauthorize');
    expect([withdrawn.errcode, withdrawn.push.status, withdrawn.push.body]).toEqual([0, 200, 'success']);
    const gone = await hubCurl('/authorizers/');
    expect([gone.status, gone.body.error.code]).toEqual([410, 'authorizer_revoked']);
  });

  it('pushes a ticket every 10 minutes, which the hub takes', async () => {
    const sim = hub.simulator!;
    vi.advanceTimersByTime(10 * 60_000 - 1);
    await sim.pushesSettled();
    expect(tickets()).toHaveLength(1);
    vi.advanceTimersByTime(1);
    await sim.pushesSettled();
    expect(tickets()).toHaveLength(2);
    expect([tickets()[1]!.status, tickets()[1]!.body]).toEqual([200, 'success']);
  });
});
