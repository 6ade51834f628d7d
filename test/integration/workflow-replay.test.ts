/**
 * Determinism guard: replays the workflow histories recorded from the integration runs (test/histories/,
 * re-record with READFLOW_RECORD_HISTORIES=1) against the current workflow code. A change that would break
 * running scans (commands in another order, a new activity without `patched()`, …) fails here.
 */
import { readFileSync } from 'node:fs';

import { Worker } from '@temporalio/worker';

import { testDataConverter } from '../support/services';
import { bundleWorkflows } from '../support/workflow-harness';
import { loadHistories } from '../support/workflow-histories';

/** The workflows the worker's bundle exports (`export { name } from …` lines of src/workflows/index.ts). */
function bundledWorkflows(): string[] {
  const index = readFileSync(require.resolve('../../src/workflows/index.ts'), 'utf8');
  return [...index.matchAll(/^export \{ (\w+) \} from /gm)].map((m) => m[1]).sort();
}

describe('workflow replay', () => {
  it('replays every recorded history without a determinism error', async () => {
    const histories = await loadHistories();
    expect(histories.length).toBeGreaterThanOrEqual(8);
    const workflowBundle = await bundleWorkflows();
    const failures: string[] = [];
    let replayed = 0;
    for await (const r of Worker.runReplayHistories(
      { workflowBundle, dataConverter: testDataConverter() },
      histories,
    )) {
      replayed += 1;
      if (r.error) failures.push(`${r.workflowId}: ${r.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(histories.length);
  });

  it('has a recorded history of every workflow in the bundle', async () => {
    const types = new Set(
      (await loadHistories()).map(
        (h) =>
          h.history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ??
          '(no start event)',
      ),
    );
    const bundled = bundledWorkflows();
    expect(bundled).toEqual(expect.arrayContaining(['releaseDataset', 'scanLifecycle', 'ingestBatch']));
    expect(bundled.filter((w) => !types.has(w))).toEqual([]);
  });
});
