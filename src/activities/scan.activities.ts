/**
 * Scan projection activities: they write the Postgres projection of a scan workflow (scans, tasks,
 * readings, scan_results, audit_events) and read the roster for assignment.
 *
 * Every write is idempotent and keyed by values the workflow chose (scan id, task ids, times, audit
 * sequence numbers), so a retried activity or a replayed workflow never duplicates a row, and each
 * activity applies one workflow step in one transaction.
 */
import type { DataSource } from 'typeorm';

import { ReadersRepository, repositories } from '../db/repositories';
import type { AuditEventWrite, ReadingWrite, ScanResultWrite, ScanWrite, TaskWrite } from '../db/repositories';
import type { RosterEntry } from '../domain';
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
  result?: ResultRow;
  audit?: AuditEventRow[];
}

/** The scan activities (names are part of the contract, see docs/architecture.md). */
export interface ScanActivities {
  /** Active radiologists with their open-task counts and last assignment time. */
  loadRoster(): Promise<RosterEntry[]>;
  /** Stage and metadata of the scan (+ audit). */
  recordScan(step: ProjectionStep): Promise<void>;
  /** Task creations and status changes (+ optional stage, audit). */
  recordTasks(step: ProjectionStep): Promise<void>;
  /** An accepted submission: the reading row and its task marked submitted (+ audit). */
  recordReading(step: ProjectionStep): Promise<void>;
  /** Release: the result row and the scan marked released (+ audit). */
  recordRelease(step: ProjectionStep): Promise<void>;
}

/** Applies one projection step in one transaction (scan first: tasks and readings reference it). */
export async function applyProjectionStep(ds: DataSource, step: ProjectionStep): Promise<void> {
  await ds.transaction(async (em) => {
    const db = repositories(em);
    if (step.scan) await db.scans.upsert(step.scan);
    for (const t of step.tasks ?? []) await db.tasks.upsert(t);
    if (step.reading) await db.readings.insert(step.reading);
    if (step.result) await db.scanResults.upsert(step.result);
    if (step.audit?.length) await db.auditEvents.insert(step.audit);
  });
}

/** Builds the scan projection activities. */
export function createScanActivities(deps: ScanActivityDeps): ScanActivities {
  const { dataSource } = deps;
  const apply = (step: ProjectionStep): Promise<void> => applyProjectionStep(dataSource, step);
  return {
    loadRoster(): Promise<RosterEntry[]> {
      return new ReadersRepository(dataSource).roster();
    },
    recordScan: apply,
    recordTasks: apply,
    recordReading: apply,
    recordRelease: apply,
  };
}
