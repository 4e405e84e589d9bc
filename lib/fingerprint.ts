import { createHash } from 'node:crypto';

/** What a log line may say about a token or secret: the first 6 hex characters of its SHA-256. */
export function fingerprint(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return createHash('sha256').update(value).digest('hex').slice(0, 6);
}
