/**
 * Recorded workflow histories for the replay test (test/integration/workflow-replay.test.ts).
 * Set READFLOW_RECORD_HISTORIES=1 to write test/histories/<name>.history.pb from a test run; commit them,
 * so that a change breaking determinism for running scans fails the build. An existing file is never
 * overwritten: histories recorded from older code are exactly what must keep replaying (delete one on purpose
 * only when no scan of that shape can still be running).
 *
 * Stored as binary protobuf (`temporal.api.history.v1.History`) rather than proto3 JSON: in this install
 * `@temporalio/common` and `@temporalio/proto` each get their own copy of protobufjs, and the SDK's
 * `historyToJSON`/`historyFromJSON` then fail with "type must be a Type".
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

export const HISTORIES_DIR = path.resolve(__dirname, '../histories');
export const HISTORY_SUFFIX = '.history.pb';

export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.READFLOW_RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  await fsp.mkdir(HISTORIES_DIR, { recursive: true });
  try {
    await fsp.writeFile(
      path.join(HISTORIES_DIR, `${name}${HISTORY_SUFFIX}`),
      temporal.api.history.v1.History.encode(history).finish(),
      {
        flag: 'wx',
      },
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/** Every recorded history, for `Worker.runReplayHistories`. */
export async function loadHistories(): Promise<
  { workflowId: string; history: temporal.api.history.v1.History }[]
> {
  const files = (await fsp.readdir(HISTORIES_DIR)).filter((f) => f.endsWith(HISTORY_SUFFIX)).sort();
  return Promise.all(
    files.map(async (f) => ({
      workflowId: f.slice(0, -HISTORY_SUFFIX.length),
      history: temporal.api.history.v1.History.decode(await fsp.readFile(path.join(HISTORIES_DIR, f))),
    })),
  );
}
