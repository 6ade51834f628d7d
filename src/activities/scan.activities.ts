/**
 * Scan projection activities: they write the Postgres projection of a scan workflow (scans, tasks,
 * readings, scan_results, audit_events) and read the roster for assignment.
 *
 * Every write is idempotent and keyed by values the workflow chose (scan id, task ids, times, audit
 * sequence numbers), so a retried activity or a replayed workflow never duplicates a row, and each
 * activity applies one workflow step in one transaction.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { DataSource, EntityManager } from 'typeorm';

import type { RosterEntry } from '../domain';
import type { Logger } from '../logger';
import type { ScanImage, ScanSplit, ScanStage, ReviewDecision, TaskRole, TaskStatus } from '../workflows/scan-lifecycle.messages';

/** What the scan activities need. */
export interface ScanActivityDeps {
  dataSource: DataSource;
  logger?: Logger;
}

/** One audit event; `key` is deterministic (`<scanId>:<seq>:<action>`), so a retry inserts nothing new. */
export interface AuditEventRow {
  key: string;
  scanId: string;
  taskId?: string;
  /** A reader id, `system` or `workflow`. */
  actor: string;
  action: string;
  detail?: Record<string, unknown>;
  /** ISO-8601, the workflow's time of the event. */
  at: string;
}

/** Upsert of the `scans` row. Fields left `undefined` keep their stored value; `null` clears. */
export interface ScanRow {
  id: string;
  split: ScanSplit;
  policy: string;
  stage: ScanStage;
  batchId?: string | null;
  imageId?: string | null;
  image?: ScanImage | null;
  deidentifiedKey?: string | null;
  quarantineReason?: string | null;
  attentionReason?: string | null;
  /** ISO-8601. */
  releasedAt?: string | null;
}

/** Upsert of one `tasks` row (times ISO-8601, decided by the workflow). */
export interface TaskRow {
  id: string;
  scanId: string;
  readerId: string;
  role: TaskRole;
  slot: number;
  round: number;
  status: TaskStatus;
  assignedAt: string;
  dueAt: string;
  submittedAt?: string;
  closedAt?: string;
}

/** One accepted submission (`readings`, keyed by task id). */
export interface ReadingRow {
  taskId: string;
  scanId: string;
  readerId: string;
  role: TaskRole;
  boxes: { label: string; x_min: number; y_min: number; x_max: number; y_max: number }[];
  globalLabels: string[];
  comment?: string;
  decision?: ReviewDecision;
  submittedAt: string;
}

/** The released result (`scan_results`). */
export interface ResultRow {
  scanId: string;
  method: string;
  fusedBoxes: {
    label: string;
    x_min: number;
    y_min: number;
    x_max: number;
    y_max: number;
    score: number;
    readerIds: string[];
  }[];
  fusedGlobalLabels: string[];
  finalBoxes: { label: string; x_min: number; y_min: number; x_max: number; y_max: number }[];
  finalGlobalLabels: string[];
  agreement: Record<string, unknown>;
  releasedAt: string;
}

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

const SCAN_OPTIONAL: ReadonlyArray<[keyof ScanRow, string]> = [
  ['batchId', 'batch_id'],
  ['imageId', 'image_id'],
  ['deidentifiedKey', 'deidentified_key'],
  ['quarantineReason', 'quarantine_reason'],
  ['attentionReason', 'attention_reason'],
  ['releasedAt', 'released_at'],
];

async function upsertScan(em: EntityManager, s: ScanRow): Promise<void> {
  const cols = ['id', 'split', 'policy', 'stage'];
  const values: unknown[] = [s.id, s.split, s.policy, s.stage];
  const updates = ['stage = EXCLUDED.stage', 'updated_at = now()'];
  const add = (col: string, value: unknown, json = false): void => {
    values.push(json && value !== null ? JSON.stringify(value) : value);
    cols.push(col);
    updates.push(`${col} = EXCLUDED.${col}`);
  };
  for (const [key, col] of SCAN_OPTIONAL) {
    if (s[key] !== undefined) add(col, s[key]);
  }
  if (s.image !== undefined) {
    const img = s.image;
    add('modality', img?.modality ?? null);
    add('view_position', img?.viewPosition ?? null);
    add('rows', img?.rows ?? null);
    add('columns', img?.columns ?? null);
    add('pixel_spacing', img?.pixelSpacing ?? null, true);
    add('transfer_syntax', img?.transferSyntax ?? null);
  }
  const params = values.map((_, i) => `$${i + 1}`).join(', ');
  await em.query(
    `INSERT INTO scans (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${params})
     ON CONFLICT (id) DO UPDATE SET ${updates.map((u) => u.replace(/^(\w+)/, '"$1"')).join(', ')}`,
    values,
  );
}

/**
 * Inserts a task or moves it on. Terminal statuses are final: a row that is no longer `open` is never
 * changed again, so a late retry of an older write cannot undo a newer one.
 */
async function upsertTask(em: EntityManager, t: TaskRow): Promise<void> {
  await em.query(
    `INSERT INTO tasks (id, scan_id, reader_id, role, slot, round, status, assigned_at, due_at, submitted_at, closed_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, due_at = EXCLUDED.due_at,
       submitted_at = EXCLUDED.submitted_at, closed_at = EXCLUDED.closed_at
     WHERE tasks.status = 'open'`,
    [
      t.id,
      t.scanId,
      t.readerId,
      t.role,
      t.slot,
      t.round,
      t.status,
      t.assignedAt,
      t.dueAt,
      t.submittedAt ?? null,
      t.closedAt ?? null,
    ],
  );
}

async function insertReading(em: EntityManager, r: ReadingRow): Promise<void> {
  await em.query(
    `INSERT INTO readings (task_id, scan_id, reader_id, role, boxes, global_labels, comment, decision, submitted_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (task_id) DO NOTHING`,
    [
      r.taskId,
      r.scanId,
      r.readerId,
      r.role,
      JSON.stringify(r.boxes),
      JSON.stringify(r.globalLabels),
      r.comment ?? null,
      r.decision ?? null,
      r.submittedAt,
    ],
  );
}

async function upsertResult(em: EntityManager, r: ResultRow): Promise<void> {
  await em.query(
    `INSERT INTO scan_results (scan_id, method, fused_boxes, fused_global_labels, final_boxes, final_global_labels, agreement, released_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (scan_id) DO UPDATE SET method = EXCLUDED.method, fused_boxes = EXCLUDED.fused_boxes,
       fused_global_labels = EXCLUDED.fused_global_labels, final_boxes = EXCLUDED.final_boxes,
       final_global_labels = EXCLUDED.final_global_labels, agreement = EXCLUDED.agreement, released_at = EXCLUDED.released_at`,
    [
      r.scanId,
      r.method,
      JSON.stringify(r.fusedBoxes),
      JSON.stringify(r.fusedGlobalLabels),
      JSON.stringify(r.finalBoxes),
      JSON.stringify(r.finalGlobalLabels),
      JSON.stringify(r.agreement),
      r.releasedAt,
    ],
  );
}

async function insertAudit(em: EntityManager, events: readonly AuditEventRow[]): Promise<void> {
  for (const e of events) {
    await em.query(
      `INSERT INTO audit_events (event_key, scan_id, task_id, actor, action, detail, at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (event_key) DO NOTHING`,
      [e.key, e.scanId, e.taskId ?? null, e.actor, e.action, JSON.stringify(e.detail ?? {}), e.at],
    );
  }
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
async function permanentFailuresFinal(what: string, write: () => Promise<void>): Promise<void> {
  try {
    await write();
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

/** Applies one projection step in one transaction (scan first: tasks and readings reference it). */
export async function applyProjectionStep(ds: DataSource, step: ProjectionStep): Promise<void> {
  await ds.transaction(async (em) => {
    if (step.scan) await upsertScan(em, step.scan);
    for (const t of step.tasks ?? []) await upsertTask(em, t);
    if (step.reading) await insertReading(em, step.reading);
    if (step.result) await upsertResult(em, step.result);
    if (step.audit?.length) await insertAudit(em, step.audit);
  });
}

/** Builds the scan projection activities. */
export function createScanActivities(deps: ScanActivityDeps): ScanActivities {
  const { dataSource } = deps;
  const writer =
    (what: string) =>
    (step: ProjectionStep): Promise<void> =>
      permanentFailuresFinal(what, () => applyProjectionStep(dataSource, step));
  return {
    async loadRoster(): Promise<RosterEntry[]> {
      const rows: {
        id: string;
        active: boolean;
        senior: boolean;
        open_task_cap: number;
        open_tasks: string;
        assigned_count: string;
        last_assigned_at: Date | null;
      }[] = await dataSource.query(
        `SELECT r.id, r.active, r.senior, r.open_task_cap,
                COALESCE(t.open_tasks, 0) AS open_tasks, COALESCE(t.assigned_count, 0) AS assigned_count, t.last_assigned_at
           FROM readers r
           LEFT JOIN (
             SELECT reader_id, count(*) FILTER (WHERE status = 'open') AS open_tasks, count(*) AS assigned_count,
                    max(assigned_at) AS last_assigned_at
               FROM tasks GROUP BY reader_id
           ) t ON t.reader_id = r.id
          WHERE r.role = 'radiologist'
          ORDER BY r.id`,
      );
      return rows.map((r) => {
        const entry: RosterEntry = {
          readerId: r.id,
          active: r.active,
          senior: r.senior,
          openTasks: Number(r.open_tasks),
          openTaskCap: r.open_task_cap,
          assignedCount: Number(r.assigned_count),
        };
        if (r.last_assigned_at) entry.lastAssignedAt = new Date(r.last_assigned_at).getTime();
        return entry;
      });
    },
    recordScan: writer('recordScan'),
    recordTasks: writer('recordTasks'),
    recordReading: writer('recordReading'),
    recordRelease: writer('recordRelease'),
  };
}
