import { Inject, Injectable } from '@nestjs/common';

import type { Config } from '../../config/config';
import { isTaskId, ReadersRepository, ReadingsRepository, TasksRepository } from '../../db/repositories';
import type { TaskWithScan } from '../../db/repositories';
import { isManager, Principal } from '../auth/principal';
import { decodeCursor, pageOf } from '../common/cursor';
import { isOverdueRow, isoOrNull, taskCoreOf, taskSlotOf } from '../common/task-rows';
import type { Page } from '../common/cursor';
import { CONFIG } from '../deps';
import { InvalidDeadlineError, NotFoundError, ValidationFailedError } from '../errors';
import { MetricsService } from '../metrics/metrics.service';
import { TemporalGateway } from '../temporal-gateway/temporal-gateway.service';
// Only the wire shapes' types (the controller holds their validation and OpenAPI metadata).
import type * as dtos from './tasks.dto';

/** A keyset cursor over (due_at, id) of tasks; a cursor whose id is no uuid is refused like any malformed one. */
function taskCursor(cursor: string | undefined): [string, string] | undefined {
  const after = decodeCursor(cursor, 2, ['timestamp', 'uuid']);
  if (after && !isTaskId(String(after[1]))) decodeCursor('!', 2);
  return after ? [String(after[0]), String(after[1])] : undefined;
}

/** Inboxes, task detail and the task messages (submission, reassignment, deadline) that go through the workflow. */
@Injectable()
export class TasksService {
  /** The project's taxonomy (READFLOW_TAXONOMY_FILE, else VinDr-CXR's) as every task response carries it. */
  private readonly taxonomy: dtos.TaxonomyDto;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly tasks: TasksRepository,
    private readonly readings: ReadingsRepository,
    private readonly readers: ReadersRepository,
    private readonly workflows: TemporalGateway,
    private readonly metrics: MetricsService,
  ) {
    const t = config.taxonomy;
    this.taxonomy = { version: t.version, noFinding: t.noFinding, labels: t.labels.map((l) => ({ id: l.id, name: l.name, kind: l.kind })) };
  }

  imageUrl(taskId: string): string {
    return `${this.config.http.publicUrl}/api/v1/tasks/${taskId}/image`;
  }

  /** `GET /me/tasks`: the caller's tasks of one status, by deadline. */
  async inbox(me: Principal, q: dtos.InboxQuery): Promise<Page<dtos.InboxItemDto>> {
    const limit = q.limit ?? 50;
    const rows = await this.tasks.inbox(me.readerId, q.status ?? 'open', { limit, after: taskCursor(q.cursor) });
    return pageOf(
      rows,
      limit,
      (r) => [r.due_key, r.id],
      (r) => this.inboxItem(r),
    );
  }

  /** What a reader sees of a task in the inbox; managers see it too, with more (`managerList`). */
  private inboxItem(r: {
    id: string;
    image_id: string | null;
    role: dtos.InboxItemDto['role'];
    status: dtos.InboxItemDto['status'];
    assigned_at: Date | string;
    due_at: Date | string;
  }): dtos.InboxItemDto {
    return { ...taskCoreOf(r), imageId: r.image_id?.trim() ?? '', role: r.role, status: r.status, imageUrl: this.imageUrl(r.id) };
  }

  /** `GET /tasks`: what managers act on. */
  async managerList(q: dtos.ManagerTasksQuery): Promise<Page<dtos.ManagedTaskDto>> {
    const limit = q.limit ?? 50;
    const overdue = q.overdue === true;
    const status = overdue ? 'open' : (q.status ?? 'open');
    const rows = await this.tasks.managed({ status, readerId: q.readerId, overdue }, { limit, after: taskCursor(q.cursor) });
    const now = Date.now();
    return pageOf(
      rows,
      limit,
      (r) => [r.due_key, r.id],
      (r) => ({ ...this.inboxItem(r), ...taskSlotOf(r), scanId: r.scan_id, submittedAt: isoOrNull(r.submitted_at), overdue: isOverdueRow(r, now) }),
    );
  }

  /**
   * The task if the caller may see it: its reader, or a manager/admin. Anyone else gets the same 404 as for
   * a task that does not exist (its existence is not revealed).
   */
  async visibleTask(me: Principal, taskId: string): Promise<TaskWithScan> {
    const task = await this.tasks.withScan(taskId);
    if (!task || (task.reader_id !== me.readerId && !isManager(me))) throw new NotFoundError('task');
    return task;
  }

  /**
   * The task whose image the caller may download: managers any task; its reader only while it is `open` or once it is
   * `submitted` (their own work). A task taken away (reassigned, expired, cancelled) no longer opens the image.
   */
  async imageTask(me: Principal, taskId: string): Promise<TaskWithScan> {
    const task = await this.visibleTask(me, taskId);
    if (!isManager(me) && task.status !== 'open' && task.status !== 'submitted') {
      throw new NotFoundError('image', `Task ${taskId} is ${task.status}; its image is no longer available to you.`);
    }
    return task;
  }

  /** The task, image metadata, taxonomy, the caller's own submission and, for reviewers, what they review. */
  async detail(me: Principal, taskId: string): Promise<dtos.TaskDetailDto> {
    const t = await this.visibleTask(me, taskId);
    const own = t.reader_id === me.readerId;
    const imageId = t.image_id?.trim() ?? '';
    const out: dtos.TaskDetailDto = {
      task: {
        ...taskCoreOf(t),
        role: t.role,
        status: t.status,
        submittedAt: isoOrNull(t.submitted_at),
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
      taxonomy: this.taxonomy,
    };
    if (own) {
      const mine = await this.readings.ofTask(t.id, me.readerId);
      out.submission = mine ? { boxes: mine.boxes, globalLabels: mine.global_labels, ...(mine.comment !== null ? { comment: mine.comment } : {}) } : null;
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
  async submit(me: Principal, taskId: string, body: dtos.SubmissionDto): Promise<dtos.SubmissionResultDto> {
    const owner = await this.tasks.owner(taskId);
    // Only the task's own reader submits; to anyone else it does not exist.
    if (!owner || owner.reader_id !== me.readerId) {
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
      const res = await this.workflows.submitReading(owner.scan_id, {
        taskId,
        readerId: me.readerId,
        ...(reading !== undefined ? { reading: stripUndefined(reading) } : {}),
        ...(body.decision ? { decision: body.decision } : {}),
        ...(body.reason !== undefined ? { reason: body.reason } : {}),
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
    const owner = await this.tasks.owner(taskId);
    if (!owner) throw new NotFoundError('task');
    return owner.scan_id;
  }

  async reassign(me: Principal, taskId: string, dto: dtos.ReassignDto): Promise<dtos.ReassignResultDto> {
    const scanId = await this.scanOfTask(taskId);
    if (dto.toReaderId !== undefined) {
      // A reader that does not exist (or is no radiologist) is a bad request, not a conflict with the scan's state.
      const target = await this.readers.get(dto.toReaderId);
      if (!target || target.role !== 'radiologist') {
        throw new ValidationFailedError([
          {
            path: 'toReaderId',
            code: 'unknown-reader',
            message: !target ? `no reader with id "${dto.toReaderId}"` : `"${dto.toReaderId}" is a ${target.role}, not a radiologist`,
          },
        ]);
      }
    }
    const res = await this.workflows.reassignTask(scanId, { taskId, by: me.readerId, ...(dto.toReaderId ? { toReaderId: dto.toReaderId } : {}) });
    this.metrics.reassignments.inc();
    return res;
  }

  async extend(me: Principal, taskId: string, dto: dtos.ExtendDto): Promise<dtos.TaskViewDto> {
    // Year 9999 is not a deadline: bounded by READFLOW_DEADLINE_HORIZON (issue 10, item 9).
    const horizon = this.config.security.deadlineHorizonMs;
    if (new Date(dto.dueAt).getTime() > Date.now() + horizon) {
      throw new InvalidDeadlineError(`dueAt is more than ${Math.round(horizon / 86_400_000)} days ahead (READFLOW_DEADLINE_HORIZON).`);
    }
    const scanId = await this.scanOfTask(taskId);
    const view = await this.workflows.extendDeadline(scanId, { taskId, dueAt: new Date(dto.dueAt).toISOString(), by: me.readerId });
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

function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
