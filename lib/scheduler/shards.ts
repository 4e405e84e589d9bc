import { createHash } from 'node:crypto';
import type { CredentialKey } from '../store/store.js';

/**
 * The due index is split into this many shards (docs/architecture.md): one query per shard finds
 * what is due, and a tick with more due than one invocation should take hands whole shards to
 * invocations of its own. Fixed: a credential's shard is stored with it.
 */
export const DUE_SHARDS = 16;

/**
 * The shard of a credential: a stable hash of its principal's name, so that principals spread
 * evenly and all credentials of one principal share a shard (one invocation refreshes an app's
 * token before the tickets fetched with it).
 */
export function shardOf(key: CredentialKey): number {
  return createHash('sha256').update(key.app).digest().readUInt32BE(0) % DUE_SHARDS;
}
