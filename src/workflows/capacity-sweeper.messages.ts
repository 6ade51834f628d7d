/**
 * Messages of `capacitySweeper` (issue #12): one per task queue (id {@link capacitySweeperId}), started (signal-with-start)
 * by every worker at boot with the configured interval (`READFLOW_CAPACITY_SWEEP_INTERVAL`). Each round it takes off
 * the capacity queue the scans whose workflow is gone (terminated, cancelled, failed or timed out from outside) but
 * that still hold reader capacity (`reserved`/`open` tasks) or a `reader_waitlist` entry, and wakes the waiting scans
 * the freed readers can serve. Only `*.messages.ts` modules are imported outside the workflow bundle.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';

/** Workflow id of the sweeper of a task queue (one deployment: one task queue, one database). */
export function capacitySweeperId(taskQueue: string): string {
  return `capacity-sweeper-${taskQueue}`;
}

/**
 * A scan the sweeper took off the capacity queue: its workflow's execution status (or `NOT_FOUND`); `RUN_SUPERSEDED`
 * for a scan re-run under its scan id whose earlier runs (`earlierRunIds`) still held readers or a queue place (the
 * scan itself runs on).
 */
export interface SweptScan {
  scanId: string;
  workflowStatus: string;
  earlierRunIds?: string[];
}

/** Input of `capacitySweeper` (and what it carries when it continues as new). */
export interface CapacitySweeperInput {
  /** Time between sweeps (`READFLOW_CAPACITY_SWEEP_INTERVAL`), ms. */
  intervalMs: number;
  /**
   * Retry budget of one sweep's activity before the round counts as failed (default 5 attempts, backoff to 30 s): short
   * in tests that cut the database.
   */
  retry?: { maximumAttempts: number; maximumIntervalMs: number };
  /** Totals of the runs before (continue-as-new). */
  totals?: { rounds: number; released: number; woken: number };
}

/** Signal: new settings (a worker started with its config); also sweeps at once. */
export const capacitySweepSettingsSignal = defineSignal<[{ intervalMs: number }]>('capacitySweepSettings');

/** What the `sweepStatus` query answers. */
export interface CapacitySweepStatus {
  intervalMs: number;
  /** Sweeps since the sweeper first started (across continue-as-new). */
  rounds: number;
  /** Scans released and waiting scans woken since the sweeper first started. */
  released: number;
  woken: number;
  /** The last sweep: when it ended (ISO-8601, workflow time), scans it checked and released, or its failure. */
  last?: { at: string; checked: number; released: SweptScan[]; woken: number; failure?: string };
}

export const sweepStatusQuery = defineQuery<CapacitySweepStatus>('sweepStatus');
