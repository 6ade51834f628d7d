/**
 * `ingestBatch`: ingests a manifest of up to tens of thousands of files by starting one `scanLifecycle`
 * per file, with bounded concurrency, counting started / duplicate / accepted / quarantined / failed files.
 *
 * Scans are started as **child workflows** with `parentClosePolicy: ABANDON` rather than from an activity
 * holding a Temporal client: each start is a durable command in the batch's history (decided exactly once,
 * even if a worker dies mid-page — an activity could start a scan and crash before reporting it), the Temporal
 * UI links every scan to its batch, duplicates surface as `WorkflowExecutionAlreadyStartedError` (the scan id is
 * the workflow id, reuse policy `REJECT_DUPLICATE`), and activities need no Temporal client. Abandoned children
 * outlive the batch run, so the batch can `continueAsNew` every `filesPerRun` files to keep its history bounded;
 * counts, the manifest cursor and the scans still in ingest are carried over. Each scan reports back with the
 * `scanIngested` signal (to the batch's workflow id, so it reaches the current run).
 *
 * May import: `@temporalio/workflow`, `@temporalio/common`, `import type` of `src/activities`, its messages, and
 * the scan workflow (started as a child).
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';

import type { BatchActivities } from '../activities/batch.activities';
import type { BatchCounts, BatchProgress, IngestBatchCarry, IngestBatchInput, ScanIngestedSignal } from './ingest-batch.messages';
import { progressQuery, scanIngestedSignal } from './ingest-batch.messages';
import { scanLifecycle } from './scan-lifecycle';
import { scanStartMetadata } from './scan-ui.messages';

const batch = proxyActivities<BatchActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes: ['InvalidManifest'] },
});

/** The counter each ingest outcome a scan reports adds to (an unknown outcome counts as failed). */
const OUTCOME_COUNTS = {
  accepted: 'accepted',
  quarantined: 'quarantined',
  failed: 'failed',
} as const satisfies Record<ScanIngestedSignal['outcome'], keyof BatchCounts>;

const ZERO: BatchCounts = { listed: 0, started: 0, duplicate: 0, accepted: 0, quarantined: 0, failed: 0 };
/** Longest wait for the last scans of a batch to report their ingest outcome. */
const DRAIN_TIMEOUT = '1 hour';

/** Runs `fn` over `items` with at most `limit` calls in flight (deterministic: items are taken in order). */
async function forEachBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++];
      await fn(item);
    }
  });
  await Promise.all(lanes);
}

/**
 * Ingests a batch. Workflow id: `batch-<batchId>`. Returns the final progress (counts) once every file was
 * handled and every started scan reported through ingest (or after a drain timeout of one hour).
 */
export async function ingestBatch(input: IngestBatchInput): Promise<BatchProgress> {
  const carry: IngestBatchCarry = input.carry ?? {
    cursor: 0,
    counts: { ...ZERO },
    pending: [],
    runs: 1,
    startedAt: new Date(Date.now()).toISOString(),
  };
  const counts: BatchCounts = { ...carry.counts };
  const pending = new Set(carry.pending);
  const recentQuarantined: string[] = [];
  let cursor = carry.cursor;
  let state: BatchProgress['state'] = 'listing';
  let finishedAt: string | undefined = undefined;

  const progress = (): BatchProgress => ({
    batchId: input.batchId,
    state,
    counts: { ...counts },
    inFlight: pending.size,
    runs: carry.runs,
    startedAt: carry.startedAt,
    ...(finishedAt ? { finishedAt } : {}),
    recentQuarantined: [...recentQuarantined],
  });
  setHandler(progressQuery, progress);
  setHandler(scanIngestedSignal, ({ scanId, outcome }) => {
    if (!pending.delete(scanId)) return; // a repeated report, or a scan of another batch
    counts[OUTCOME_COUNTS[outcome] ?? 'failed'] += 1;
    if (outcome === 'quarantined' && recentQuarantined.length < 100) recentQuarantined.push(scanId);
  });

  const concurrency = Math.max(1, input.concurrency ?? 20);
  const filesPerRun = Math.max(1, input.filesPerRun ?? 500);
  const pageSize = Math.max(1, Math.min(input.pageSize ?? 100, filesPerRun));
  const manifest = input.manifest;
  let handledThisRun = 0;

  const startScan = async (path: string): Promise<void> => {
    // Backpressure: at most `concurrency` scans of this batch in their ingest stages at once.
    await condition(() => pending.size < concurrency);
    const staged = await batch.stageBatchFile({ path, batchId: input.batchId });
    if (!staged.ok) {
      counts.failed += 1;
      return;
    }
    const added = !pending.has(staged.scanId);
    if (added) pending.add(staged.scanId); // before the start: the scan may report before the start resolves
    try {
      await startChild(scanLifecycle, {
        workflowId: staged.scanId,
        args: [
          {
            scanId: staged.scanId,
            sourceKey: staged.sourceKey,
            filename: staged.filename,
            split: input.split,
            policy: input.policy,
            ...(input.taxonomy !== undefined ? { taxonomy: input.taxonomy } : {}),
            // Only when given: the child's input (a payload, not a command attribute) is as before otherwise.
            ...(input.priority !== undefined ? { priority: input.priority } : {}),
            batchId: input.batchId,
            startedBy: input.startedBy ?? 'system',
          },
        ],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        // What the Temporal UI shows of the scan (user metadata: no file name, see scan-ui.messages.ts).
        ...scanStartMetadata({ scanId: staged.scanId, split: input.split, policy: input.policy }),
      });
      counts.started += 1;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      if (added) pending.delete(staged.scanId);
      counts.duplicate += 1;
    }
  };

  for (;;) {
    if (handledThisRun >= filesPerRun || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      const files = manifest.kind === 'files' ? manifest.files.slice(cursor) : undefined;
      return continueAsNew<typeof ingestBatch>({
        ...input,
        // An explicit file list shrinks as it is consumed, so the carried input stays small.
        manifest: files ? { kind: 'files', files } : manifest,
        carry: {
          cursor: files ? 0 : cursor,
          counts,
          pending: [...pending],
          runs: carry.runs + 1,
          startedAt: carry.startedAt,
        },
      });
    }
    const limit = Math.min(pageSize, filesPerRun - handledThisRun);
    let page: string[];
    let last: boolean;
    if (manifest.kind === 'files') {
      page = manifest.files.slice(cursor, cursor + limit);
      last = cursor + page.length >= manifest.files.length;
    } else {
      const listed = await batch.listBatchFiles({ directory: manifest.directory, offset: cursor, limit });
      page = listed.files;
      last = listed.done;
    }
    await forEachBounded(page, concurrency, startScan);
    cursor += page.length;
    counts.listed += page.length;
    handledThisRun += page.length;
    if (last || page.length === 0) break;
  }

  state = 'draining';
  await condition(() => pending.size === 0, DRAIN_TIMEOUT, { summary: `drain: wait for the batch's last ${pending.size} scans to report their ingest` });
  state = 'done';
  finishedAt = new Date(Date.now()).toISOString();
  await condition(allHandlersFinished);
  return progress();
}
