/**
 * `scanLifecycle`: one durable workflow per scan, from ingest to released labels.
 *
 * Stages (search attribute `Stage`, query `status`, `scans.stage`): `ingesting` → `deidentifying` →
 * `assigning` → `reading` → (`reviewing` for consensus policies) → `fusing` → `released`; side exits
 * `quarantined`, `needs-attention` (waits for a manager's `resumeScan`) and `cancelled`.
 *
 * The body only uses activities, `condition` with timeouts (deadlines) and the deterministic workflow clock;
 * every state change is projected to Postgres by an idempotent activity and audited (`scan-projection.ts`).
 * The phases live in their own modules (`scan-ingest`, `scan-assignment`, `scan-deadlines`, `scan-review`,
 * `scan-release`), the handlers in `scan-handlers.ts`; see README.md.
 *
 * May import: `@temporalio/workflow` and the scan workflow's modules.
 */
import { allHandlersFinished, condition } from '@temporalio/workflow';

import { assignReaders } from './scan-assignment';
import { awaitTasks } from './scan-deadlines';
import { installScanHandlers } from './scan-handlers';
import { notifyBatch, runIngest } from './scan-ingest';
import type { ScanLifecycleInput, ScanLifecycleResult } from './scan-lifecycle.messages';
import { fuse, release } from './scan-release';
import { runReview } from './scan-review';
import { ScanState } from './scan-state';

/**
 * Carries one scan through reading. Start it with `workflowId = input.scanId`,
 * `workflowIdConflictPolicy: 'USE_EXISTING'` and `workflowIdReusePolicy: 'REJECT_DUPLICATE'`, so the same
 * source file never yields two scans (see docs/architecture.md).
 */
export async function scanLifecycle(input: ScanLifecycleInput): Promise<ScanLifecycleResult> {
  const s = new ScanState(input);
  installScanHandlers(s);
  s.projection.initSearchAttributes();

  await run(s);
  // A scan cancelled before it was through ingest still reports to its batch.
  await notifyBatch('failed', s);
  await condition(allHandlersFinished);
  return result(s);
}

/** The phases in order; each returns false when the scan ended early (quarantined, cancelled). */
async function run(s: ScanState): Promise<void> {
  if (!(await runIngest(s))) return;
  if (!(await assignReaders(s))) return;
  if (!(await awaitTasks(s, () => s.readingsComplete()))) return;
  fuse(s);
  if (!(await runReview(s))) return;
  await release(s);
}

function result(s: ScanState): ScanLifecycleResult {
  const stage = s.stage === 'released' || s.stage === 'quarantined' ? s.stage : 'cancelled';
  const r: ScanLifecycleResult = { scanId: s.scanId, stage };
  if (s.imageId) r.imageId = s.imageId;
  if (s.stage === 'released') {
    r.fused = s.fused;
    r.final = s.final;
    r.agreement = s.agreement;
    r.readerIds = s.fusedReadings?.map((x) => x.readerId);
  }
  if (s.quarantine) r.quarantine = s.quarantine;
  if (s.cancelled) r.cancelled = s.cancelled;
  return r;
}
