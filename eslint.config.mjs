// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importPlugin from 'eslint-plugin-import';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.data/**', '*.js', '*.mjs'] },
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
    // The web page (src/web/public): plain ES2020 modules run by the browser as they are (no build step).
    files: ['src/web/public/**/*.js'],
    languageOptions: {
      ecmaVersion: 2020,
      sourceType: 'module',
      globals: Object.fromEntries(
        ['window', 'document', 'sessionStorage', 'fetch', 'URL', 'URLSearchParams', 'AbortController', 'ResizeObserver', 'Intl', 'Node'].map((g) => [g, 'readonly']),
      ),
    },
    rules: { 'no-unused-vars': ['error', { argsIgnorePattern: '^_' }], '@typescript-eslint/no-unused-vars': 'off' },
  },
  {
    // NestJS relies on runtime class references for DI: type-only imports would erase them.
    files: ['src/api/**/*.ts', 'src/db/**/*.ts'],
    rules: { '@typescript-eslint/consistent-type-imports': 'off' },
  },
  {
    // The API reaches workflows only through their messages (`src/workflows/*.messages.ts`: define* calls and types),
    // and the database only through src/db/repositories (and src/db's entities, tokens and seed).
    files: ['src/api/**/*.ts'],
    ignores: ['src/api/**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)workflows(/(?!.*\\.messages$)|$)',
              message: 'The API imports only *.messages.ts from src/workflows (use the Temporal gateway).',
            },
            { regex: '(^|/)activities(/|$)', message: 'The API does not import activities.' },
          ],
        },
      ],
    },
  },
  {
    // Workflows run in Temporal's deterministic sandbox: no Node built-ins, no frameworks, no database.
    // src/domain is imported by workflows, so the same rules apply to it.
    files: ['src/workflows/**/*.ts', 'src/domain/**/*.ts'],
    ignores: ['src/workflows/**/*.spec.ts', 'src/domain/**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflows must be deterministic: no Node built-ins.' })),
          patterns: [
            { group: ['@nestjs/*'], message: 'Workflows must not import NestJS.' },
            { group: ['typeorm', 'typeorm/*'], message: 'Workflows must not touch the database.' },
            { group: ['pg', 'pino'], message: 'Workflows must not do I/O.' },
          ],
        },
      ],
    },
  },
  {
    // src/dicom is a library of its own: DICOM parsing, de-identification and rendering, knowing nothing of
    // Temporal, NestJS, the database or the rest of ReadFlow.
    files: ['src/dicom/**/*.ts'],
    ignores: ['src/dicom/**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@temporalio/*'], message: 'src/dicom knows nothing of Temporal.' },
            { group: ['@nestjs/*', 'typeorm', 'typeorm/*', 'pg'], message: 'src/dicom knows nothing of NestJS or the database.' },
            { group: ['../*', '!../dicom'], message: 'src/dicom imports nothing else of ReadFlow.' },
          ],
        },
      ],
    },
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
