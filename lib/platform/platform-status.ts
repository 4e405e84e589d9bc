import type { PlatformApp } from '../apps.js';
import { TICKET_LIFE_MS } from '../kinds/platform.js';
import { secondsLeft, servable } from '../policy.js';
import { authorizerFromRow, authorizerPrefix } from '../principals/authorizers.js';
import type { CredentialItem, CredentialStore } from '../store/store.js';
import { AUTHORIZER_STATES, authorizerState, type AuthorizerState } from './authorizer-state.js';

/**
 * A configured third-party platform as an operator sees it in GET /v1/status (README, "Third-party
 * platforms"; docs/wechat.md §10): its pushed ticket's age, its component token, and its
 * authorizers counted by state. Never a ticket, a token or a refresh token.
 */

/**
 * How many authorizers one status call counts at most, over all the platforms of its page: each
 * costs its row (read a page of 100 at a time) and its token's item. Past it a platform's counts
 * say `complete: false`; GET /v1/platforms/{name}/authorizers pages through all of them.
 */
export const AUTHORIZERS_COUNTED_PER_CALL = 1000;
const ROWS_PER_PAGE = 100;

/**
 * What the tick's gauge reports for a platform with no ticket at all (none pushed yet, or the item
 * lost): as old as a ticket ever gets (its 12 hours), so that the ticket-age alarm fires for a
 * platform whose event URL never received a push (docs/wechat.md §10).
 */
export const NO_TICKET_AGE_SECONDS = TICKET_LIFE_MS / 1000;

export type AuthorizerCounts = Record<AuthorizerState, number> & {
  /** Authorizers counted (each in exactly one state). */
  counted: number;
  /** False when the count stopped at the call's limit: more authorizers may exist. */
  complete: boolean;
};

export interface PlatformStatus {
  /** The last component_verify_ticket WeChat pushed: `ageSeconds` since WeChat made it (its CreateTime). */
  ticket: { state: 'ok' | 'expired' | 'missing'; ageSeconds?: number; secondsLeft?: number };
  /** The component_access_token's state and life, as in the platform's `credentials`. */
  componentToken: { state: string; secondsLeft?: number };
  /** `list`: the route that pages through every authorizer with its state. */
  authorizers: AuthorizerCounts & { list: string };
}

/** The authorizers budget of one status call, shared by its platforms (taken a page at a time). */
export interface AuthorizerBudget {
  left: number;
}
export const authorizerBudget = (limit = AUTHORIZERS_COUNTED_PER_CALL): AuthorizerBudget => ({ left: limit });

/** The states counted, every state present (0 when none). */
export function tallyAuthorizers(states: Iterable<AuthorizerState>, complete: boolean): AuthorizerCounts {
  const counts = Object.fromEntries(AUTHORIZER_STATES.map((s) => [s, 0])) as Record<AuthorizerState, number>;
  let counted = 0;
  for (const s of states) {
    counts[s]++;
    counted++;
  }
  return { ...counts, counted, complete };
}

/**
 * Seconds since WeChat made the stored ticket (its CreateTime: the ticket kind stores it as
 * expiring TICKET_LIFE_MS after that, lib/kinds/platform.ts), or since the hub stored it when no
 * expiry is known; undefined when there is no ticket.
 */
export function ticketAgeSeconds(item: CredentialItem | undefined, now: number): number | undefined {
  if (!item || item.value === undefined) return undefined;
  const made = item.expiresAt !== undefined ? item.expiresAt - TICKET_LIFE_MS : item.obtainedAt;
  return made === undefined ? undefined : Math.max(0, Math.floor((now - made) / 1000));
}

function ticketStatus(item: CredentialItem | undefined, now: number): PlatformStatus['ticket'] {
  const ageSeconds = ticketAgeSeconds(item, now);
  if (!item || ageSeconds === undefined) return { state: 'missing' };
  const state = servable(item, 0, undefined, now) ? 'ok' : 'expired';
  return { state, ageSeconds, ...(item.expiresAt === undefined ? {} : { secondsLeft: secondsLeft(item.expiresAt, now) }) };
}

/**
 * The platform's authorizers counted by state (lib/platform/authorizer-state.ts), from their rows
 * (`<platform>/` in name order) and each one's access_token item, until the budget is spent.
 */
export async function countAuthorizers(store: Pick<CredentialStore, 'listPrincipals' | 'read'>, platform: PlatformApp, now: number, budget: AuthorizerBudget): Promise<AuthorizerCounts> {
  const states: AuthorizerState[] = [];
  let cursor: string | undefined;
  for (;;) {
    const limit = Math.min(ROWS_PER_PAGE, budget.left);
    if (limit <= 0) return tallyAuthorizers(states, false);
    budget.left -= limit;
    const page = await store.listPrincipals({ limit, prefix: authorizerPrefix(platform.name), ...(cursor === undefined ? {} : { cursor }) });
    // What this page did not use goes back to the call's other platforms.
    budget.left += limit - page.principals.length;
    const apps = page.principals.flatMap((row) => authorizerFromRow(row, platform) ?? []);
    const tokens = await Promise.all(apps.map((a) => store.read({ app: a.name, kind: 'access_token' })));
    states.push(...apps.map((a, i) => authorizerState(a, tokens[i], now)));
    if (page.cursor === undefined || page.principals.length === 0) return tallyAuthorizers(states, true);
    cursor = page.cursor;
  }
}

/** A platform's section of the status view, from its items (already read for its credentials) and its authorizers. */
export async function platformStatus(
  store: Pick<CredentialStore, 'listPrincipals' | 'read'>,
  platform: PlatformApp,
  items: { ticket: CredentialItem | undefined; componentToken: { state: string; secondsLeft?: number } | undefined },
  now: number,
  budget: AuthorizerBudget,
): Promise<PlatformStatus> {
  const authorizers = await countAuthorizers(store, platform, now, budget);
  const token = items.componentToken;
  return {
    ticket: ticketStatus(items.ticket, now),
    componentToken: token ? { state: token.state, ...(token.secondsLeft === undefined ? {} : { secondsLeft: token.secondsLeft }) } : { state: 'missing' },
    authorizers: { ...authorizers, list: `/v1/platforms/${platform.name}/authorizers` },
  };
}
