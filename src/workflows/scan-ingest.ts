/**
 * The ingest phase of `scanLifecycle` (`ingesting` → `deidentifying`): validation, quarantine of refused input,
 * de-identification, and the report to the batch that started the scan.
 *
 * May import: `@temporalio/workflow`, `@temporalio/common`, `./activities`, `./patches`, the batch's messages, and
 * `import type` of the scan state.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { getExternalWorkflowHandle, workflowInfo } from '@temporalio/workflow';

import type { IngestResult } from './activities';
import { ingest, ingestOnce, QUARANTINED_INPUT } from './activities';
import { MERGED_PROJECTION_STEPS } from './patches';
import type { ScanIngestedSignal } from './ingest-batch.messages';
import { scanIngestedSignal } from './ingest-batch.messages';
import type { ScanState } from './scan-state';
import { INGEST_SUMMARY } from './scan-ui';

/** Tells the batch that started this scan (its parent workflow) how ingest ended. Best effort. */
export async function notifyBatch(outcome: ScanIngestedSignal['outcome'], s: ScanState): Promise<void> {
  const parent = workflowInfo().parent;
  if (!parent || s.batchNotified) return;
  s.batchNotified = true;
  s.projection.flushAttributes();
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

/**
 * `ingesting` → `deidentifying`. False when the scan ended (quarantined, cancelled). Infrastructure trouble that
 * outlives the activity retries escalates (`ingest-failed`); `resumeScan` retries ingest.
 */
export async function runIngest(s: ScanState): Promise<boolean> {
  const { scanId, sourceKey, filename } = s.input;
  for (;;) {
    await s.projection.setStage('ingesting', {
      actor: s.input.startedBy ?? 'system',
      detail: filename ? { filename } : {},
      scan: { batchId: s.input.batchId ?? null },
    });
    s.attention.decided();
    try {
      s.projection.flushAttributes();
      let d: IngestResult;
      if (s.batched) {
        // One activity; the move to `deidentifying` is written with the image and the move to `assigning` that follow.
        d = await ingestOnce.ingestScan.executeWithOptions({ summary: INGEST_SUMMARY.ingest }, [{ scanId, sourceKey }]);
        if (s.cancelled) return false;
        await s.projection.setStage('deidentifying', { withNext: true });
      } else {
        await ingest.validateScan.executeWithOptions({ summary: INGEST_SUMMARY.validate }, [filename ? { scanId, sourceKey, filename } : { scanId, sourceKey }]);
        if (s.cancelled) return false;
        await s.projection.setStage('deidentifying');
        s.projection.flushAttributes();
        d = await ingest.deidentifyScan.executeWithOptions({ summary: INGEST_SUMMARY.deidentify }, [{ scanId, sourceKey }]);
        if (s.cancelled) return false;
      }
      s.image = d.image;
      s.imageId = d.imageId;
      s.deidentifiedKey = d.deidentifiedKey;
      const step = {
        scan: s.projection.scanRow({ imageId: d.imageId, image: d.image, deidentifiedKey: d.deidentifiedKey }),
        audit: [s.projection.audit('deidentified', 'workflow', { imageId: d.imageId, rows: d.image.rows, columns: d.image.columns })],
      };
      // Since MERGED_PROJECTION_STEPS: written with the move to `assigning` that follows at once.
      if (s.has(MERGED_PROJECTION_STEPS)) s.projection.holdForNext(step);
      else await s.projection.write('recordScan', step);
      await notifyBatch('accepted', s);
      return true;
    } catch (err) {
      if (s.cancelled) return false;
      const q = quarantineDetails(err);
      if (q) {
        s.quarantine = q;
        await s.projection.setStage('quarantined', { detail: { ...q }, scan: { quarantineReason: q.reason } });
        await notifyBatch('quarantined', s);
        return false;
      }
      await notifyBatch('failed', s);
      const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
      if (!(await s.attention.escalateAndWait('ingest-failed', { message: cause instanceof Error ? cause.message : String(cause) }))) return false;
    }
  }
}
