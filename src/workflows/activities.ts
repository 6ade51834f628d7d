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
import { proxyActivities } from '@temporalio/workflow';

import type { createIngestActivities } from '../activities/ingest.activities';
import type { ScanActivities } from '../activities/scan.activities';

/** Ingest activities (src/activities/ingest.activities.ts, see docs/architecture.md). */
export type IngestActivityContract = Pick<ReturnType<typeof createIngestActivities>, 'validateScan' | 'deidentifyScan'>;

/** `ApplicationFailure` type thrown by the ingest activities for refused input (same value as the activities' constant). */
export const QUARANTINED_INPUT = 'QuarantinedInput';

/** Parse/validate and de-identify: CPU and file I/O bound, a few attempts. */
export const ingest = proxyActivities<IngestActivityContract>({
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 5,
    nonRetryableErrorTypes: [QUARANTINED_INPUT],
  },
});

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
