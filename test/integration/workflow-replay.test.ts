/**
 * Determinism guard: replays the workflow histories recorded from the integration runs (test/histories/,
 * re-record with READFLOW_RECORD_HISTORIES=1) against the current workflow code. A change that would break
 * running scans (commands in another order, a new activity without `patched()`, …) fails here.
 */
import { Worker } from '@temporalio/worker';

import { testDataConverter } from '../support/services';
import { bundleWorkflows } from '../support/workflow-harness';
import { loadHistories } from '../support/workflow-histories';

describe('workflow replay', () => {
  it('replays every recorded history without a determinism error', async () => {
    const histories = await loadHistories();
    expect(histories.length).toBeGreaterThanOrEqual(8);
    const workflowBundle = await bundleWorkflows();
    const failures: string[] = [];
    let replayed = 0;
    for await (const r of Worker.runReplayHistories({ workflowBundle, dataConverter: testDataConverter() }, histories)) {
      replayed += 1;
      if (r.error) failures.push(`${r.workflowId}: ${r.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(histories.length);
  });
});
