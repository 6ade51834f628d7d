/**
 * Two projects:
 * - unit: specs beside the code (src/**\/*.spec.ts), no services.
 * - integration: test/**\/*.test.ts against a real Temporal dev server and a real Postgres
 *   (started once per run by test/support/global-setup.ts).
 */
const transform = {
  '^.+\\.ts$': ['@swc/jest'],
  // NestJS 12 and a few of its dependencies ship ES modules only. Jest on Node 20 cannot require() them (Jest supports
  // require(esm) natively only from Node 24.9), so they are compiled to CommonJS like our own code.
  '^.+\\.m?js$': [
    '@swc/jest',
    { swcrc: false, jsc: { parser: { syntax: 'ecmascript' }, target: 'es2022', keepClassNames: true }, module: { type: 'commonjs' } },
  ],
};
/** node_modules packages that are ES modules only (everything else in node_modules is left as is). */
const esmOnly = ['@nestjs', 'file-type', 'strtok3', 'token-types', '@tokenizer', 'uint8array-extras', '@borewit'];
const transformIgnorePatterns = [`/node_modules/(?!(${esmOnly.join('|')})/)`];

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      transformIgnorePatterns,
      testMatch: ['<rootDir>/src/**/*.spec.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform,
      transformIgnorePatterns,
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
      setupFiles: ['<rootDir>/test/support/setup-runtime.ts'],
    },
  ],
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  // Longest files first (known durations when Jest has none cached): the run ends when its busiest worker does.
  testSequencer: '<rootDir>/test/support/sequencer.js',
  maxWorkers: 2,
  testTimeout: 120000,
};
