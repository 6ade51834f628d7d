// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importPlugin from 'eslint-plugin-import';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

/** The folders (and `logger.ts`) of src/. */
const SRC = ['activities', 'api', 'cli', 'config', 'db', 'dicom', 'domain', 'ingest', 'logger', 'net', 'releases', 'simulate', 'storage', 'temporal', 'web', 'workflows'];
const ALL_BUT = (...no) => SRC.filter((f) => !no.includes(f));

/**
 * What each part of src/ may import of the others (docs/architecture.md, "Layout"): a folder, or `folder/module` for
 * only that module or sub-folder of it (`*`: any name). Nothing but src/cli imports src/cli or src/simulate. Specs are
 * exempt.
 */
const MAY_IMPORT = {
  activities: ALL_BUT('api', 'cli', 'simulate', 'web'),
  // From activities only `import type` (the rule below): never their code.
  workflows: ['domain', 'activities'],
  domain: [],
  dicom: [],
  db: ['domain'],
  storage: [],
  net: [],
  logger: ['config'],
  config: ['domain', 'temporal/payload-codec'],
  temporal: ['config', 'logger', 'net', 'workflows/search-attributes', 'workflows/*.messages'],
  ingest: ['dicom', 'storage'],
  releases: ['db', 'dicom', 'domain', 'storage'],
  api: [
    'config', 'db/repositories', 'db/entities', 'db/tokens', 'db/capacity-queue', 'dicom', 'domain', 'ingest', 'logger',
    'releases', 'storage', 'temporal/payload-codec', 'web', 'workflows/*.messages',
  ],
  web: [],
  // gen-client boots the API (and its config) to fetch the OpenAPI spec; the simulator's stack runs Temporal.
  simulate: ['api', 'config', 'db/data-source', 'dicom', 'domain', 'storage', 'temporal'],
};

/** Extra rules of a part: what it may not import besides ReadFlow folders. */
const FRAMEWORKS = {
  // Workflows run in Temporal's deterministic sandbox: no Node built-ins, no frameworks, no database.
  workflows: {
    paths: nodeBuiltins.map((name) => ({ name, message: 'Workflows must be deterministic: no Node built-ins.' })),
    patterns: [
      { group: ['@nestjs/*'], message: 'Workflows must not import NestJS.' },
      { group: ['typeorm', 'typeorm/*'], message: 'Workflows must not touch the database.' },
      { group: ['pg', 'pino'], message: 'Workflows must not do I/O.' },
    ],
  },
  // src/domain is imported by workflows: the same, and nothing of Temporal either.
  domain: {
    paths: nodeBuiltins.map((name) => ({ name, message: 'src/domain is pure: no Node built-ins.' })),
    patterns: [
      { group: ['@temporalio/*'], message: 'src/domain knows nothing of Temporal.' },
      { group: ['@nestjs/*'], message: 'src/domain knows nothing of NestJS.' },
      { group: ['typeorm', 'typeorm/*', 'pg'], message: 'src/domain knows nothing of the database.' },
      { group: ['pino'], message: 'src/domain does no I/O.' },
    ],
  },
  // src/dicom is a library of its own: DICOM parsing, de-identification and rendering.
  dicom: {
    patterns: [
      { group: ['@temporalio/*'], message: 'src/dicom knows nothing of Temporal.' },
      { group: ['@nestjs/*', 'typeorm', 'typeorm/*', 'pg'], message: 'src/dicom knows nothing of NestJS or the database.' },
    ],
  },
  ingest: { patterns: [{ group: ['@temporalio/*', '@nestjs/*', 'typeorm', 'typeorm/*', 'pg'], message: 'src/ingest knows nothing of Temporal, NestJS or the database.' }] },
  releases: { patterns: [{ group: ['@temporalio/*', '@nestjs/*'], message: 'src/releases knows nothing of Temporal or NestJS.' }] },
};

/** `no-restricted-imports` patterns for the ReadFlow folders `part` may not import (relative imports from any depth). */
function layerPatterns(part) {
  const allowed = MAY_IMPORT[part];
  const patterns = [];
  for (const other of SRC) {
    if (other === part || allowed.includes(other)) continue;
    const only = allowed.filter((a) => a.startsWith(`${other}/`)).map((a) => a.slice(other.length + 1));
    const modules = only.map((o) => o.replace(/\./g, '\\.').replace(/\*/g, '[^/]+')).join('|');
    const regex = only.length > 0 ? `^(\\.\\./)+${other}(/(?!(${modules})(/|$))|$)` : `^(\\.\\./)+${other}(/|$)`;
    const what = only.length > 0 ? `only ${only.map((o) => `${other}/${o}`).join(', ')} of src/${other}` : `nothing of src/${other}`;
    patterns.push({ regex, message: `src/${part} imports ${what} (docs/architecture.md, Layout).` });
  }
  return patterns;
}

/** One block per part of src/ (a folder, or logger.ts): its layering and framework rules. */
function layerBlocks() {
  return Object.keys(MAY_IMPORT).map((part) => {
    const extra = FRAMEWORKS[part] ?? {};
    const files = part === 'logger' ? ['src/logger.ts'] : [`src/${part}/**/*.ts`];
    /** @type {import('eslint').Linter.RulesRecord} */
    const rules = {
      'no-restricted-imports': ['error', { paths: extra.paths ?? [], patterns: [...(extra.patterns ?? []), ...layerPatterns(part)] }],
    };
    if (part === 'workflows') {
      rules['@typescript-eslint/no-restricted-imports'] = [
        'error',
        { patterns: [{ regex: '^(\\.\\./)+activities(/|$)', allowTypeImports: true, message: 'Workflows take only types from activities (proxyActivities<typeof …>).' }] },
      ];
    }
    return { files, ignores: ['src/**/*.spec.ts'], rules };
  });
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.data/**', 'generated/**', '*.js', '*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    plugins: { import: importPlugin },
    settings: { 'import/resolver': { node: { extensions: ['.ts', '.js'] } } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import/no-cycle': ['error', { maxDepth: 10 }],
    },
  },
  {
    // The web page (src/web/public): ES modules bundled by Vite into dist/web (vite.config.mjs).
    files: ['src/web/public/**/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: Object.fromEntries(
        ['window', 'document', 'sessionStorage', 'fetch', 'URL', 'URLSearchParams', 'AbortController', 'ResizeObserver', 'Intl', 'Node', 'Blob', 'Response', 'TextDecoder', 'TextEncoder', 'DecompressionStream', 'XMLHttpRequest'].map((g) => [g, 'readonly']),
      ),
    },
    rules: { 'no-unused-vars': ['error', { argsIgnorePattern: '^_' }], '@typescript-eslint/no-unused-vars': 'off' },
  },
  {
    // NestJS relies on runtime class references for DI: type-only imports would erase them.
    files: ['src/api/**/*.ts', 'src/db/**/*.ts'],
    rules: { '@typescript-eslint/consistent-type-imports': 'off' },
  },
  // The layering of docs/architecture.md ("Layout"): which ReadFlow folders each folder of src/ may import.
  ...layerBlocks(),
  {
    // The page imports its sibling modules and npm packages only: it talks to the server through the REST API.
    files: ['src/web/public/**/*.js'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['../*'], message: 'The page imports nothing of the server (use the REST API).' }] }] },
  },
  {
    // src/config is the one reader of the environment: everything else gets a typed config from it (docs/architecture.md).
    files: ['src/**/*.ts'],
    ignores: ['src/config/**', 'src/**/*.spec.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read the environment in src/config only (add a key there).' },
      ],
    },
  },
);
