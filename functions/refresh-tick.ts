import { hubFromEnvironment } from '../lib/hub.js';
import type { TickOutcome } from '../lib/refresher.js';

/** EventBridge rate(5 minutes): refresh every app whose token is due. */
export const handler = async (): Promise<{ outcomes: TickOutcome[] }> => ({
  outcomes: await (await hubFromEnvironment()).tick(),
});
