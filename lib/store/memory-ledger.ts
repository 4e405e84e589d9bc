import { randomBytes } from 'node:crypto';
import { StoreUnavailableError } from './errors.js';
import type { QuotaCall, QuotaCount, QuotaRefusal } from './store.js';

/**
 * The quota ledger of MemoryCredentialStore (lib/store/memory.ts), row for row as DynamoDB keeps it
 * (lib/store/dynamo-ledger.ts, docs/store.md): `count` and `forced` exist once something was ADDed
 * to them (an absent one passes its limit, as `attribute_not_exists` does), and `attempts` holds the
 * id of every call counted, so that counting an id twice counts once and a take-back is applied once.
 */
interface Row {
  count?: number;
  forced?: number;
  attempts: Set<string>;
  ttl?: number;
}

const rowKey = (app: string, api: string, period: string): string => JSON.stringify([app, api, period]);
const newAttemptId = (): string => randomBytes(6).toString('base64url');
const counts = (row: Row | undefined): QuotaCount => ({ count: row?.count ?? 0, forced: row?.forced ?? 0 });

export class MemoryLedger {
  readonly #rows = new Map<string, Row>();

  count(call: QuotaCall): QuotaCount | QuotaRefusal {
    const forced = call.forcedBudget !== undefined;
    const attemptId = (call.attemptId ??= newAttemptId());
    const k = rowKey(call.app, call.api, call.period);
    const row = this.#rows.get(k);
    if (row?.attempts.has(attemptId)) return { ...counts(row), attemptId }; // counted already: once
    if (forced && row?.forced !== undefined && row.forced >= call.forcedBudget!) return { refused: 'forced_budget' };
    if (call.limit !== undefined && row?.count !== undefined && row.count >= call.limit) return { refused: 'limit' };
    const next = row ?? { attempts: new Set<string>() };
    next.count = (next.count ?? 0) + 1;
    if (forced) next.forced = (next.forced ?? 0) + 1;
    next.attempts.add(attemptId);
    next.ttl = call.ttl;
    this.#rows.set(k, next);
    return { ...counts(next), attemptId };
  }

  uncount(call: QuotaCall): void {
    const forced = call.forcedBudget !== undefined;
    const row = this.#rows.get(rowKey(call.app, call.api, call.period));
    if (call.attemptId !== undefined) {
      // Exactly this call, once; a call not (or no longer) counted changes nothing.
      if (!row?.attempts.delete(call.attemptId)) return;
    } else if (!row) {
      // As DynamoDB's unconditional take-back does: its `attribute_exists(pk)` fails on a missing row.
      throw new StoreUnavailableError('uncountUpstreamCall', Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' }));
    }
    row.count = (row.count ?? 0) - 1;
    if (forced) row.forced = (row.forced ?? 0) - 1;
  }

  read(app: string, api: string, period: string): QuotaCount {
    return counts(this.#rows.get(rowKey(app, api, period)));
  }
}
