import type { HubApp } from '../apps.js';
import { fingerprint } from '../fingerprint.js';
import type { FetchContext } from './kind.js';

/** The principal's secret; when it cannot be read, the call counted for this fetch was never made. */
export async function secretFor(app: HubApp, ctx: FetchContext): Promise<string> {
  try {
    return await app.getSecret();
  } catch (error) {
    await ctx.onUnsent();
    throw error;
  }
}

/** The fingerprint of the principal's current secret; undefined when it cannot be read (the refresh itself reports that). */
export async function secretFingerprint(app: HubApp): Promise<string | undefined> {
  try {
    return fingerprint(await app.getSecret());
  } catch {
    return undefined;
  }
}
