/**
 * `releaseDataset`: builds and publishes one immutable dataset release (`releases/<version>/`, VinDr-CXR layout).
 *
 * Steps (activities in src/activities/release.activities.ts, each idempotent, files written atomically):
 * snapshot the released scans → copy and check the images chunk by chunk → write the CSVs → the gate → publish
 * (one directory rename) or, when the gate fails, publish nothing and record what failed. A worker killed mid-release
 * resumes at the step (or chunk) it was in; chunks already done are not redone.
 */
import type { RetryPolicy } from '@temporalio/common';
import { ApplicationFailure, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';

import type { ReleaseActivities } from '../activities/release.activities';
import type { ReleaseDatasetInput, ReleaseDatasetResult, ReleaseProgress } from './release-dataset.messages';
import { releaseProgressQuery } from './release-dataset.messages';

/** `ApplicationFailure` type of a version that already exists (non-retryable). */
export const RELEASE_EXISTS = 'ReleaseExists';

const retry: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 50,
  nonRetryableErrorTypes: [RELEASE_EXISTS],
};

/** Copy and label steps: they heartbeat per image / page, so a killed worker's step is retried after 20 s. */
const streaming = proxyActivities<ReleaseActivities>({ startToCloseTimeout: '30 minutes', heartbeatTimeout: '20 seconds', retry });

/** Snapshot, gate, publish, abandon: bounded file and database work without heartbeats. */
const release = proxyActivities<ReleaseActivities>({ startToCloseTimeout: '10 minutes', retry });

const DEFAULT_CHUNK = 200;

export async function releaseDataset(input: ReleaseDatasetInput): Promise<ReleaseDatasetResult> {
  const progress: ReleaseProgress = { version: input.version, phase: 'snapshot', imagesTotal: 0, imagesDone: 0, problems: 0 };
  setHandler(releaseProgressQuery, () => ({ ...progress }));
  const chunk = input.chunk ?? DEFAULT_CHUNK;
  if (!Number.isInteger(chunk) || chunk < 1) throw ApplicationFailure.nonRetryable(`chunk must be a positive integer, got ${chunk}`, 'InvalidReleaseInput');

  const snapshot = await release.prepareRelease({
    version: input.version,
    splits: input.splits,
    requestedBy: input.requestedBy,
    previousVersion: input.previousVersion,
    workflowId: workflowInfo().workflowId,
  });
  progress.imagesTotal = snapshot.total;
  progress.phase = 'images';
  for (let from = 0; from < snapshot.total; from += chunk) {
    const done = await streaming.copyReleaseImages({ version: input.version, from, count: chunk });
    progress.imagesDone = Math.min(snapshot.total, from + done.images);
    progress.problems += done.problems;
  }
  progress.phase = 'labels';
  await streaming.writeReleaseLabels({ version: input.version });
  progress.phase = 'gate';
  const gate = await release.gateRelease({ version: input.version, previousVersion: input.previousVersion });
  progress.problems = gate.problemCount;
  if (!gate.ok) {
    await release.abandonRelease({ version: input.version, problems: gate.problems, problemCount: gate.problemCount });
    progress.phase = 'failed';
    return { status: 'failed', version: input.version, problemCount: gate.problemCount, problems: gate.problems };
  }
  progress.phase = 'publishing';
  const published = await release.publishRelease({ version: input.version, previousVersion: input.previousVersion });
  progress.phase = 'published';
  return { status: 'published', ...published };
}
