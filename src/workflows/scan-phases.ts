/**
 * The phases of `scanLifecycle`, one function each, so a future change can be guarded with `patched()`
 * at a phase boundary. Each returns `false` when the scan left the happy path for good (quarantined,
 * cancelled) and the workflow should finish.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { condition, getExternalWorkflowHandle, workflowInfo } from '@temporalio/workflow';

import type { ReaderReading } from '../domain';
import { compareStrings, fuseReadings, fusedToReading, scanAgreement } from '../domain';
import { ingest, projection, QUARANTINED_INPUT } from './activities';
import type { ScanIngestedSignal } from './ingest-batch.messages';
import { scanIngestedSignal } from './ingest-batch.messages';
import { createTasks, pickReaders, replaceTask } from './scan-assignment';
import type { ScanState } from './scan-state';

/** Waits while the scan is in `needs-attention`; true when resumed, false when cancelled. */
async function waitForManager(s: ScanState): Promise<boolean> {
  s.awaitingDecision = true;
  await condition(() => s.stage !== 'needs-attention' || s.cancelled !== undefined);
  return s.cancelled === undefined;
}

/** Tells the batch that started this scan (its parent workflow) how ingest ended. Best effort. */
export async function notifyBatch(outcome: ScanIngestedSignal['outcome'], s: ScanState): Promise<void> {
  const parent = workflowInfo().parent;
  if (!parent || s.batchNotified) return;
  s.batchNotified = true;
  try {
    await getExternalWorkflowHandle(parent.workflowId).signal(scanIngestedSignal, { scanId: s.scanId, outcome });
  } catch {
    // The batch finished already: nobody is waiting for this report.
  }
}

function quarantineDetails(err: unknown): { reason: string; detail: string } | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (!(cause instanceof ApplicationFailure) || cause.type !== QUARANTINED_INPUT) return undefined;
  const d = (cause.details?.[0] ?? {}) as { reason?: unknown; detail?: unknown };
  return {
    reason: typeof d.reason === 'string' ? d.reason : 'refused',
    detail: typeof d.detail === 'string' ? d.detail : cause.message,
  };
}

/** `ingesting` → `deidentifying`: validation, quarantine of refused input, de-identification. */
export async function runIngest(s: ScanState): Promise<boolean> {
  const { scanId, sourceKey, filename } = s.input;
  for (;;) {
    await s.setStage('ingesting', {
      actor: s.input.startedBy ?? 'system',
      detail: filename ? { filename } : {},
      scan: { batchId: s.input.batchId ?? null },
    });
    s.decided();
    try {
      await ingest.validateScan(filename ? { scanId, sourceKey, filename } : { scanId, sourceKey });
      if (s.cancelled) return false;
      await s.setStage('deidentifying');
      const d = await ingest.deidentifyScan({ scanId, sourceKey });
      if (s.cancelled) return false;
      s.image = d.image;
      s.imageId = d.imageId;
      s.deidentifiedKey = d.deidentifiedKey;
      await s.write('recordScan', {
        scan: s.scanRow({ imageId: d.imageId, image: d.image, deidentifiedKey: d.deidentifiedKey }),
        audit: [s.audit('deidentified', 'workflow', { imageId: d.imageId, rows: d.image.rows, columns: d.image.columns })],
      });
      await notifyBatch('accepted', s);
      return true;
    } catch (err) {
      if (s.cancelled) return false;
      const q = quarantineDetails(err);
      if (q) {
        s.quarantine = q;
        await s.setStage('quarantined', { detail: { ...q }, scan: { quarantineReason: q.reason } });
        await notifyBatch('quarantined', s);
        return false;
      }
      // Infrastructure trouble that outlived the retries: a manager decides (resumeScan retries ingest).
      await notifyBatch('failed', s);
      const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
      await s.escalateForDecision('ingest-failed', { message: cause instanceof Error ? cause.message : String(cause) });
      if (!(await waitForManager(s))) return false;
    }
  }
}

/** `assigning`: the policy's readers from a roster snapshot; escalates when too few are eligible. */
export async function assignReaders(s: ScanState): Promise<boolean> {
  await s.setStage('assigning');
  for (;;) {
    const roster = await projection.loadRoster();
    if (s.cancelled) return false;
    const r = pickReaders(s, roster, 'reader', s.policy.readers);
    if (r.ok) {
      await createTasks(
        s,
        'reader',
        0,
        r.readerIds.map((readerId, slot) => ({ readerId, slot })),
      );
      await s.setStage('reading', { detail: { readers: r.readerIds } });
      s.decided();
      return true;
    }
    await s.escalateForDecision('no-eligible-readers', { ...r });
    if (!(await waitForManager(s))) return false;
  }
}

/**
 * Waits until `done()` while enforcing deadlines: an open task past its deadline is marked overdue and
 * reassigned (expired → a new reader), up to the policy's `maxReassignmentsPerTask`; after that, or when
 * nobody is eligible, the scan goes to `needs-attention`, where it waits for `resumeScan`. A late
 * submission on a still-open task resolves the wait. Returns false when the scan was cancelled.
 */
export async function awaitTasks(s: ScanState, done: () => boolean): Promise<boolean> {
  for (;;) {
    if (s.cancelled) return false;
    if (done()) {
      if (s.stage === 'needs-attention') {
        // The missing work came in (e.g. a late reader on an escalated task): carry on.
        s.attentionReason = undefined;
        await s.setStage(s.workingStage, { detail: { resolved: true }, scan: { attentionReason: null } });
      }
      return true;
    }
    if (s.stage === 'needs-attention') {
      await condition(() => s.stage !== 'needs-attention' || s.cancelled !== undefined || done());
      continue;
    }
    s.wake = false;
    const next = s.nextDeadline();
    const wake = (): boolean => s.wake || s.cancelled !== undefined || done();
    if (next === undefined) {
      await condition(wake);
      continue;
    }
    const wait = next - s.now();
    if (wait > 0 && (await condition(wake, wait))) continue;
    await handleDeadlines(s);
  }
}

async function handleDeadlines(s: ScanState): Promise<void> {
  const now = s.now();
  const due = s.openTasks().filter((t) => !t.escalated && t.dueAt <= now);
  for (const t of due) t.overdue = true;
  s.syncSearchAttributes();
  for (const t of due) {
    await s.lock.run(async () => {
      if (t.status !== 'open' || t.escalated || t.dueAt > s.now() || s.cancelled) return;
      if (t.expiries >= s.policy.maxReassignmentsPerTask) {
        t.escalated = true;
        await s.escalate('task-overdue', {
          taskId: t.id,
          readerId: t.readerId,
          reassignments: t.expiries,
          maxReassignmentsPerTask: s.policy.maxReassignmentsPerTask,
        });
        return;
      }
      const out = await replaceTask(s, t, { cause: 'expired', actor: 'workflow' });
      if (!out.ok && !out.notOpen) {
        t.escalated = true;
        await s.escalate('no-eligible-readers', { taskId: t.id, ...out.result });
      }
    });
  }
}

/** Fixes the readers' readings and computes the fused proposal and the agreement (pure domain rules). */
export function fuse(s: ScanState): void {
  const readings: ReaderReading[] = s
    .submittedReadings()
    .map((t) => ({ readerId: t.readerId, reading: t.reading! }))
    .sort((a, b) => compareStrings(a.readerId, b.readerId));
  s.fusedReadings = readings;
  s.fused = fuseReadings(readings, s.policy.fusion, s.image!, s.taxonomy);
  s.agreement = scanAgreement(readings, { flagBelow: s.policy.agreementFlagBelow, taxonomy: s.taxonomy });
}

/**
 * `reviewing` (consensus policies): two senior reviewers who did not read the scan. Each round, slot 0
 * edits the fused proposal and submits it; slot 1 then confirms it (final labels) or returns it with a
 * reason (next round). After `maxReviewRounds` returns the scan needs a manager; `resumeScan` grants a round.
 */
export async function runReview(s: ScanState): Promise<boolean> {
  if (s.policy.reviewers === 0) return true;
  await s.setStage('reviewing', { detail: { overall: s.agreement?.overall, flagged: s.agreement?.flagged } });
  for (;;) {
    const roster = await projection.loadRoster();
    if (s.cancelled) return false;
    const r = pickReaders(s, roster, 'reviewer', s.policy.reviewers);
    if (r.ok) {
      s.reviewers = [...r.readerIds];
      break;
    }
    await s.escalateForDecision('no-eligible-reviewers', { ...r });
    if (!(await waitForManager(s))) return false;
  }
  for (let round = 1; ; round++) {
    while (round > s.policy.maxReviewRounds + s.extraReviewRounds) {
      await s.escalateForDecision('review-rounds-exhausted', { rounds: round - 1 });
      if (!(await waitForManager(s))) return false;
      s.extraReviewRounds += 1;
    }
    s.reviewRound = round;
    await createTasks(s, 'reviewer', round, [{ readerId: s.reviewers[0], slot: 0 }]);
    s.decided();
    if (!(await awaitTasks(s, () => s.reviewTask(round, 0)?.status === 'submitted'))) return false;
    await createTasks(s, 'reviewer', round, [{ readerId: s.reviewers[1], slot: 1 }]);
    if (!(await awaitTasks(s, () => s.reviewTask(round, 1)?.status === 'submitted'))) return false;
    const verdict = s.reviewTask(round, 1)!;
    if (verdict.decision === 'confirm') {
      s.final = s.reviewTask(round, 0)!.reading;
      return true;
    }
    s.returns.push({ round, readerId: verdict.readerId, reason: verdict.reason ?? '' });
  }
}

/** `fusing` → `released`: writes the fused result, the final labels and the agreement; marks the scan released. */
export async function release(s: ScanState): Promise<void> {
  const fused = s.fused!;
  await s.setStage('fusing', {
    detail: { method: fused.method, boxes: fused.boxes.length, globalLabels: fused.globalLabels, overall: s.agreement?.overall },
  });
  const final = s.final ?? fusedToReading(fused);
  s.final = final;
  const releasedAt = s.now();
  s.releasedAt = releasedAt;
  s.stage = 'released';
  s.syncSearchAttributes();
  await s.write('recordRelease', {
    scan: s.scanRow({ releasedAt: s.iso(releasedAt), attentionReason: null }),
    result: {
      scanId: s.scanId,
      method: fused.method,
      fusedBoxes: fused.boxes,
      fusedGlobalLabels: fused.globalLabels,
      finalBoxes: final.boxes,
      finalGlobalLabels: final.globalLabels,
      agreement: { ...s.agreement!, readers: s.fusedReadings!.map((r) => r.readerId) },
      releasedAt: s.iso(releasedAt),
    },
    audit: [
      s.audit('stage:released', 'workflow', {
        from: 'fusing',
        to: 'released',
        finalBoxes: final.boxes.length,
        finalGlobalLabels: final.globalLabels,
        reviewRounds: s.reviewRound,
      }),
    ],
  });
}
