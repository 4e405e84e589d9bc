'use strict';
/**
 * Local Serverless plugin: keep each function's source map beside the package, in
 * <package>/sourcemaps/functions/<handler>.mjs.map (.serverless/sourcemaps/… unless --package names
 * another directory), so that a stack trace from the deployed code can be decoded later.
 *
 * serverless-esbuild writes the maps into its work folder (.esbuild/.build/functions/) and deletes
 * that folder once the zips are made; the zips leave the maps out (package.patterns in
 * serverless.yml). This runs in between: listed after serverless-esbuild in `plugins`, its hook on
 * before:package:createDeploymentArtifacts runs after esbuild's bundling on the same hook and
 * before esbuild's cleanup (after:package:createDeploymentArtifacts). Each map's `sources` are
 * rewritten relative to where the map is kept, so they still point at this checkout's files.
 * Packaging fails when a function has no map: the README promises one.
 */
const fs = require('node:fs');
const path = require('node:path');

class SourceMaps {
  constructor(serverless, options) {
    this.serverless = serverless;
    this.options = options || {};
    this.hooks = {
      'before:package:createDeploymentArtifacts': () => this.keep(),
    };
  }

  keep() {
    const service = this.serverless.service;
    const serviceDir = this.serverless.serviceDir || process.cwd();
    const esbuild = (service.custom && service.custom.esbuild) || {};
    const buildDir = path.join(serviceDir, esbuild.outputWorkFolder || '.esbuild', esbuild.outputBuildFolder || '.build');
    // Where the maps end up: osls moves .serverless's contents to --package (or package.path) at the end.
    const packagePath = path.resolve(serviceDir, this.options.package || (service.package && service.package.path) || '.serverless');
    const missing = [];
    let kept = 0;
    for (const name of service.getAllFunctions()) {
      const handler = service.getFunction(name).handler || '';
      const file = `${handler.slice(0, handler.lastIndexOf('.'))}${esbuild.outputFileExtension || '.js'}.map`;
      const source = path.join(buildDir, file);
      if (!fs.existsSync(source)) {
        missing.push(`${name} (${path.relative(serviceDir, source)})`);
        continue;
      }
      const map = JSON.parse(fs.readFileSync(source, 'utf8'));
      const finalDir = path.dirname(path.join(packagePath, 'sourcemaps', file));
      map.sources = (map.sources || []).map((s) => path.relative(finalDir, path.resolve(path.dirname(source), s)).split(path.sep).join('/'));
      const target = path.join(serviceDir, '.serverless', 'sourcemaps', file);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, JSON.stringify(map));
      kept++;
    }
    if (missing.length) {
      throw new this.serverless.classes.Error(
        `source maps: no map for ${missing.join(', ')}; custom.esbuild.sourcemap must be "external" (the README's Bundles section promises a map per function)`,
        'HUB_SOURCE_MAPS',
      );
    }
    if (kept) this.serverless.cli.log(`Source maps kept in ${path.relative(serviceDir, path.join(packagePath, 'sourcemaps'))}/ (${kept} functions)`);
  }
}

module.exports = SourceMaps;
