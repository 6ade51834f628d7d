/* global require, process, __dirname, Buffer */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS launcher by design */
/**
 * Runs one exported function of a TypeScript module in plain Node (outside Jest's module sandbox) and writes the
 * Buffer it returns to stdout: `node plain-node.js <module.ts> <export> <JSON array of arguments>`. Tight loops over
 * Buffers run 10–20× slower inside a Jest test file (its own V8 context) than here, e.g. the 3000 × 3000 film of the
 * preview latency test: more than a minute of CPU there, a second here. Same TypeScript loader as worker-child.js.
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

const [file, name, args] = process.argv.slice(2);
const out = require(path.resolve(file))[name](...JSON.parse(args));
if (!Buffer.isBuffer(out)) throw new Error(`${name} did not return a Buffer`);
process.stdout.write(out);
