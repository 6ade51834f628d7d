/**
 * `scanLifecycle`: one durable workflow per scan, from ingest to released labels.
 *
 * Stages (search attribute `Stage`, query `status`, `scans.stage`): `ingesting` → `deidentifying` →
 * `assigning` → `reading` → (`reviewing` for consensus policies) → `fusing` → `released`; side exits
 * `quarantined`, `needs-attention` (waits for a manager's `resumeScan`) and `cancelled`; `waiting-for-readers` while
 * no reader has capacity (assigned as capacity frees, see `scan-capacity.ts`).
 *
 * The body only uses activities, `condition` with timeouts (deadlines) and the deterministic workflow clock;
 * every state change is projected to Postgres by an idempotent activity and audited (`scan-projection.ts`).
 * The phases live in their own modules (`scan-ingest`, `scan-assignment`, `scan-deadlines`, `scan-review`,
 * `scan-release`), the handlers in `scan-handlers.ts`; see README.md.
 *
 * May import: `@temporalio/workflow` and the scan workflow's modules.
 */
import { allHandlersFinished, condition, patched } from '@temporalio/workflow';

import { extendIfDisagreeing } from './scan-adaptive';
import { assignReaders } from './scan-assignment';
import { awaitTasks } from './scan-deadlines';
import { installScanHandlers } from './scan-handlers';
import { notifyBatch, runIngest } from './scan-ingest';
import type { ScanLifecycleInput, ScanLifecycleResult } from './scan-lifecycle.messages';
import { BATCHED_SCAN_STEPS, LEAN_SCAN_HISTORY } from './patches';
import { fuse, release } from './scan-release';
import { runReview } from './scan-review';
import { ScanState } from './scan-state';

/**
 * Carries one scan through reading. Start it with `workflowId = input.scanId`,
 * `workflowIdConflictPolicy: 'USE_EXISTING'` and `workflowIdReusePolicy: 'REJECT_DUPLICATE'`, so the same
 * source file never yields two scans (see docs/architecture.md).
 */
export async function scanLifecycle(input: ScanLifecycleInput): Promise<ScanLifecycleResult> {
  // Decided once, first thing: the run's only patch marker when batched or lean (see `patches.ts`).
  const batched = patched(BATCHED_SCAN_STEPS);
  const s = new ScanState(input, { lean: batched || patched(LEAN_SCAN_HISTORY), batched });
  installScanHandlers(s);
  s.projection.initSearchAttributes();

  await run(s);
  // Batched runs: a step held for a write that never came (the run ended first) is written now.
  if (s.batched) await s.projection.writeHeld();
  // A scan cancelled before it was through ingest still reports to its batch.
  await notifyBatch('failed', s);
  s.projection.flushAttributes();
  await condition(allHandlersFinished);
  // A manager's resume of a refused write queued its own write: it lands before the run ends.
  if (s.attention.resumedHold) await s.projection.idle();
  // Lean runs: the scans this run's last writes woke get their signals before it ends.
  if (s.lean) await s.projection.wakesDelivered();
  s.projection.flushAttributes();
  return result(s);
}

/** The phases in order; each returns false when the scan ended early (quarantined, cancelled). */
async function run(s: ScanState): Promise<void> {
  if (!(await runIngest(s))) return;
  if (!(await assignReaders(s))) return;
  if (!(await awaitTasks(s, () => s.readingsComplete()))) return;
  // Adaptive policies only: more readers when the first ones disagree (no command for other policies).
  if (!(await extendIfDisagreeing(s))) return;
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
