import type { HubApp } from '../apps.js';
import type { CredentialKind } from './kind.js';

/**
 * A kind as the protocol sees a value WeChat pushed (the component_verify_ticket): its one "fetch"
 * returns what the kind's `ingest` made of the push, charged nothing, depending on nothing; the
 * lease, the fence and the write are the protocol's, as for any fetch. Its probe stays: the due
 * index schedules the stored value's probes as for a fetched one (an authorizer's token).
 */
export function pushedKind(kind: CredentialKind, app: HubApp, pushed: unknown, now: number): CredentialKind {
  if (!kind.ingest) throw new Error(`${kind.id} takes no pushed value`);
  const fetched = kind.ingest(app, pushed, now);
  return { ...kind, dependsOn: undefined, charges: () => [], fetch: async () => fetched };
}
