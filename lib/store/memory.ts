import { InvalidCursorError } from '../errors.js';
import { MemoryLedger } from './memory-ledger.js';
import type {
  CredentialItem,
  CredentialKey,
  CredentialStore,
  DueEntry,
  FailureRecord,
  LeaseRequest,
  PrincipalRow,
  QuotaCall,
  QuotaCount,
  QuotaRefusal,
  Schedule,
  TokenIndexEntry,
  TokenWrite,
} from './store.js';

/** A credential item with the marks DynamoDB keeps beside it (docs/store.md), which reads do not return. */
interface Stored {
  key: CredentialKey;
  item: CredentialItem;
  releasedBy?: string;
  failedBy?: string;
}

const id = (key: CredentialKey): string => JSON.stringify([key.app, key.kind]);
const copy = <T>(value: T): T => structuredClone(value);
const encode = (position: unknown): string => Buffer.from(JSON.stringify(position)).toString('base64url');
/** A cursor this store gave, of the shape `valid` checks; InvalidCursorError otherwise (as the DynamoDB store). */
function decode<T>(cursor: string, valid: (v: unknown) => v is T): T {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {}
  if (!valid(v)) throw new InvalidCursorError();
  return v;
}
const isDue = (v: unknown): v is { due: Due } => {
  const d = (v as { due?: unknown } | null)?.due;
  return Array.isArray(d) && d.length === 3 && typeof d[0] === 'number' && typeof d[1] === 'string' && typeof d[2] === 'string';
};
const isName = (v: unknown): v is { principal: string } => typeof (v as { principal?: unknown } | null)?.principal === 'string';

type Due = [dueAt: number, app: string, kind: string];
const compareDue = (a: Due, b: Due): number => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0);

function unset(item: CredentialItem, fields: (keyof CredentialItem)[]): void {
  for (const f of fields) delete item[f];
}

function setSchedule(item: CredentialItem, schedule: Schedule | undefined): void {
  if (schedule === undefined) return;
  item.dueAt = schedule.dueAt;
  item.shard = schedule.shard;
}

/**
 * The credential store in memory, with exactly the semantics of DynamoCredentialStore
 * (lib/store/dynamodb.ts, docs/store.md): the same conditions, the same fields SET and REMOVEd, and
 * the same answers to a request repeated by its owner (or with its attemptId) as DynamoDB gives a
 * retry whose first answer was lost, recognised by the same marks. For tests (the scenario tests
 * run on both stores) and anything else that needs a hub without DynamoDB; one process only.
 * Every operation is applied at once (atomically: JavaScript runs one at a time), and every item
 * given or returned is copied, so that no caller shares an object with the store.
 */
export class MemoryCredentialStore implements CredentialStore {
  readonly #items = new Map<string, Stored>();
  readonly #ledger = new MemoryLedger();
  readonly #principals = new Map<string, PrincipalRow>();
  readonly #tokens = new Map<string, TokenIndexEntry>();
  readonly #claims = new Map<string, { until: number; attempt: string }>();
  readonly #meta = new Map<string, Record<string, unknown>>();

  async read(key: CredentialKey): Promise<CredentialItem | undefined> {
    const stored = this.#items.get(id(key));
    return stored && copy(stored.item);
  }

  async acquireLease(key: CredentialKey, req: LeaseRequest): Promise<boolean> {
    const until = req.now + req.leaseMs;
    const stored = this.#items.get(id(key));
    const item = stored?.item;
    const free = item?.leaseUntil === undefined || item.leaseUntil < req.now - (req.skewMs ?? 0);
    if ((item === undefined || item.version === req.seenVersion) && free) {
      const s = stored ?? this.#create(key);
      s.item.leaseOwner = req.owner;
      s.item.leaseUntil = until;
      return true;
    }
    // A repeated request: ours when the lease is the one it set.
    return item?.leaseOwner === req.owner && item.leaseUntil === until;
  }

  async writeToken(key: CredentialKey, w: TokenWrite): Promise<CredentialItem | undefined> {
    const stored = this.#items.get(id(key));
    if (stored === undefined) return undefined;
    const item = stored.item;
    if (item.leaseOwner !== w.owner || item.version !== w.seenVersion) {
      // Fenced off, or our own write repeated: only ours has our owner and our version.
      return item.writtenBy === w.owner && item.version === w.seenVersion + 1 ? copy(item) : undefined;
    }
    Object.assign(item, { value: w.value, expiresAt: w.expiresAt, obtainedAt: w.obtainedAt, version: item.version + 1, failures: 0, writtenBy: w.owner });
    unset(item, ['leaseOwner', 'leaseUntil', 'lastError', 'blockedUntil', 'validatedAt', 'backoffUntil', 'backoffSource']);
    if (w.previousValue !== undefined && w.previousValidUntil !== undefined) {
      Object.assign(item, { previousValue: w.previousValue, previousValidUntil: w.previousValidUntil });
    } else {
      unset(item, ['previousValue', 'previousValidUntil']);
    }
    if (w.replacedValue !== undefined && w.replacedUntil !== undefined) {
      Object.assign(item, { replacedValue: w.replacedValue, replacedUntil: w.replacedUntil });
    } else {
      unset(item, ['replacedValue', 'replacedUntil']);
    }
    if (w.forcedAt !== undefined) item.lastForcedAt = w.forcedAt;
    if (w.secretFingerprint !== undefined) item.secretFingerprint = w.secretFingerprint;
    if (w.refreshedBy !== undefined) item.refreshedBy = w.refreshedBy;
    if (w.state !== undefined) item.state = copy(w.state);
    setSchedule(item, w.schedule);
    return copy(item);
  }

  async releaseLease(key: CredentialKey, owner: string, validatedAt?: number, schedule?: Schedule): Promise<boolean> {
    const stored = this.#items.get(id(key));
    if (stored === undefined) return false;
    if (stored.item.leaseOwner !== owner) return stored.releasedBy === owner; // ours, repeated (the lease is not ours)
    stored.releasedBy = owner;
    if (validatedAt !== undefined) stored.item.validatedAt = validatedAt;
    setSchedule(stored.item, schedule);
    unset(stored.item, ['leaseOwner', 'leaseUntil']);
    return true;
  }

  async renewLease(key: CredentialKey, owner: string, until: number): Promise<boolean> {
    const item = this.#items.get(id(key))?.item;
    if (item === undefined || item.leaseOwner !== owner) return false;
    item.leaseUntil = until;
    return true;
  }

  async recordFailure(key: CredentialKey, f: FailureRecord): Promise<boolean> {
    const stored = this.#items.get(id(key));
    if (stored === undefined) return false;
    const item = stored.item;
    if (item.leaseOwner !== f.owner) {
      // Ours, repeated: our mark, and the error we recorded (counted once).
      return stored.failedBy === f.owner && item.lastError?.at === f.error.at && item.lastError.code === f.error.code;
    }
    item.failures += 1;
    item.lastError = { code: f.error.code, message: f.error.message || '-', at: f.error.at };
    stored.failedBy = f.owner;
    unset(item, ['leaseOwner', 'leaseUntil']);
    if (f.blockedUntil !== undefined) item.blockedUntil = f.blockedUntil;
    if (f.backoffUntil !== undefined) {
      item.backoffUntil = f.backoffUntil;
      if (f.backoffSource !== undefined) item.backoffSource = f.backoffSource;
      else unset(item, ['backoffSource']);
    } else {
      unset(item, ['backoffUntil', 'backoffSource']);
    }
    setSchedule(item, f.schedule);
    return true;
  }

  async countUpstreamCall(call: QuotaCall): Promise<QuotaCount | QuotaRefusal> {
    return this.#ledger.count(call);
  }

  async uncountUpstreamCall(call: QuotaCall): Promise<void> {
    this.#ledger.uncount(call);
  }

  async readQuota(app: string, api: string, period: string): Promise<QuotaCount> {
    return this.#ledger.read(app, api, period);
  }

  async schedule(key: CredentialKey, schedule: Schedule, when: { ifVersion?: number; ifUnscheduled?: boolean; ifExists?: boolean } = {}): Promise<boolean> {
    const stored = this.#items.get(id(key));
    if (when.ifExists && !stored) return false;
    // A missing item is at version 0 and unscheduled: it is created so.
    if (when.ifVersion !== undefined && (stored?.item.version ?? 0) !== when.ifVersion) return false;
    if (when.ifUnscheduled && stored?.item.dueAt !== undefined) return false;
    setSchedule((stored ?? this.#create(key)).item, schedule);
    return true;
  }

  async unschedule(key: CredentialKey): Promise<void> {
    const item = this.#items.get(id(key))?.item;
    if (item) unset(item, ['dueAt', 'shard']);
  }

  async queryDue(shard: number, options: { limit: number; cursor?: string }): Promise<{ entries: DueEntry[]; cursor?: string }> {
    const after = options.cursor === undefined ? undefined : decode(options.cursor, isDue).due;
    const due = [...this.#items.values()]
      .filter((s) => s.item.shard === shard && s.item.dueAt !== undefined)
      .map((s) => ({ s, at: [s.item.dueAt!, s.key.app, s.key.kind] as Due }))
      .filter((d) => after === undefined || compareDue(d.at, after) > 0)
      .sort((a, b) => compareDue(a.at, b.at));
    const page = due.slice(0, Math.max(0, options.limit));
    const entries = page.map((d) => ({ key: copy(d.s.key), item: copy(d.s.item) }));
    return due.length > page.length && page.length > 0 ? { entries, cursor: encode({ due: page.at(-1)!.at }) } : { entries };
  }

  async putPrincipal(row: PrincipalRow): Promise<void> {
    this.#principals.set(row.name, copy(row));
  }

  async getPrincipal(name: string): Promise<PrincipalRow | undefined> {
    return copy(this.#principals.get(name));
  }

  async listPrincipals(options: { limit: number; cursor?: string; prefix?: string }): Promise<{ principals: PrincipalRow[]; cursor?: string }> {
    const after = options.cursor === undefined ? undefined : decode(options.cursor, isName).principal;
    if (after !== undefined && !after.startsWith(options.prefix ?? '')) throw new InvalidCursorError(); // another prefix's list
    const names = [...this.#principals.keys()].filter((n) => (after === undefined || n > after) && n.startsWith(options.prefix ?? '')).sort();
    const page = names.slice(0, Math.max(0, options.limit));
    const principals = page.map((n) => copy(this.#principals.get(n)!));
    return names.length > page.length && page.length > 0 ? { principals, cursor: encode({ principal: page.at(-1) }) } : { principals };
  }

  async deletePrincipal(name: string): Promise<void> {
    this.#principals.delete(name);
  }

  async indexToken(hash: string, entry: TokenIndexEntry): Promise<void> {
    this.#tokens.set(hash, copy(entry));
  }

  async lookupToken(hash: string): Promise<TokenIndexEntry | undefined> {
    return copy(this.#tokens.get(hash));
  }

  async getMeta(name: string): Promise<Record<string, unknown> | undefined> {
    return copy(this.#meta.get(name));
  }

  async putMeta(name: string, doc: Record<string, unknown>): Promise<void> {
    this.#meta.set(name, copy(doc));
  }

  async claimOnce(name: string, c: { now: number; until: number; attempt: string }): Promise<boolean> {
    const standing = this.#claims.get(name);
    if (standing && standing.until >= c.now) return standing.attempt === c.attempt;
    this.#claims.set(name, { until: c.until, attempt: c.attempt });
    return true;
  }

  async releaseOnce(name: string, attempt: string): Promise<void> {
    if (this.#claims.get(name)?.attempt === attempt) this.#claims.delete(name);
  }

  /** A new item as DynamoDB's `if_not_exists(version, 0)` leaves it. */
  #create(key: CredentialKey): Stored {
    const stored: Stored = { key: copy(key), item: { version: 0, failures: 0 } };
    this.#items.set(id(key), stored);
    return stored;
  }
}
