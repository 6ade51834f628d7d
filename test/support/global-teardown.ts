import { rmSync } from 'node:fs';

import type { TestWorkflowEnvironment } from '@temporalio/testing';

import { dropDatabase } from '../../src/db/data-source';

/** Stops the Temporal dev server, drops the run's database and removes the run's shared directory. */
export default async function globalTeardown(): Promise<void> {
  const env = (globalThis as Record<string, unknown>).__READFLOW_TEMPORAL_ENV__ as TestWorkflowEnvironment | undefined;
  await env?.teardown();
  const url = process.env.READFLOW_TEST_DATABASE_URL;
  if (url && !process.env.READFLOW_TEST_KEEP_DB) await dropDatabase(url);
  const dir = process.env.READFLOW_TEST_RUN_DIR;
  if (dir) rmSync(dir, { recursive: true, force: true });
}
