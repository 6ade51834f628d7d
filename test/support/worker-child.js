/* global require, __dirname, module */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS launcher by design */
/**
 * Launches a ReadFlow worker in a child process (crash-recovery test): registers an in-process TypeScript
 * loader built on @swc/core (already a dev dependency, same .swcrc as Jest) and runs worker-child-main.ts.
 */
const fs = require('node:fs');
const path = require('node:path');
const { transformSync } = require('@swc/core');

const swcrc = JSON.parse(fs.readFileSync(path.join(__dirname, '../../.swcrc'), 'utf8'));
delete swcrc.$schema;

require.extensions['.ts'] = function compileTs(mod, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const { code } = transformSync(source, { ...swcrc, filename, swcrc: false, sourceMaps: 'inline' });
  mod._compile(code, filename);
};

module.exports = require('./worker-child-main.ts');
