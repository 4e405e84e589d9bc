import type { Logger } from '@aws-lambda-powertools/logger';
import type { HubApp, PlatformApp } from '../apps.js';
import { REFRESH_TOKEN_REFUSED } from '../kinds/authorizer.js';
import type { HubMetrics } from '../metrics.js';
import { splitAuthorizerName } from '../principals/authorizers.js';
import type { TickOutcome } from '../scheduler/due.js';
import type { CredentialItem, CredentialKey } from '../store/store.js';
import { NO_TICKET_AGE_SECONDS, ticketAgeSeconds } from './platform-status.js';

/**
 * The authorizers whose refresh in this tick invocation ended in WeChat's 61023 with no current
 * refresh token to recover with (lib/kinds/authorizer.ts): they need re-authorization.
 *
 * Counted from the tick's outcomes rather than by reading every authorizer: such an authorizer's
 * failure (a configuration error, never a block) makes it due again at once, and the tick asks
 * WeChat again every run (every 5 minutes) whatever its backoff, so each tick has exactly one
 * outcome for it, in whichever invocation (the scheduled one or a fan-out shard) took its shard.
 * That costs no read at any number of authorizers, and it stops by itself once the account is
 * authorized again (the authorization stores the new refresh token, or the tick's next try finds
 * it in api_get_authorizer_list). A count per invocation, 0 included, added up by the alarm over
 * its period, needs no state across invocations (a gauge of "authorizers in that state now" would
 * need every authorizer read, or a tally kept in the table). An authorizer whose refresh
 * fails earlier (its platform's component token is unavailable) is not counted here: that failure
 * is the refresh-failures alarm's.
 */
export function reauthorizationsNeeded(outcomes: readonly TickOutcome[]): number {
  const names = new Set<string>();
  for (const o of outcomes) {
    if ((o.outcome === 'failed' || o.outcome === 'blocked') && o.kind === 'access_token' && o.code.endsWith(`:${REFRESH_TOKEN_REFUSED}`) && splitAuthorizerName(o.app)) names.add(o.app);
  }
  return names.size;
}

export interface PlatformGaugeDeps {
  metrics: HubMetrics;
  /** The configured apps; nothing is sent without a platform among them. */
  apps: readonly HubApp[];
  read(key: CredentialKey): Promise<CredentialItem | undefined>;
  now(): number;
  log: Logger;
}

/**
 * The platforms' gauges of one tick invocation (README, "Alarms, notifications and the dashboard"):
 * `AuthorizersNeedingReauthorization` from every invocation (0 too, so that its alarm clears; the
 * alarm adds up the invocations of a period); and from the scheduled tick only (`scheduled`), each
 * platform's `ComponentVerifyTicketAgeSeconds` (one read per platform) and the hub-wide
 * `MaxComponentVerifyTicketAgeSeconds` the ticket alarm reads. Never throws: a read that fails
 * leaves that platform's gauge out of this tick.
 */
export async function platformGauges(d: PlatformGaugeDeps, outcomes: readonly TickOutcome[], scheduled: boolean): Promise<void> {
  const platforms = d.apps.filter((a): a is PlatformApp => a.type === 'platform');
  if (!d.metrics.enabled || platforms.length === 0) return;
  d.metrics.gauge('AuthorizersNeedingReauthorization', 'Count', reauthorizationsNeeded(outcomes));
  if (!scheduled) return;
  const ages = await Promise.all(
    platforms.map(async (p) => {
      try {
        const age = ticketAgeSeconds(await d.read({ app: p.name, kind: 'component_verify_ticket' }), d.now()) ?? NO_TICKET_AGE_SECONDS;
        d.metrics.platformGauge('ComponentVerifyTicketAgeSeconds', p.name, 'Seconds', age);
        return age;
      } catch (error) {
        d.log.warn('tick: could not read a platform\'s ticket for its gauge', { platform: p.name, error: error instanceof Error ? error.name : 'unknown' });
        return undefined;
      }
    }),
  );
  const known = ages.filter((a): a is number => a !== undefined);
  if (known.length) d.metrics.gauge('MaxComponentVerifyTicketAgeSeconds', 'Seconds', Math.max(...known));
}
