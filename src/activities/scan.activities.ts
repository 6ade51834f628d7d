/**
 * Scan projection activities: they write the Postgres projection of a scan workflow (scans, tasks,
 * readings, scan_results, audit_events) and read the roster for assignment.
 *
 * Every write is idempotent and keyed by values the workflow chose (scan id, task ids, times, audit
 * sequence numbers), so a retried activity or a replayed workflow never duplicates a row, and each
 * activity applies one workflow step in one transaction.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { DataSource } from 'typeorm';

import { ReadersRepository, repositories } from '../db/repositories';
import { activityProbe, activityRunId, scansToWake } from './capacity.activities';
import { TrackRecordWindow } from './track-record';

export { TRACK_RECORD_SCANS } from './track-record';
import type { AuditEventWrite, ReadingWrite, ScanResultWrite, ScanWrite, TaskWrite } from '../db/repositories';
import { FINAL_STAGES } from '../domain';
import type { RosterEntry, TrackRecord } from '../domain';
import type { Logger } from '../logger';

/** What the scan activities need. */
export interface ScanActivityDeps {
  dataSource: DataSource;
  logger?: Logger;
}

/** One audit event; `key` is deterministic (`<scanId>:<runId>:<seq>:<action>`), so a retry inserts nothing new. */
export type AuditEventRow = AuditEventWrite;
/** Upsert of the `scans` row. Fields left `undefined` keep their stored value; `null` clears. */
export type ScanRow = ScanWrite;
/** Upsert of one `tasks` row (times ISO-8601, decided by the workflow). */
export type TaskRow = TaskWrite;
/** One accepted submission (`readings`, keyed by task id). */
export type ReadingRow = ReadingWrite;
/** The released result (`scan_results`). */
export type ResultRow = ScanResultWrite;

/** One step of a scan workflow as written to Postgres, atomically. */
export interface ProjectionStep {
  scan?: ScanRow;
  tasks?: TaskRow[];
  reading?: ReadingRow;
  /** Several accepted submissions written together (a batched step, since `BATCHED_SCAN_STEPS`), in order. */
  readings?: ReadingRow[];
  result?: ResultRow;
  audit?: AuditEventRow[];
  /** The scan stops waiting for readers (it left `waiting-for-readers` without a grant): its `reader_waitlist` row goes. */
  leaveWaitlist?: true;
}

/**
 * What a projection write answers (since issue #12): the waiting scans the capacity it freed can serve now, for the
 * workflow to wake (`readersAvailable` signal). Absent when the step freed nothing or nobody waits.
 */
export interface ProjectionOutcome {
  wake: string[];
}

/** The scan activities (names are part of the contract, see docs/architecture.md). */
export interface ScanActivities {
  /** Active radiologists with their open-task counts and last assignment time. */
  loadRoster(): Promise<RosterEntry[]>;
  /**
   * The readers' track record over the most recently released scans (adaptive decision, see `decideExtension`), kept
   * up to date by the worker (src/activities/track-record.ts) rather than rebuilt from every reading per decision.
   */
  loadTrackRecord(): Promise<TrackRecord>;
  /** Stage and metadata of the scan (+ audit). */
  recordScan(step: ProjectionStep): Promise<ProjectionOutcome | undefined>;
  /** Task creations and status changes (+ optional stage, audit). */
  recordTasks(step: ProjectionStep): Promise<ProjectionOutcome | undefined>;
  /** An accepted submission: the reading row and its task marked submitted (+ audit). */
  recordReading(step: ProjectionStep): Promise<ProjectionOutcome | undefined>;
  /** Release: the result row and the scan marked released (+ audit). */
  recordRelease(step: ProjectionStep): Promise<ProjectionOutcome | undefined>;
}

/**
 * `ApplicationFailure` type of a projection write Postgres refused for its data (SQLSTATE class 22 "data exception" or
 * 23 "integrity constraint violation", e.g. 22021 for a NUL in text): retrying cannot help, so it is non-retryable and
 * the workflow sees it at once instead of after ~100 minutes of retries. Connection errors, timeouts, serialization
 * failures and the like stay retryable (an outage delays a scan, it never fails it).
 */
export const PROJECTION_DATA_ERROR = 'ProjectionDataError';

/** The SQLSTATE of a Postgres error (pg's `code`, also on TypeORM's `QueryFailedError.driverError`), if any. */
export function sqlState(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; driverError?: { code?: unknown } };
  const code = typeof e.driverError?.code === 'string' ? e.driverError.code : e.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** True for a Postgres error no retry can fix (classes 22 and 23). */
export function isPermanentDataError(err: unknown): boolean {
  const code = sqlState(err);
  return code !== undefined && (code.startsWith('22') || code.startsWith('23'));
}

/**
 * Runs a projection write, turning a permanent data error into a non-retryable `ProjectionDataError`. Its message names
 * the SQLSTATE and, when Postgres gives them, the table, column and constraint: never Postgres' message or the query
 * parameters, which can quote readings and reasons (22P02 quotes the refused value).
 */
async function permanentFailuresFinal<T>(what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!isPermanentDataError(err)) throw err;
    const code = sqlState(err) as string;
    const e = err as { driverError?: Record<string, unknown> } & Record<string, unknown>;
    const where: Record<string, string> = {};
    for (const key of ['table', 'column', 'constraint'] as const) {
      const v = e.driverError?.[key] ?? e[key];
      if (typeof v === 'string') where[key] = v;
    }
    const at = Object.entries(where).map(([k, v]) => `${k} ${v}`).join(', ');
    throw ApplicationFailure.create({
      type: PROJECTION_DATA_ERROR,
      message: `${what}: Postgres refused the data for good (SQLSTATE ${code}${at ? `; ${at}` : ''}); not retried`,
      nonRetryable: true,
      details: [{ sqlState: code, ...where }],
    });
  }
}

const isFinalStage = (stage: string): boolean => (FINAL_STAGES as readonly string[]).includes(stage);

/**
 * Applies one projection step in one transaction (scan first: tasks and readings reference it). `runId`: the workflow
 * run writing it, recorded with its tasks (a run that writes a task holds it: see the capacity sweep). Answers the
 * number of left-over tasks a final stage closed (they free reader capacity).
 */
export async function applyProjectionStep(ds: DataSource, step: ProjectionStep, runId?: string): Promise<number> {
  return ds.transaction(async (em) => {
    const db = repositories(em);
    if (step.scan) await db.scans.upsert(step.scan);
    // The workflow's word on a task wins over an earlier write that a lost workflow task's attempt left behind (a
    // closed task is never reopened, so a stale attempt cannot undo a later write); see projection-orphans.test.ts.
    for (const t of step.tasks ?? []) await db.tasks.upsert(t, runId);
    await db.readings.removeOfUnsubmitted((step.tasks ?? []).filter((t) => t.status !== 'submitted' && t.status !== 'open' && t.status !== 'reserved').map((t) => t.id));
    if (step.reading) await db.readings.insert(step.reading);
    for (const r of step.readings ?? []) await db.readings.insert(r);
    const leftovers = step.scan && isFinalStage(step.scan.stage) ? await db.tasks.closeLeftoversOf(step.scan.id, (step.tasks ?? []).map((t) => t.id)) : [];
    if (step.result) await db.scanResults.upsert(step.result);
    if (step.audit?.length) await db.auditEvents.insert(step.audit);
    if (step.leaveWaitlist && step.scan) await db.readerWaitlist.remove(step.scan.id);
    return leftovers.length;
  });
}

/** True when the step frees reader capacity: a task leaves `open`, or a scan leaves the waitlist. */
function freesCapacity(step: ProjectionStep): boolean {
  return step.leaveWaitlist === true || (step.tasks ?? []).some((t) => t.status !== 'open');
}

/** Builds the scan projection activities. */
export function createScanActivities(deps: ScanActivityDeps): ScanActivities {
  const { dataSource } = deps;
  const trackRecord = new TrackRecordWindow(dataSource);
  const writer =
    (what: string) =>
    (step: ProjectionStep): Promise<ProjectionOutcome | undefined> =>
      permanentFailuresFinal(what, async () => {
        const leftovers = await applyProjectionStep(dataSource, step, activityRunId());
        if (leftovers === 0 && !freesCapacity(step)) return undefined;
        const wake = await scansToWake(dataSource, activityProbe());
        return wake.length > 0 ? { wake } : undefined;
      });
  return {
    loadRoster(): Promise<RosterEntry[]> {
      return new ReadersRepository(dataSource).roster();
    },
    loadTrackRecord(): Promise<TrackRecord> {
      return trackRecord.load();
    },
    recordScan: writer('recordScan'),
    recordTasks: writer('recordTasks'),
    recordReading: writer('recordReading'),
    recordRelease: writer('recordRelease'),
  };
}
