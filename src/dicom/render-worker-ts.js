/* global require, __dirname, module */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS launcher by design */
/**
 * Worker entry of the render pool when ReadFlow runs from its TypeScript sources (Jest, ts scripts): compiles .ts on
 * require with @swc/core (a dev dependency, same .swcrc as Jest), then loads render-worker.ts. The build (dist/) runs
 * the compiled render-worker.js instead and never loads this file.
 */
const fs = require('node:fs');
const path = require('node:path');
const { transformSync } = require('@swc/core');

const swcrc = JSON.parse(fs.readFileSync(path.join(__dirname, '../../.swcrc'), 'utf8'));
delete swcrc.$schema;

if (!require.extensions['.ts']) {
  require.extensions['.ts'] = function compileTs(mod, filename) {
    const source = fs.readFileSync(filename, 'utf8');
    const { code } = transformSync(source, { ...swcrc, filename, swcrc: false, sourceMaps: 'inline' });
    mod._compile(code, filename);
  };
}

module.exports = require('./render-worker.ts').default;
