import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import type { Config } from '../../config/config';
import type { StoredBox, TaskRole, TaskStatus } from '../../db/entities';
import { VINDR_CXR_TAXONOMY } from '../../domain';
import { isManager, Principal } from '../auth/principal';
import { decodeCursor, pageOf, tsKey } from '../common/cursor';
import type { Page } from '../common/cursor';
import { CONFIG, DATA_SOURCE } from '../deps';
import { ConflictError, FieldProblem, InvalidDeadlineError, InvalidSubmissionError, NotFoundError, ValidationFailedError } from '../errors';
import { MetricsService } from '../metrics/metrics.service';
import { ScanWorkflowsService } from '../workflows/scan-workflows.service';
import {
  ExtendDto,
  InboxItemDto,
  InboxQuery,
  ManagedTaskDto,
  ManagerTasksQuery,
  ReassignDto,
  ReassignResultDto,
  SubmissionDto,
  SubmissionResultDto,
  TaskDetailDto,
  TaskViewDto,
  TaxonomyDto,
} from './tasks.dto';

/** The columns of a `tasks` row the API reads. */
export interface TaskSqlRow {
  id: string;
  reader_id: string;
  role: TaskRole;
  slot: number;
  round: number;
  status: TaskStatus;
  assigned_at: Date;
  due_at: Date;
  submitted_at: Date | null;
}

/** A task row joined with its scan's image metadata. */
export interface TaskRecord extends TaskSqlRow {
  scan_id: string;
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The inbox query: one reader's tasks of one status, by deadline. Keyset over (due_at, id), served by
 * ix_tasks_reader_status_due (reader_id, status, due_at, id). Exported for the EXPLAIN test.
 */
export const INBOX_SQL = (withCursor: boolean): string => `
  SELECT t.id, t.role, t.status, t.assigned_at, t.due_at, ${tsKey('t.due_at')} AS due_key, s.image_id
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
  const params = 2; // $1 status, $2 limit
  let n = params;
  if (o.reader) where.push(`t.reader_id = $${++n}`);
  if (o.overdue) where.push('t.due_at < now()');
  if (o.cursor) where.push(`(t.due_at, t.id) > ($${++n}::timestamptz, $${++n}::uuid)`);
  return `
  SELECT t.id, t.scan_id, t.reader_id, t.role, t.slot, t.round, t.status, t.assigned_at, t.due_at, t.submitted_at,
         ${tsKey('t.due_at')} AS due_key, s.image_id
    FROM tasks t JOIN scans s ON s.id = t.scan_id
   WHERE ${where.join(' AND ')}
   ORDER BY t.due_at, t.id
   LIMIT $2`;
};

function iso(d: Date | null): string | null {
  return d === null ? null : new Date(d).toISOString();
}

const TAXONOMY: TaxonomyDto = {
  version: VINDR_CXR_TAXONOMY.version,
  noFinding: VINDR_CXR_TAXONOMY.noFinding,
  labels: VINDR_CXR_TAXONOMY.labels.map((l) => ({ id: l.id, name: l.name, kind: l.kind })),
};

/** Inboxes, task detail and the task messages (submission, reassignment, deadline) that go through the workflow. */
@Injectable()
export class TasksService {
  constructor(
    @Inject(DATA_SOURCE) private readonly ds: DataSource,
    @Inject(CONFIG) private readonly config: Config,
    private readonly workflows: ScanWorkflowsService,
    private readonly metrics: MetricsService,
  ) {}

  imageUrl(taskId: string): string {
    return `${this.config.http.publicUrl}/api/v1/tasks/${taskId}/image`;
  }

  /** `GET /me/tasks`: the caller's tasks of one status, by deadline. */
  async inbox(me: Principal, q: InboxQuery): Promise<Page<InboxItemDto>> {
    const limit = q.limit ?? 50;
    const after = decodeCursor(q.cursor, 2, ['timestamp', 'uuid']);
    if (after && !UUID.test(String(after[1]))) decodeCursor('!', 2);
    const params: unknown[] = [me.readerId, q.status ?? 'open', limit + 1];
    if (after) params.push(after[0], after[1]);
    const rows: { id: string; role: TaskRole; status: TaskStatus; assigned_at: Date; due_at: Date; due_key: string; image_id: string | null }[] =
      await this.ds.query(INBOX_SQL(!!after), params);
    return pageOf(
      rows,
      limit,
      (r) => [r.due_key, r.id],
      (r) => ({
        taskId: r.id,
        imageId: r.image_id?.trim() ?? '',
        role: r.role,
        status: r.status,
        assignedAt: new Date(r.assigned_at).toISOString(),
        dueAt: new Date(r.due_at).toISOString(),
        imageUrl: this.imageUrl(r.id),
      }),
    );
  }

  /** `GET /tasks`: what managers act on. */
  async managerList(q: ManagerTasksQuery): Promise<Page<ManagedTaskDto>> {
    const limit = q.limit ?? 50;
    const after = decodeCursor(q.cursor, 2, ['timestamp', 'uuid']);
    if (after && !UUID.test(String(after[1]))) decodeCursor('!', 2);
    const overdue = q.overdue === true;
    const status = overdue ? 'open' : (q.status ?? 'open');
    const params: unknown[] = [status, limit + 1];
    if (q.readerId) params.push(q.readerId);
    if (after) params.push(after[0], after[1]);
    const rows: (Omit<TaskRecord, 'rows' | 'columns' | 'pixel_spacing' | 'view_position' | 'modality' | 'transfer_syntax' | 'deidentified_key' | 'stage'> & {
      due_key: string;
    })[] = await this.ds.query(MANAGER_TASKS_SQL({ reader: !!q.readerId, overdue, cursor: !!after }), params);
    const now = Date.now();
    return pageOf(
      rows,
      limit,
      (r) => [r.due_key, r.id],
      (r) => ({
        taskId: r.id,
        scanId: r.scan_id,
        readerId: r.reader_id,
        imageId: r.image_id?.trim() ?? '',
        role: r.role,
        slot: r.slot,
        round: r.round,
        status: r.status,
        assignedAt: new Date(r.assigned_at).toISOString(),
        dueAt: new Date(r.due_at).toISOString(),
        submittedAt: iso(r.submitted_at),
        overdue: r.status === 'open' && new Date(r.due_at).getTime() < now,
        imageUrl: this.imageUrl(r.id),
      }),
    );
  }

  /**
   * The task if the caller may see it: its reader, or a manager/admin. Anyone else gets the same 404 as for
   * a task that does not exist (its existence is not revealed).
   */
  async visibleTask(me: Principal, taskId: string): Promise<TaskRecord> {
    if (!UUID.test(taskId)) throw new NotFoundError('task');
    const rows: TaskRecord[] = await this.ds.query(
      `SELECT t.id, t.scan_id, t.reader_id, t.role, t.slot, t.round, t.status, t.assigned_at, t.due_at, t.submitted_at,
              s.image_id, s.rows, s.columns, s.pixel_spacing, s.view_position, s.modality, s.transfer_syntax,
              s.deidentified_key, s.stage
         FROM tasks t JOIN scans s ON s.id = t.scan_id
        WHERE t.id = $1`,
      [taskId],
    );
    const task = rows[0];
    if (!task || (task.reader_id !== me.readerId && !isManager(me))) throw new NotFoundError('task');
    return task;
  }

  /**
   * The task whose image the caller may download: managers any task; its reader only while it is `open` or once it is
   * `submitted` (their own work). A task taken away (reassigned, expired, cancelled) no longer opens the image.
   */
  async imageTask(me: Principal, taskId: string): Promise<TaskRecord> {
    const task = await this.visibleTask(me, taskId);
    if (!isManager(me) && task.status !== 'open' && task.status !== 'submitted') {
      throw new NotFoundError('image', `Task ${taskId} is ${task.status}; its image is no longer available to you.`);
    }
    return task;
  }

  /** The task, image metadata, taxonomy, the caller's own submission and, for reviewers, what they review. */
  async detail(me: Principal, taskId: string): Promise<TaskDetailDto> {
    const t = await this.visibleTask(me, taskId);
    const own = t.reader_id === me.readerId;
    const imageId = t.image_id?.trim() ?? '';
    const out: TaskDetailDto = {
      task: {
        taskId: t.id,
        role: t.role,
        status: t.status,
        assignedAt: new Date(t.assigned_at).toISOString(),
        dueAt: new Date(t.due_at).toISOString(),
        submittedAt: iso(t.submitted_at),
        round: t.round,
        ...(isManager(me) ? { readerId: t.reader_id, scanId: t.scan_id } : {}),
      },
      image: {
        imageId,
        rows: t.rows,
        columns: t.columns,
        pixelSpacing: t.pixel_spacing,
        viewPosition: t.view_position,
        modality: t.modality,
        transferSyntax: t.transfer_syntax,
        url: this.imageUrl(t.id),
        previewUrl: `${this.imageUrl(t.id)}?format=png`,
      },
      taxonomy: TAXONOMY,
    };
    if (own) {
      const mine: { boxes: StoredBox[]; global_labels: string[]; comment: string | null }[] = await this.ds.query(
        `SELECT boxes, global_labels, comment FROM readings WHERE task_id = $1 AND reader_id = $2`,
        [t.id, me.readerId],
      );
      out.submission = mine[0]
        ? { boxes: mine[0].boxes, globalLabels: mine[0].global_labels, ...(mine[0].comment !== null ? { comment: mine[0].comment } : {}) }
        : null;
    }
    // Reviewers see the readings they review (only while the task is theirs and open); readers never do.
    if (t.role === 'reviewer' && (own || isManager(me)) && (t.status === 'open' || isManager(me))) {
      const ctx = await this.workflows.reviewContext(t.scan_id, t.id).catch(() => undefined);
      if (ctx) {
        out.review = {
          round: ctx.round,
          slot: ctx.slot,
          readings: ctx.readings,
          fused: ctx.fused as unknown as Record<string, unknown>,
          agreement: ctx.agreement as unknown as Record<string, unknown>,
          ...(ctx.proposal ? { proposal: ctx.proposal } : {}),
          returns: ctx.returns,
        };
      }
    }
    return out;
  }

  /** Sends the submission to the scan's workflow (`submitReading`); its answer is the truth. */
  async submit(me: Principal, taskId: string, body: SubmissionDto): Promise<SubmissionResultDto> {
    if (!UUID.test(taskId)) throw new NotFoundError('task');
    const rows: { scan_id: string; reader_id: string }[] = await this.ds.query(`SELECT scan_id, reader_id FROM tasks WHERE id = $1`, [taskId]);
    // Only the task's own reader submits; to anyone else it does not exist.
    if (!rows[0] || rows[0].reader_id !== me.readerId) {
      this.metrics.submissions.inc({ outcome: 'not-found' });
      throw new NotFoundError('task');
    }
    const hasReading = body.boxes !== undefined || body.globalLabels !== undefined || body.comment !== undefined;
    const reading = hasReading
      ? { boxes: body.boxes, globalLabels: body.globalLabels, ...(body.comment !== undefined ? { comment: body.comment } : {}) }
      : body.decision === undefined || body.decision === 'submit'
        ? {}
        : undefined;
    try {
      const res = await this.workflows
        .submitReading(rows[0].scan_id, {
          taskId,
          readerId: me.readerId,
          ...(reading !== undefined ? { reading: stripUndefined(reading) } : {}),
          ...(body.decision ? { decision: body.decision } : {}),
          ...(body.reason !== undefined ? { reason: body.reason } : {}),
        })
        .catch((e: unknown) => {
          // Paths (and the detail built from them) as in the request body: `boxes[0].label`, not `reading.boxes[0].label`.
          if (e instanceof InvalidSubmissionError) throw new InvalidSubmissionError(e.errors.map(bodyPath));
          throw closedScan(e, 'The scan is no longer in reading; this task is closed.');
        });
      this.metrics.submissions.inc({ outcome: res.duplicate ? 'duplicate' : 'accepted' });
      return { status: 'accepted', duplicate: res.duplicate, taskId: res.taskId ?? taskId };
    } catch (e) {
      const kind = (e as { kind?: string }).kind;
      this.metrics.submissions.inc({ outcome: kind === 'invalid-submission' ? 'invalid' : kind === 'conflict' ? 'conflict' : kind ?? 'error' });
      throw e;
    }
  }

  private async scanOfTask(taskId: string): Promise<string> {
    if (!UUID.test(taskId)) throw new NotFoundError('task');
    const rows: { scan_id: string }[] = await this.ds.query(`SELECT scan_id FROM tasks WHERE id = $1`, [taskId]);
    if (!rows[0]) throw new NotFoundError('task');
    return rows[0].scan_id;
  }

  async reassign(me: Principal, taskId: string, dto: ReassignDto): Promise<ReassignResultDto> {
    const scanId = await this.scanOfTask(taskId);
    if (dto.toReaderId !== undefined) {
      // A reader that does not exist (or is no radiologist) is a bad request, not a conflict with the scan's state.
      const target: { role: string }[] = await this.ds.query(`SELECT role FROM readers WHERE id = $1`, [dto.toReaderId]);
      if (target.length === 0 || target[0].role !== 'radiologist') {
        throw new ValidationFailedError([
          {
            path: 'toReaderId',
            code: 'unknown-reader',
            message: target.length === 0 ? `no reader with id "${dto.toReaderId}"` : `"${dto.toReaderId}" is a ${target[0].role}, not a radiologist`,
          },
        ]);
      }
    }
    const res = await this.workflows
      .reassignTask(scanId, { taskId, by: me.readerId, ...(dto.toReaderId ? { toReaderId: dto.toReaderId } : {}) })
      .catch((e: unknown) => {
        throw closedScan(e, 'The scan is closed; its tasks cannot be reassigned.');
      });
    this.metrics.reassignments.inc();
    return res;
  }

  async extend(me: Principal, taskId: string, dto: ExtendDto): Promise<TaskViewDto> {
    // Year 9999 is not a deadline: bounded by READFLOW_DEADLINE_HORIZON (issue 10, item 9).
    const horizon = this.config.security.deadlineHorizonMs;
    if (new Date(dto.dueAt).getTime() > Date.now() + horizon) {
      throw new InvalidDeadlineError(`dueAt is more than ${Math.round(horizon / 86_400_000)} days ahead (READFLOW_DEADLINE_HORIZON).`);
    }
    const scanId = await this.scanOfTask(taskId);
    const view = await this.workflows
      .extendDeadline(scanId, { taskId, dueAt: new Date(dto.dueAt).toISOString(), by: me.readerId })
      .catch((e: unknown) => {
        throw closedScan(e, 'The scan is closed; its deadlines cannot change.');
      });
    return {
      taskId: view.taskId,
      readerId: view.readerId,
      role: view.role,
      slot: view.slot,
      round: view.round,
      status: view.status,
      assignedAt: view.assignedAt,
      dueAt: view.dueAt,
      ...(view.submittedAt ? { submittedAt: view.submittedAt } : {}),
      overdue: view.overdue,
    };
  }
}

/** The workflow reports paths in its update input (`reading.boxes[0].label`); the HTTP body is the reading itself. */
function bodyPath(p: FieldProblem): FieldProblem {
  const path = p.path === 'reading' ? '' : p.path.startsWith('reading.') ? p.path.slice('reading.'.length) : p.path;
  return { ...p, path };
}

function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** An update to a scan whose workflow has completed answers "not found": the task exists, so it is a conflict. */
export function closedScan(e: unknown, message: string): unknown {
  if ((e as { kind?: string; resource?: string }).kind === 'not-found' && (e as { resource?: string }).resource === 'scan') {
    return new ConflictError('task-not-open', message);
  }
  return e;
}
