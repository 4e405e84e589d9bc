'use strict';
/**
 * Local Serverless plugin: fail packaging (and so deploying) when a function's environment
 * variables exceed Lambda's 4 KB limit, instead of a CloudFormation rollback halfway through a
 * deployment. The usual cause is the `apps` stage param (HUB_APPS): the fix is to move the apps to
 * SSM, one parameter per app under /wechat-token-hub/<stage>/apps/ (HUB_APPS_SSM_PATH).
 *
 * Size: provider.environment merged with the function's own environment (as serverless does), each
 * value that is a CloudFormation object ({Ref: TokenTable}, Fn::…) counted as a 64-byte
 * placeholder. Lambda's documented rule is "keys and values"; AWS is known to measure the
 * variables serialized as compact JSON (quotes and escapes included, as LocalStack mirrors), so the
 * check measures that, which is never smaller than keys plus values: a stack it passes fits.
 */
const LIMIT = 4096;
const PLACEHOLDER = 64;

const bytes = (s) => Buffer.byteLength(s, 'utf8');

/** The variables as Lambda receives them, CloudFormation values replaced by a placeholder. */
const materialize = (environment) =>
  Object.fromEntries(
    Object.entries(environment).map(([k, v]) => [k, v !== null && typeof v === 'object' ? 'x'.repeat(PLACEHOLDER) : String(v)]),
  );

/** The size Lambda holds against its 4 KB limit (compact JSON), and keys plus values for comparison. */
const environmentSize = (environment) => {
  const vars = materialize(environment);
  return {
    json: bytes(JSON.stringify(vars)),
    keysAndValues: Object.entries(vars).reduce((n, [k, v]) => n + bytes(k) + bytes(v), 0),
    of: (key) => (key in vars ? bytes(key) + bytes(JSON.stringify(vars[key])) : 0),
  };
};

class CheckEnvSize {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      // First thing in packaging (variables are resolved by then): before the previous package in
      // .serverless is cleaned up and before any bundling.
      'before:package:cleanup': () => this.check(),
    };
  }

  check() {
    const service = this.serverless.service;
    const stage = this.serverless.getProvider('aws').getStage();
    const providerEnv = service.provider.environment || {};
    const over = [];
    for (const name of service.getAllFunctions()) {
      const fn = service.getFunction(name);
      const size = environmentSize({ ...providerEnv, ...(fn.environment || {}) });
      if (size.json > LIMIT) over.push({ name, size });
    }
    if (over.length === 0) return;
    const lines = over.map(({ name, size }) => `  function "${name}": ${size.json} bytes, HUB_APPS ${size.of('HUB_APPS')} of them`);
    throw new this.serverless.classes.Error(
      [
        `Lambda environment too large: a function's environment variables may total ${LIMIT} bytes ` +
          '(counted as the variables\' JSON text: keys and values with their quotes; CloudFormation values as 64 bytes):',
        ...lines,
        `Move the apps to SSM instead of the apps param: one parameter per app under /wechat-token-hub/${stage}/apps/ ` +
          `(the functions read them through HUB_APPS_SSM_PATH), and package with apps='[]'.`,
      ].join('\n'),
      'HUB_ENVIRONMENT_TOO_LARGE',
    );
  }
}

module.exports = CheckEnvSize;
module.exports.environmentSize = environmentSize;
