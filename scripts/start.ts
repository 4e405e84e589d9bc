// Locally on Node 20 the AWS SDK warns that it will need Node 22 in 2027; Lambda runs nodejs22.x.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { constants } from 'node:os';
import { ConfigurationInvalidError, runLocal, type LocalHub } from '../lib/local/run-local.js';

/** A repeated signal sooner than this is the same Ctrl-C (tsx's CLI relays it to the script again ~30 ms later). */
const REPEAT_MS = 1000;

let hub: LocalHub | undefined;
let stoppingSince: number | undefined;

/** SIGINT (Ctrl-C) or SIGTERM: close the server, the tick, dynalite and the simulator, say so, exit 0. */
function stop(signal: NodeJS.Signals): void {
  if (stoppingSince !== undefined) {
    // A second Ctrl-C while closing stops at once.
    if (Date.now() - stoppingSince < REPEAT_MS) return;
    console.error('wechat-token-hub stopped without closing');
    process.exit(128 + constants.signals[signal]);
  }
  stoppingSince = Date.now();
  // A signal during start-up is handled once the hub is up (below).
  if (hub) close(hub);
}

function close(running: LocalHub): void {
  running.close().then(
    () => {
      console.log('wechat-token-hub stopped');
      process.exit(0);
    },
    (error: unknown) => {
      console.error(`wechat-token-hub did not stop cleanly: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}

// Listening before start-up, so that a signal that comes as the banner is printed is not missed.
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
try {
  hub = await runLocal(process.env, (line) => console.log(line));
  if (stoppingSince !== undefined) close(hub);
} catch (error) {
  if (error instanceof ConfigurationInvalidError) {
    console.error(error.message);
  } else {
    console.error(`wechat-token-hub could not start: ${error instanceof Error ? error.message : String(error)}`);
  }
  process.exit(1);
}
