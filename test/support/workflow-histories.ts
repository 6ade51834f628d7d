/**
 * Recorded workflow histories for the replay test (test/integration/workflow-replay.test.ts).
 * Set READFLOW_RECORD_HISTORIES=1 to (re)write test/histories/<name>.json from a test run; commit them, so
 * that a change breaking determinism for running scans fails the build.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const HISTORIES_DIR = path.resolve(__dirname, '../histories');

export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.READFLOW_RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  await fsp.mkdir(HISTORIES_DIR, { recursive: true });
  await fsp.writeFile(path.join(HISTORIES_DIR, `${name}.json`), `${historyToJSON(history)}\n`);
}
