import 'reflect-metadata';

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { TestWorkflowEnvironment } from '@temporalio/testing';

import { openDatabase } from '../../src/db/data-source';
import { loadToolchainConfig } from '../../src/config/toolchain';
import { ensureTemporalCli } from '../../src/temporal/temporal-cli';
import { SEARCH_ATTRIBUTES } from '../../src/workflows/search-attributes';

import { ensureTestDatabase } from './services';
import { ensureWebBundle } from './web-bundle';

/**
 * The SDK gives the dev server 5 s to answer; a cold start of the 250 MB binary (not yet in the page cache)
 * can take longer, so a failed start is retried.
 */
async function startDevServer(cli: string): Promise<TestWorkflowEnvironment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createLocal({
        server: {
          executable: { type: 'existing-path', path: cli },
          namespace: 'readflow',
          ip: '127.0.0.1',
          searchAttributes: [...SEARCH_ATTRIBUTES],
          log: { format: 'pretty', level: 'error' },
        },
      });
    } catch (err) {
      if (attempt >= 3) throw err;
      process.stderr.write(`[global-setup] the Temporal dev server did not start (attempt ${attempt}): ${String(err)}; retrying\n`);
    }
  }
}

/**
 * Starts one real Temporal dev server (the `temporal` CLI, on free ports, in memory) and creates a
 * fresh Postgres database with the schema migrated, for the whole integration run. Their addresses
 * reach the test workers through environment variables; global-teardown stops and drops them. It also makes the run's
 * shared directory (READFLOW_TEST_RUN_DIR) where work done once per run is kept (test/support/run-once.ts).
 */
export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  ensureWebBundle((line) => process.stderr.write(`\n${line}\n`));
  const cli = await ensureTemporalCli(loadToolchainConfig(process.env));
  const env = await startDevServer(cli);
  (globalThis as Record<string, unknown>).__READFLOW_TEMPORAL_ENV__ = env;

  const base = new URL(process.env.READFLOW_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres');
  base.pathname = `/readflow_test_${Date.now().toString(36)}_${process.pid}`;
  const dbUrl = base.toString();
  await ensureTestDatabase(dbUrl);
  const ds = await openDatabase(dbUrl, { poolSize: 2 });
  await ds.destroy();

  process.env.READFLOW_TEST_TEMPORAL_ADDRESS = env.address;
  process.env.READFLOW_TEST_TEMPORAL_NAMESPACE = 'readflow';
  process.env.READFLOW_TEST_DATABASE_URL = dbUrl;
  process.env.READFLOW_TEST_TEMPORAL_CLI = cli;
  // What the test files share for this run only (test/support/run-once.ts: the workflow bundle, the built CLI).
  process.env.READFLOW_TEST_RUN_DIR = mkdtempSync(path.join(tmpdir(), 'readflow-test-run-'));
  process.stderr.write(
    `\n[global-setup] Temporal dev server at ${env.address}, database ${base.pathname.slice(1)} (${Date.now() - started} ms)\n`,
  );
}
