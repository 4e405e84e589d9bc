'use strict';
/**
 * Local Serverless plugin: fail packaging (and so deploying) when the stack's configuration is
 * invalid, instead of a stack whose every request fails with "Invalid configuration" in AWS. Each
 * function's environment (provider.environment merged with its own, as serverless does) is checked
 * by lib/config/stack.ts, which runs loadConfig, the same schema the functions use at run time, and
 * refuses {"env": …} secrets (nothing sets them in Lambda; secrets are in SSM there).
 *
 * The TypeScript source is loaded with tsx's CommonJS require (a dev dependency, as osls and
 * serverless-esbuild are): scoped to this one call, offline, no build step.
 */
const { require: tsxRequire } = require('tsx/cjs/api');

class CheckConfig {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      // First thing in packaging (variables are resolved by then), before any bundling.
      'before:package:cleanup': () => this.check(),
    };
  }

  check() {
    const { checkStackEnvironment } = tsxRequire('../lib/config/stack.ts', __filename);
    const service = this.serverless.service;
    const providerEnv = service.provider.environment || {};
    const seen = new Set();
    for (const name of service.getAllFunctions()) {
      const environment = { ...providerEnv, ...(service.getFunction(name).environment || {}) };
      const key = JSON.stringify(environment);
      if (seen.has(key)) continue;
      seen.add(key);
      try {
        checkStackEnvironment(environment);
      } catch (error) {
        if (!(error instanceof Error) || error.name !== 'ConfigurationInvalidError') throw error;
        const where = seen.size === 1 ? '' : ` (function "${name}")`;
        throw new this.serverless.classes.Error(`${error.message}${where}\nThe stack was not packaged: fix the configuration and package again.`, 'HUB_INVALID_CONFIGURATION');
      }
    }
  }
}

module.exports = CheckConfig;
