import type { ServerResponse } from 'node:http';
import type { ErrmsgTable } from './errors.js';
import { answerFault, FaultQueue } from './faults.js';
import { Credential, newTicket, type Issued } from './issuer.js';
import type { SimulatedApp, SimulatedEndpoint, SimulatedTicketType, SimulatedWeComApp, SimulatorOptions } from './types.js';

/** What every simulated app has, WeChat or WeCom. */
interface AppRecordBase {
  /** The appid, or `${corpid}/${agentid}` for a WeCom app. */
  id: string;
  /** `${China day}:${endpoint}` → calls. */
  counts: Map<string, number>;
  tickets: Map<SimulatedTicketType, Credential>;
}

export interface WeChatRecord extends AppRecordBase {
  kind: 'wechat';
  app: SimulatedApp;
  classic: Credential;
  stable: Credential;
  lastStableForceAt?: number;
  /** Authorizer access tokens, per component appid that the account authorized (lib/simulator/platform.ts). */
  authorizer: Map<string, Credential>;
}

/** Every token slot of a WeChat app: its own classic and stable tokens, and those platforms got for it. */
export function weChatSlots(s: WeChatRecord): Credential[] {
  return [s.classic, s.stable, ...s.authorizer.values()];
}

export interface WeComRecord extends AppRecordBase {
  kind: 'wecom';
  app: SimulatedWeComApp;
  token: Credential;
  /** When each ticket (either kind) was issued, for the hourly limits; pruned as the window slides. */
  ticketIssues: number[];
}

export type AppRecord = WeChatRecord | WeComRecord;

export interface Settings {
  tokenTtlMs: number;
  overlapMs: number;
  dailyQuota: number;
  stableDailyQuota: number;
  ticketTtlMs: number;
  wecomTokenOverlapMs: number;
  wecomTicketHourlyPerApp: number;
  wecomTicketHourlyPerCorp: number;
}

export function settingsFrom(options: SimulatorOptions): Settings {
  return {
    tokenTtlMs: (options.tokenTtlSeconds ?? 7200) * 1000,
    overlapMs: options.overlapMs ?? 5 * 60_000,
    dailyQuota: options.dailyQuota ?? 2000,
    stableDailyQuota: options.stableDailyQuota ?? 500_000,
    ticketTtlMs: (options.ticketTtlSeconds ?? 7200) * 1000,
    wecomTokenOverlapMs: options.wecomTokenOverlapMs ?? Number.POSITIVE_INFINITY,
    wecomTicketHourlyPerApp: options.wecomTicketHourlyPerApp ?? 100,
    wecomTicketHourlyPerCorp: options.wecomTicketHourlyPerCorp ?? 400,
  };
}

export function weComId(app: SimulatedWeComApp): string {
  return `${app.corpid}/${app.agentid ?? app.label}`;
}

/** Everything the routes share: the apps, the clock, the counters, pending faults, what was issued. */
export class SimState {
  readonly apps = new Map<string, AppRecord>();
  readonly faults = new FaultQueue();
  readonly issuedTokens: string[] = [];
  readonly issuedTickets: string[] = [];
  /** Every token ever issued → its app's id, so a revoked or expired one is still attributed to its app. */
  readonly #tokenOwners = new Map<string, string>();

  constructor(
    readonly now: () => number,
    readonly settings: Settings,
  ) {}

  addWeChat(app: SimulatedApp): void {
    this.apps.set(app.appid, { kind: 'wechat', id: app.appid, app, classic: new Credential(), stable: new Credential(), authorizer: new Map(), counts: new Map(), tickets: new Map() });
  }

  /** The app is copied: setSecret() changes the simulator's copy, not the caller's object. */
  addWeCom(app: SimulatedWeComApp): void {
    const id = weComId(app);
    this.apps.set(id, { kind: 'wecom', id, app: { ...app }, token: new Credential(Number.POSITIVE_INFINITY), counts: new Map(), tickets: new Map(), ticketIssues: [] });
  }

  record(id: string): AppRecord {
    const s = this.apps.get(id);
    if (!s) throw new Error(`simulator has no app ${id}`);
    return s;
  }

  weChatApps(): WeChatRecord[] {
    return [...this.apps.values()].filter((s): s is WeChatRecord => s.kind === 'wechat');
  }

  weComApps(): WeComRecord[] {
    return [...this.apps.values()].filter((s): s is WeComRecord => s.kind === 'wecom');
  }

  /** The WeChat app whose latest or previous token (classic or stable) this is, valid or not. */
  weChatOwner(token: string): WeChatRecord | undefined {
    return this.weChatApps().find((s) => weChatSlots(s).some((c) => c.holds(token)));
  }

  /** Whether this token of a WeChat app (its own, or one a platform got for it) is valid now. */
  weChatTokenValid(s: WeChatRecord, token: string): boolean {
    const now = this.now();
    return weChatSlots(s).some((c) => c.isValid(token, now));
  }

  /** The app this token was issued to, however long ago, and whether it is still valid or not. */
  issuedTo(token: string): AppRecord | undefined {
    const id = this.#tokenOwners.get(token);
    return id === undefined ? undefined : this.apps.get(id);
  }

  /** The WeCom app that was issued this token, whether it is still valid or not. */
  weComOwner(token: string): WeComRecord | undefined {
    const s = this.issuedTo(token);
    return s?.kind === 'wecom' ? s : undefined;
  }

  isTokenValid(token: string): boolean {
    const now = this.now();
    return [...this.apps.values()].some((s) => (s.kind === 'wechat' ? weChatSlots(s).some((c) => c.isValid(token, now)) : s.token.isValid(token, now)));
  }

  isTicketValid(ticket: string): boolean {
    const now = this.now();
    return [...this.apps.values()].some((s) => [...s.tickets.values()].some((c) => c.isValid(ticket, now)));
  }

  /** Issue a new token into a slot, the earlier ones staying valid for `overlapMs`. */
  issueToken(owner: AppRecord, slot: Credential, value: string, overlapMs: number): Issued {
    const issued = slot.issue(value, this.now(), this.settings.tokenTtlMs, overlapMs);
    this.issuedTokens.push(issued.value);
    this.#tokenOwners.set(issued.value, owner.id);
    return issued;
  }

  /** Issue a new ticket of an app; the previous one stays valid for the overlap. */
  issueTicket(s: AppRecord, type: SimulatedTicketType): Issued {
    let slot = s.tickets.get(type);
    if (!slot) s.tickets.set(type, (slot = new Credential()));
    const issued = slot.issue(newTicket(), this.now(), this.settings.ticketTtlMs, this.settings.overlapMs);
    this.issuedTickets.push(issued.value);
    return issued;
  }

  /** The success body of a ticket API, WeChat's and WeCom's alike. */
  ticketBody(issued: Issued): Record<string, unknown> {
    return { errcode: 0, errmsg: 'ok', ticket: issued.value, expires_in: this.expiresIn(issued) };
  }

  expiresIn(issued: Issued): number {
    return Math.round((issued.expiresAt - this.now()) / 1000);
  }

  count(s: Pick<AppRecord, 'counts'>, endpoint: SimulatedEndpoint | 'stable_token_force'): void {
    const key = `${this.day()}:${endpoint}`;
    s.counts.set(key, (s.counts.get(key) ?? 0) + 1);
  }

  calls(id: string, endpoint: SimulatedEndpoint | 'stable_token_force'): number {
    return this.record(id).counts.get(`${this.day()}:${endpoint}`) ?? 0;
  }

  /** Apply a pending fault; true when the answer has been taken care of. */
  injected(res: ServerResponse, id: string | null, endpoint: SimulatedEndpoint, errmsgs: ErrmsgTable): boolean {
    const fault = this.faults.take(id, endpoint);
    if (!fault) return false;
    answerFault(res, fault, errmsgs);
    return true;
  }

  /** Today's calls per app and endpoint, as /__sim/stats answers. */
  stats(): Record<string, Record<string, number>> {
    const day = this.day();
    const out: Record<string, Record<string, number>> = {};
    for (const [id, s] of this.apps) {
      const mine: Record<string, number> = {};
      for (const [k, v] of s.counts) if (k.startsWith(`${day}:`)) mine[k.slice(day.length + 1)] = v;
      out[id] = mine;
    }
    return out;
  }

  /** The current day in China (UTC+8), which WeChat's daily quotas follow. */
  day(): string {
    return new Date(this.now() + 8 * 3_600_000).toISOString().slice(0, 10);
  }
}
