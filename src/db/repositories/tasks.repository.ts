import type { TaskFacts, TaskRole, TaskRowStatus, TaskStatus } from '../../domain/vocabulary';
import type { Db, KeysetPage } from './sql';
import { timestampKey } from './sql';

/** The columns of a `tasks` row. */
export interface TaskRecord {
  id: string;
  scan_id: string;
  reader_id: string;
  role: TaskRole;
  slot: number;
  round: number;
  status: TaskStatus;
  assigned_at: Date;
  due_at: Date;
  submitted_at: Date | null;
}

/** A task with its scan's image metadata and stage. */
export interface TaskWithScan extends TaskRecord {
  image_id: string | null;
  rows: number | null;
  columns: number | null;
  pixel_spacing: number[] | null;
  view_position: string | null;
  modality: string | null;
  transfer_syntax: string | null;
  deidentified_key: string | null;
  stage: string;
}

/** An inbox row: the task, its scan's image id and the keyset sort key. */
export interface InboxRow extends Pick<TaskRecord, 'id' | 'role' | 'status' | 'assigned_at' | 'due_at'> {
  image_id: string | null;
  due_key: string;
}

/** A row of the managers' list. */
export interface ManagedTaskRow extends TaskRecord {
  image_id: string | null;
  due_key: string;
}

/** One reader's workload (the board's per-reader figures). */
export interface ReaderWorkloadRow {
  reader_id: string;
  open: number;
  overdue: number;
  submitted: number;
  expired: number;
  reassigned: number;
  median_read_seconds: number | null;
}

/** A scan holding reader capacity or waiting for it, with the workflow runs that hold or queued it. */
export interface CapacityHolder {
  scanId: string;
  runIds: string[];
}

/** Upsert of one `tasks` row by the scan workflow's projection: the task's facts as the workflow decided them. */
export interface TaskWrite extends TaskFacts<TaskRowStatus> {
  id: string;
  scanId: string;
}

/**
 * The inbox query: one reader's tasks of one status, by deadline. Keyset over (due_at, id), served by
 * ix_tasks_reader_status_due (reader_id, status, due_at, id). Exported for the EXPLAIN test.
 */
export const INBOX_SQL = (withCursor: boolean): string => `
  SELECT t.id, t.role, t.status, t.assigned_at, t.due_at, ${timestampKey('t.due_at')} AS due_key, s.image_id
    FROM tasks t JOIN scans s ON s.id = t.scan_id
   WHERE t.reader_id = $1 AND t.status = $2 ${withCursor ? 'AND (t.due_at, t.id) > ($4::timestamptz, $5::uuid)' : ''}
   ORDER BY t.due_at, t.id
   LIMIT $3`;

/**
 * The managers' list (default: open tasks; `overdue`: open and past due). Keyset over (due_at, id), served by
 * ix_tasks_status_due (status, due_at, id), or ix_tasks_reader_status_due with a reader. Exported for EXPLAIN.
 */
export const MANAGER_TASKS_SQL = (o: { reader: boolean; overdue: boolean; cursor: boolean }): string => {
  const where = ['t.status = $1'];
  let n = 2; // $1 status, $2 limit
  if (o.reader) where.push(`t.reader_id = $${++n}`);
  if (o.overdue) where.push('t.due_at < now()');
  if (o.cursor) where.push(`(t.due_at, t.id) > ($${++n}::timestamptz, $${++n}::uuid)`);
  return `
  SELECT t.id, t.scan_id, t.reader_id, t.role, t.slot, t.round, t.status, t.assigned_at, t.due_at, t.submitted_at,
         ${timestampKey('t.due_at')} AS due_key, s.image_id
    FROM tasks t JOIN scans s ON s.id = t.scan_id
   WHERE ${where.join(' AND ')}
   ORDER BY t.due_at, t.id
   LIMIT $2`;
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a syntactically valid task id (anything else is no task: never sent to Postgres as a uuid). */
export function isTaskId(id: string): boolean {
  return UUID.test(id);
}

/** Data access of `tasks`, the inbox projection the scan workflow writes (only its projection writes). */
export class TasksRepository {
  constructor(private readonly db: Db) {}

  /** One reader's tasks of one status, by deadline (`limit + 1` rows). */
  inbox(readerId: string, status: TaskStatus, page: KeysetPage): Promise<InboxRow[]> {
    const params: unknown[] = [readerId, status, page.limit + 1];
    if (page.after) params.push(...page.after);
    return this.db.query(INBOX_SQL(!!page.after), params);
  }

  /** Tasks of one status (optionally of one reader, or only the overdue open ones), by deadline (`limit + 1` rows). */
  managed(filter: { status: TaskStatus; readerId?: string; overdue: boolean }, page: KeysetPage): Promise<ManagedTaskRow[]> {
    const params: unknown[] = [filter.status, page.limit + 1];
    if (filter.readerId) params.push(filter.readerId);
    if (page.after) params.push(...page.after);
    return this.db.query(MANAGER_TASKS_SQL({ reader: !!filter.readerId, overdue: filter.overdue, cursor: !!page.after }), params);
  }

  /** A task with its scan's image metadata; undefined for an unknown (or malformed) id, or one still `reserved`. */
  async withScan(taskId: string): Promise<TaskWithScan | undefined> {
    if (!isTaskId(taskId)) return undefined;
    const rows: TaskWithScan[] = await this.db.query(
      `SELECT t.id, t.scan_id, t.reader_id, t.role, t.slot, t.round, t.status, t.assigned_at, t.due_at, t.submitted_at,
              s.image_id, s.rows, s.columns, s.pixel_spacing, s.view_position, s.modality, s.transfer_syntax,
              s.deidentified_key, s.stage
         FROM tasks t JOIN scans s ON s.id = t.scan_id
        WHERE t.id = $1 AND t.status <> 'reserved'`,
      [taskId],
    );
    return rows[0];
  }

  /** The scan and reader of a task; undefined for an unknown (or malformed) id, or one still `reserved`. */
  async owner(taskId: string): Promise<{ scan_id: string; reader_id: string } | undefined> {
    if (!isTaskId(taskId)) return undefined;
    const rows: { scan_id: string; reader_id: string }[] = await this.db.query(`SELECT scan_id, reader_id FROM tasks WHERE id = $1 AND status <> 'reserved'`, [taskId]);
    return rows[0];
  }

  /** Every task of a scan (but those still `reserved`): readers before reviewers, by round, slot and assignment. */
  ofScan(scanId: string): Promise<TaskRecord[]> {
    return this.db.query(
      `SELECT id, scan_id, reader_id, role, slot, round, status, assigned_at, due_at, submitted_at
         FROM tasks WHERE scan_id = $1 AND status <> 'reserved' ORDER BY role DESC, round, slot, assigned_at, id`,
      [scanId],
    );
  }

  /** Every task of some scans (the board's suggestions exclude everyone who had the scan). */
  ofScans(scanIds: string[]): Promise<Pick<TaskRecord, 'scan_id' | 'reader_id'>[]> {
    if (scanIds.length === 0) return Promise.resolve([]);
    return this.db.query(`SELECT scan_id, reader_id FROM tasks WHERE scan_id = ANY($1)`, [scanIds]);
  }

  /**
   * Per reader: open, overdue, submitted, expired and reassigned tasks, and the median read time (assignment to
   * submission) of their submitted readings (role reader). One GROUP BY over tasks (ix_tasks_reader_status_due).
   */
  async workloadByReader(): Promise<ReaderWorkloadRow[]> {
    const rows: Record<keyof ReaderWorkloadRow, string | null>[] = await this.db.query(
      `SELECT reader_id,
              count(*) FILTER (WHERE status = 'open') AS open,
              count(*) FILTER (WHERE status = 'open' AND due_at < now()) AS overdue,
              count(*) FILTER (WHERE status = 'submitted') AS submitted,
              count(*) FILTER (WHERE status = 'expired') AS expired,
              count(*) FILTER (WHERE status = 'reassigned') AS reassigned,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM submitted_at - assigned_at))
                FILTER (WHERE status = 'submitted' AND role = 'reader' AND submitted_at IS NOT NULL) AS median_read_seconds
         FROM tasks GROUP BY reader_id ORDER BY reader_id`,
    );
    return rows.map((r) => ({
      reader_id: String(r.reader_id),
      open: Number(r.open),
      overdue: Number(r.overdue),
      submitted: Number(r.submitted),
      expired: Number(r.expired),
      reassigned: Number(r.reassigned),
      median_read_seconds: r.median_read_seconds === null ? null : Number(r.median_read_seconds),
    }));
  }

  /** Open tasks, and those of them past their deadline (the metrics' gauges). */
  async openCounts(): Promise<{ open: number; overdue: number }> {
    const [row]: { open: string; overdue: string }[] = await this.db.query(
      `SELECT count(*) AS open, count(*) FILTER (WHERE due_at < now()) AS overdue FROM tasks WHERE status = 'open'`,
    );
    return { open: Number(row.open), overdue: Number(row.overdue) };
  }

  /** The readers of the given tasks that exist (a reservation already granted them). */
  async readersOf(ids: readonly string[]): Promise<Map<string, string>> {
    const rows: { id: string; reader_id: string }[] = await this.db.query(`SELECT id, reader_id FROM tasks WHERE id = ANY($1::uuid[])`, [ids]);
    return new Map(rows.map((r) => [r.id, r.reader_id]));
  }

  /**
   * The scans that hold reader capacity (a `reserved` or `open` task) or wait for it (`reader_waitlist`): the ones the
   * capacity sweep checks for a closed workflow, each with the runs that hold or queued them (`run_id`; none for rows
   * written before runs were recorded).
   */
  async capacityHolders(): Promise<CapacityHolder[]> {
    const rows: { scan_id: string; run_ids: (string | null)[] }[] = await this.db.query(
      `SELECT scan_id, array_agg(DISTINCT run_id) AS run_ids
         FROM (SELECT scan_id, run_id FROM tasks WHERE status IN ('reserved', 'open')
               UNION ALL SELECT scan_id, run_id FROM reader_waitlist) held
        GROUP BY scan_id ORDER BY scan_id`,
    );
    return rows.map((r) => ({ scanId: r.scan_id, runIds: r.run_ids.filter((id): id is string => id !== null) }));
  }

  /**
   * The readers of a scan's other tasks for the same role and rounds that still count (anything but `cancelled`): a
   * reservation may not grant them again (one task per reader, role and round). `held`: the ones still holding the
   * reader (`reserved`/`open`: an earlier run's, until the sweep frees them).
   */
  async readersOfScanRounds(scanId: string, role: string, rounds: readonly number[], exceptIds: readonly string[]): Promise<{ reader_id: string; held: boolean }[]> {
    return this.db.query(
      `SELECT reader_id, bool_or(status IN ('reserved', 'open')) AS held FROM tasks
        WHERE scan_id = $1 AND role = $2 AND round = ANY($3::int[]) AND status <> 'cancelled' AND id <> ALL($4::uuid[])
        GROUP BY reader_id`,
      [scanId, role, [...rounds], [...exceptIds]],
    );
  }

  /**
   * After a re-run of a scan (same workflow id, a new run): its `reserved`/`open` tasks recorded with another run than
   * `currentRunId`. The ones in `keepIds` (the current run holds them: a reset run took them over) are recorded as the
   * current run's; the others are cancelled (their readers' capacity is free again) and returned.
   */
  async releaseEarlierRuns(
    scanId: string,
    currentRunId: string,
    keepIds: readonly string[],
  ): Promise<{ id: string; reader_id: string; status: 'reserved' | 'open'; run_id: string }[]> {
    await this.db.query(
      `UPDATE tasks SET run_id = $2
        WHERE scan_id = $1 AND status IN ('reserved', 'open') AND run_id IS NOT NULL AND run_id <> $2 AND id = ANY($3::uuid[])`,
      [scanId, currentRunId, [...keepIds]],
    );
    return this.db.query(
      `WITH stale AS (SELECT id, status FROM tasks
                       WHERE scan_id = $1 AND status IN ('reserved', 'open') AND run_id IS NOT NULL AND run_id <> $2
                         AND id <> ALL($3::uuid[]) FOR UPDATE),
            closed AS (UPDATE tasks t SET status = 'cancelled', closed_at = now() FROM stale WHERE t.id = stale.id
                       RETURNING t.id, t.reader_id, stale.status, t.run_id)
       SELECT id, reader_id, status, run_id FROM closed ORDER BY id`,
      [scanId, currentRunId, [...keepIds]],
    );
  }

  /**
   * Closes the tasks of a scan whose workflow has ended outside its own code (terminated, timed out): its `reserved`
   * and `open` rows would hold their readers' capacity for ever. Returns the closed rows.
   */
  async cancelHeldOf(scanId: string): Promise<{ id: string; reader_id: string; status: 'reserved' | 'open' }[]> {
    const rows: { id: string; reader_id: string; status: 'reserved' | 'open' }[] = await this.db.query(
      `WITH held AS (SELECT id, status FROM tasks WHERE scan_id = $1 AND status IN ('reserved', 'open') FOR UPDATE),
            closed AS (UPDATE tasks t SET status = 'cancelled', closed_at = now() FROM held WHERE t.id = held.id
                       RETURNING t.id, t.reader_id, held.status)
       SELECT id, reader_id, status FROM closed`,
      [scanId],
    );
    return rows;
  }

  /**
   * The projection's write: inserts a task or moves it on (a `reserved` row opens when its scan writes it). Terminal
   * statuses are final: a row that is neither `reserved` nor `open` is never changed again, so a late retry of an
   * older write cannot undo a newer one. `runId`: the workflow run writing it (recorded; a run that writes a task
   * holds it).
   */
  async upsert(t: TaskWrite, runId?: string): Promise<void> {
    await this.db.query(
      `INSERT INTO tasks (id, scan_id, reader_id, role, slot, round, status, assigned_at, due_at, submitted_at, closed_at, run_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, due_at = EXCLUDED.due_at,
         submitted_at = EXCLUDED.submitted_at, closed_at = EXCLUDED.closed_at, run_id = COALESCE(EXCLUDED.run_id, tasks.run_id)
       WHERE tasks.status IN ('reserved', 'open') OR EXCLUDED.status NOT IN ('reserved', 'open')`,
      [t.id, t.scanId, t.readerId, t.role, t.slot, t.round, t.status, t.assignedAt, t.dueAt, t.submittedAt ?? null, t.closedAt ?? null, runId ?? null],
    );
  }

  /**
   * Closes (`cancelled`) the tasks of a scan that still hold a reader's capacity, but those in `keep`: at a final stage
   * nothing of the scan is open. Its own workflow closed all of its tasks; what is left was written by an attempt of a
   * workflow task that was lost (a local activity's write) and that the workflow never knew. Returns the closed ids.
   */
  async closeLeftoversOf(scanId: string, keep: string[]): Promise<string[]> {
    const rows: { id: string }[] = await this.db.query(
      `UPDATE tasks SET status = 'cancelled', closed_at = now()
        WHERE scan_id = $1 AND status IN ('reserved', 'open') AND NOT (id = ANY($2::uuid[]))
        RETURNING id`,
      [scanId, keep],
    );
    return rows.map((r) => r.id);
  }
}
