import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MINUTE } from '../support/manual-clock.js';
import { makeSdk, SDK_NAMES, type ApiOutcome, type SdkName, type SdkUnderTest } from '../support/sdks.js';
import { CREDENTIAL_PATHS, startStandInHub, STANDIN_APPID, type StandInHub } from '../support/standin-hub.js';
import type { SignatureVerdict } from '../support/standin.js';
import { closeSharedDynalite } from '../support/world.js';

/**
 * The four unmodified Node SDKs from npm (co-wechat-api, wechat-api, node-easywechat, tnwx),
 * each pointed at its own hub as docs/sdks.md says, each hub in front of its own independent WeChat
 * stand-in (test/support/standin.ts), walked together through 6 virtual hours on one clock:
 * vitest fakes Date only, so the SDKs' caches (Date.now()), the hub (a Clock reading Date.now())
 * and the stand-in see the same time, while sockets and timers stay real.
 *
 * Every virtual minute each SDK makes an ordinary API call (GET /cgi-bin/user/info) and signs a
 * page for wx.config with its own ticket cache; every 5 minutes the hub ticks (as EventBridge
 * would). Tokens and tickets live 7200 s; the hub replaces each at 20 minutes left (REFRESH_MARGIN),
 * WeChat drops a replaced token 5 minutes after the new fetch, and a new jsapi_ticket replaces the
 * old one at once. At minute 145 someone outside the hub fetches a token with the AppSecret: the
 * hub's token dies at 150, where the tick's self-heal finds it dead and rotates it, mid-cycle.
 *
 * An SDK caches a token and a ticket for the `expires_in` it is given. These tests hold when every
 * `expires_in` the hub answers is the time until the hub will replace that value, a read that
 * finds a value due refreshes it first, and a call carrying a hub token that was just replaced
 * (here by the self-heal) is served with the current one for the rest of that token's served life.
 */

const START = Date.UTC(2026, 10, 23, 2, 0, 0); // 10:00 in China: the walk stays inside one quota day
const MINUTES = 6 * 60;
const TICK_EVERY = 5;
const OUTSIDE_FETCH_AT = 145;
/** What the hub's schedule needs of WeChat in those 6 hours (fetch minutes). */
const TOKEN_FETCHES_AT = [0, 100, 150, 250, 350]; // first, scheduled, the heal at 150, then 100 minutes after it
const TICKET_FETCHES_AT = [0, 100, 200, 300];

interface Lane {
  sdk: SdkUnderTest;
  world: StandInHub;
  api: { minute: number; outcome: ApiOutcome }[];
  pages: { minute: number; verdict: SignatureVerdict | 'error' }[];
  /** What the tick did, by minute, when it did more than find a value fresh (or a ticket unused). */
  ticks: { minute: number; kind: string; outcome: string }[];
}

const lanes = new Map<SdkName, Lane>();

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(START);
  for (const name of SDK_NAMES) {
    const world = await startStandInHub();
    lanes.set(name, { sdk: makeSdk(name, { base: world.url, appid: STANDIN_APPID, key: world.key }), world, api: [], pages: [], ticks: [] });
  }
  const all = [...lanes.values()];
  for (let minute = 0; minute < MINUTES; minute++) {
    vi.setSystemTime(START + minute * MINUTE);
    if (minute === OUTSIDE_FETCH_AT) for (const l of all) l.world.standin.outsideFetch(STANDIN_APPID);
    if (minute % TICK_EVERY === 0) {
      await Promise.all(
        all.map(async (l) => {
          for (const o of await l.world.hub.tick()) if (o.outcome !== 'fresh') l.ticks.push({ minute, kind: o.kind, outcome: o.outcome });
        }),
      );
    }
    await Promise.all(all.map((l) => step(l, minute)));
  }
}, 120_000);

afterAll(async () => {
  vi.useRealTimers();
  await Promise.all([...lanes.values()].map((l) => l.world.close()));
  await closeSharedDynalite();
});

/** One virtual minute of a service using its SDK: an API call, then a page signature. */
async function step(lane: Lane, minute: number): Promise<void> {
  lane.api.push({ minute, outcome: await lane.sdk.getUser(`o_user_${minute}`).catch(() => ({ ok: false })) });
  const url = `https://shop.example/pay?order=${minute}#top`;
  const page = await lane.sdk.signPage(url.split('#')[0]!).catch(() => undefined);
  lane.pages.push({ minute, verdict: page ? lane.world.standin.verifySignature(STANDIN_APPID, { url, ...page }) : 'error' });
}

/** "minutes 105-119, 205-219" */
function spans(minutes: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < minutes.length; ) {
    let j = i;
    while (j + 1 < minutes.length && minutes[j + 1]! - minutes[j]! <= 1) j++;
    out.push(i === j ? `${minutes[i]}` : `${minutes[i]}-${minutes[j]}`);
    i = j + 1;
  }
  return out.length ? `minutes ${out.join(', ')}` : 'at no minute';
}

const minuteOf = (at: number) => Math.round((at - START) / MINUTE);
const lane = (name: SdkName) => lanes.get(name)!;

describe.each(SDK_NAMES)('%s, unmodified, on the hub\'s WeChat-compatible paths through 6 hours of rotations', (name) => {
  it(`${name} keeps every API call accepted through the hub's scheduled and forced rotations`, () => {
    const { world, api } = lane(name);
    // What the SDK was told on the wire (the hub's own 40001 for a token it no longer serves, or
    // WeChat's, passed on), what WeChat refused, and what the service finally got after the SDK's retries.
    const rejectedOnTheWire = world.edge.filter((a) => !CREDENTIAL_PATHS.has(a.path) && a.errcode !== 0);
    const rejectedByWeChat = world.standin.calls({ kind: 'api' }).filter((c) => c.errcode !== 0);
    const failed = api.filter((c) => !c.outcome.ok);
    const detail = [
      `${rejectedOnTheWire.length} rejected on the wire (${spans(rejectedOnTheWire.map((a) => minuteOf(a.at)))}; errcodes ${[...new Set(rejectedOnTheWire.map((a) => a.errcode))].join(', ') || '-'})`,
      `${rejectedByWeChat.length} by WeChat (${spans(rejectedByWeChat.map((c) => minuteOf(c.at)))})`,
      `${failed.length} failed for the service (${spans(failed.map((c) => c.minute))})`,
    ].join('; ');
    expect({ apiCalls: api.length, rejectedOnTheWire: rejectedOnTheWire.length, rejectedByWeChat: rejectedByWeChat.length, failedForTheService: failed.length }, detail).toEqual({
      apiCalls: MINUTES,
      rejectedOnTheWire: 0,
      rejectedByWeChat: 0,
      failedForTheService: 0,
    });
  });

  it(`${name} signs every page with WeChat's latest jsapi_ticket through the hub's rotations`, () => {
    const { world, pages } = lane(name);
    const wrong = pages.filter((p) => p.verdict !== 'latest');
    const ticketRefusals = world.edge.filter((a) => a.path === '/cgi-bin/ticket/getticket' && a.errcode !== 0);
    const detail = `${wrong.length} pages not signed with the latest ticket (${spans(wrong.map((p) => p.minute))}; ${[...new Set(wrong.map((p) => p.verdict))].join(', ') || '-'}); ${ticketRefusals.length} ticket requests refused (${spans(ticketRefusals.map((a) => minuteOf(a.at)))})`;
    expect({ pages: pages.length, notSignedWithTheLatestTicket: wrong.length, ticketRequestsRefused: ticketRefusals.length }, detail).toEqual({
      pages: MINUTES,
      notSignedWithTheLatestTicket: 0,
      ticketRequestsRefused: 0,
    });
  });

  it(`${name} costs WeChat no token or ticket fetch beyond the hub's own schedule`, () => {
    const { world: { standin }, ticks } = lane(name);
    const fetchMinutes = (kind: 'token' | 'ticket') => standin.calls({ kind }).filter((c) => c.errcode === 0).map((c) => minuteOf(c.at));
    expect({ ticks, tokenFetchesAt: fetchMinutes('token'), ticketFetchesAt: fetchMinutes('ticket'), ...standin.counts(STANDIN_APPID) }).toEqual({
      // All of it is the tick's: the schedule, and the outside fetch found by its probe and healed at 150.
      ticks: [
        ...TOKEN_FETCHES_AT.map((minute) => ({ minute, kind: 'access_token', outcome: minute === OUTSIDE_FETCH_AT + 5 ? 'healed' : 'refreshed' })),
        ...TICKET_FETCHES_AT.map((minute) => ({ minute, kind: 'jsapi_ticket', outcome: 'refreshed' })),
      ].sort((a, b) => a.minute - b.minute || (a.kind < b.kind ? -1 : 1)),
      tokenFetchesAt: TOKEN_FETCHES_AT,
      ticketFetchesAt: TICKET_FETCHES_AT,
      tokenFetches: TOKEN_FETCHES_AT.length,
      outsideFetches: 1,
      ticketFetches: TICKET_FETCHES_AT.length,
    });
  });
});
