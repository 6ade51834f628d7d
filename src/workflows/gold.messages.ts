/**
 * Messages of the hidden-gold workflows: `goldScan` (one per gold scan, workflow id = its scan id) and
 * `goldScheduler` (one per namespace, id {@link GOLD_SCHEDULER_ID}). A gold scan answers the scan workflow's own
 * messages (`status`, `submitReading`, `reassignTask`, `extendDeadline`, `cancelScan`, `resumeScan`), so the API
 * reaches its tasks exactly as it reaches any scan's. Only `*.messages.ts` modules are imported by the API.
 */
import { defineSignal } from '@temporalio/workflow';

/** Workflow id of the one gold scheduler. */
export const GOLD_SCHEDULER_ID = 'gold-scheduler';

/** Input of `goldScheduler` (and what it carries when it continues as new). */
export interface GoldSchedulerInput {
  /** About one task in `every` a reader gets is gold (`READFLOW_GOLD_EVERY`). */
  every: number;
  /** How often it looks at the readers' task counts (`READFLOW_GOLD_CHECK_INTERVAL`), ms. */
  checkIntervalMs: number;
  /** The durable per-reader counters, carried across continue-as-new. */
  counters?: Record<string, { golds: number; nextAt: number }>;
}

/** Signal to `goldScheduler`: new settings (a gold scan was added; the API sends its current config). */
export const goldSettingsSignal = defineSignal<[{ every: number; checkIntervalMs: number }]>('goldSettings');

/** Signal to a `goldScan`: give this reader a task on it (when still eligible: never twice, capacity, active). */
export const assignGoldSignal = defineSignal<[{ readerId: string }]>('assignGold');
