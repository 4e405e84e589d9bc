// Locally on Node 20 the AWS SDK warns that it will need Node 22 in 2027; Lambda runs nodejs22.x.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { ConfigurationInvalidError, runLocal } from '../lib/local/run-local.js';

try {
  const hub = await runLocal(process.env, (line) => console.log(line));
  const stop = () => void hub.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  if (error instanceof ConfigurationInvalidError) {
    console.error(error.message);
  } else {
    console.error(`wechat-token-hub could not start: ${error instanceof Error ? error.message : String(error)}`);
  }
  process.exit(1);
}
