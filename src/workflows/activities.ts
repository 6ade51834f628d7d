/**
 * Activity proxies of the scan workflow, created once for the whole workflows bundle.
 *
 * Timeouts and retry policies are explicit:
 * - ingest activities (parse, de-identify) get a few attempts; refused input is a non-retryable
 *   `QuarantinedInput` failure and is never retried;
 * - projection writes and the roster read retry for a long time with capped backoff: a database outage
 *   delays a scan, it never fails it.
 *
 * May import: `@temporalio/workflow`, `import type` of `src/activities`.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { ActivityInterfaceFor, LocalActivityOptions } from '@temporalio/workflow';

import type { createIngestActivities } from '../activities/ingest.activities';
import type { CapacityActivities } from '../activities/capacity.activities';
import type { ScanActivities } from '../activities/scan.activities';

/** Ingest activities (src/activities/ingest.activities.ts, see docs/architecture.md). */
export type IngestActivityContract = Pick<
  ReturnType<typeof createIngestActivities>,
  'validateScan' | 'deidentifyScan' | 'ingestScan'
>;
/** What de-identification answers: the image's id, key and metadata. */
export type IngestResult = Awaited<ReturnType<IngestActivityContract['ingestScan']>>;

/** `ApplicationFailure` type thrown by the ingest activities for refused input (same value as the activities' constant). */
export const QUARANTINED_INPUT = 'QuarantinedInput';

/** The ingest activities' attempts: CPU and file I/O bound, a few tries; refused input is final. */
const INGEST_RETRY = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  maximumAttempts: 5,
  nonRetryableErrorTypes: [QUARANTINED_INPUT],
} as const;

/** Parse/validate and de-identify as two activities (before `BATCHED_SCAN_STEPS`). */
export const ingest = proxyActivities<IngestActivityContract>({
  startToCloseTimeout: '2 minutes',
  retry: { ...INGEST_RETRY, nonRetryableErrorTypes: [...INGEST_RETRY.nonRetryableErrorTypes] },
});

/**
 * Validate and de-identify in one activity (since `BATCHED_SCAN_STEPS`): the two steps' time, and the same attempts.
 */
export const ingestOnce = proxyActivities<Pick<IngestActivityContract, 'ingestScan'>>({
  startToCloseTimeout: '4 minutes',
  retry: { ...INGEST_RETRY, nonRetryableErrorTypes: [...INGEST_RETRY.nonRetryableErrorTypes] },
});

/** `ApplicationFailure` type of a projection write Postgres refused for its data (same value as the activities' constant). */
export const PROJECTION_DATA_ERROR = 'ProjectionDataError';

/** The projection activities' retry budget; past it the workflow pauses and writes again (see `scan-projection.ts`). */
export const PROJECTION_RETRY = {
  maximumAttempts: 200,
  maximumIntervalMs: 30_000,
  pauseMs: 5 * 60_000,
} as const;

/** Postgres projection writes and the roster read: short, idempotent, retried patiently. */
export const scanActivities = proxyActivities<ScanActivities>({
  // A write takes milliseconds; a short timeout gets a write lost with a dead worker retried quickly.
  startToCloseTimeout: '10 seconds',
  retry: {
    initialInterval: '500 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 200,
  },
});

/** The database activities (projection writes, roster, capacity) with a given retry budget. */
export type DatabaseActivities = ScanActivities & CapacityActivities;

/** The database activities with another retry budget (`ScanLifecycleInput.projectionRetry`, tests). */
export function databaseActivities(
  retry: { maximumAttempts: number; maximumIntervalMs: number } = PROJECTION_RETRY,
): ActivityInterfaceFor<DatabaseActivities> {
  return proxyActivities<DatabaseActivities>({
    startToCloseTimeout: '10 seconds',
    retry: {
      // The first interval never above the cap (a shorter cap than 500 ms makes an invalid retry policy).
      initialInterval: Math.min(500, retry.maximumIntervalMs),
      backoffCoefficient: 2,
      maximumInterval: retry.maximumIntervalMs,
      maximumAttempts: retry.maximumAttempts,
      nonRetryableErrorTypes: [PROJECTION_DATA_ERROR],
    },
  });
}

/** A database activity as the projection calls it, regular or local (both take a `summary` per call). */
export type DatabaseActivityProxies = {
  [K in keyof DatabaseActivities]: DatabaseActivities[K] & {
    executeWithOptions(
      options: { summary?: string },
      args: Parameters<DatabaseActivities[K]>,
    ): ReturnType<DatabaseActivities[K]>;
  };
};

/**
 * The local activities' budget (since `LEAN_SCAN_HISTORY`): one attempt, well inside one workflow task (the worker
 * heartbeats a workflow task at 80 % of its 10 s timeout). Local activities that outlast that heartbeat are a replay
 * hazard: the heartbeat completes the workflow task without their markers, the next task can carry an update, and on
 * replay the SDK resolves the local activity from its marker before that update, so the code after it issues its
 * commands first (seen once under load 16: TMPRL1100 "Activity machine does not handle this event:
 * WorkflowExecutionUpdateAccepted" replaying an outage test; SDK 1.24.0 is the newest). Writes take milliseconds
 * (p50 80–130 ms at load 12–16, bench:e2e): 2 s leaves the rest of the 8 s for the lane's other writes and a slow
 * machine. Timeouts are not part of the history: changing them replays. One attempt never backs off, so never with a workflow timer
 * (the SDK's path past `localRetryThreshold`), and a write blocked in the database holds at most one more connection.
 * A write that does not make it (the database is slow or away) goes on as the regular activity with the full retry
 * budget; a `ProjectionDataError` is final either way.
 */
export const LOCAL_WRITE_BUDGET: LocalActivityOptions = {
  startToCloseTimeout: '2 seconds',
  scheduleToCloseTimeout: '2 seconds',
  localRetryThreshold: '30 seconds',
  retry: { maximumAttempts: 1, nonRetryableErrorTypes: [PROJECTION_DATA_ERROR] },
};

/**
 * The database activities run by the worker inside the workflow task (since `LEAN_SCAN_HISTORY`): one
 * `MarkerRecorded` event each instead of a scheduled/started/completed activity and a workflow task of its own.
 */
export const localDatabaseActivities = proxyLocalActivities<DatabaseActivities>(
  LOCAL_WRITE_BUDGET,
) as unknown as DatabaseActivityProxies;
