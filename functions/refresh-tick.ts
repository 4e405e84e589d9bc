import { hubFromEnvironment } from '../lib/hub-core.js';
import type { TickOutcome } from '../lib/refresher.js';

/** EventBridge rate(5 minutes): refresh every credential of every app that is due. */
export const handler = async (): Promise<{ outcomes: TickOutcome[] }> => ({
  outcomes: await (await hubFromEnvironment()).tick(),
});
