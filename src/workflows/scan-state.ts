/**
 * The in-memory state of one `scanLifecycle` run and the helpers that keep its projections in step:
 * Postgres rows (through serialized projection activities), the audit trail, and search attributes.
 *
 * Everything here is deterministic: times come from the workflow clock (`Date.now()` in a workflow is the
 * time of the current workflow task), ids from `uuid4()` (seeded by the run), never from I/O.
 */
import { upsertSearchAttributes, uuid4, workflowInfo } from '@temporalio/workflow';

import type { AuditEventRow, ProjectionStep, ScanRow, TaskRow } from '../activities/scan.activities';
import type { FusedResult, Reading, ReaderReading, ReadingPolicy, ScanAgreement, Taxonomy } from '../domain';
import { VINDR_CXR_TAXONOMY } from '../domain';
import { projection } from './activities';
import { Mutex } from './mutex';
import type {
  ReviewDecision,
  ScanImage,
  ScanLifecycleInput,
  ScanStage,
  ScanStatus,
  TaskRole,
  TaskStatus,
  TaskView,
} from './scan-lifecycle.messages';
import { OVERDUE, READERS, SCAN_ID, SPLIT, STAGE } from './search-attributes';

/** One reading or review task, as the workflow knows it (the source of truth for `tasks`). */
export interface TaskState {
  id: string;
  readerId: string;
  role: TaskRole;
  slot: number;
  round: number;
  status: TaskStatus;
  assignedAt: number;
  dueAt: number;
  submittedAt?: number;
  closedAt?: number;
  /** The task this one replaced, and the one that replaced it. */
  replaces?: string;
  replacedBy?: string;
  /** Deadline-driven reassignments in this slot so far (manager reassignments do not count). */
  expiries: number;
  /** Open and past its deadline. */
  overdue: boolean;
  /** Overdue and handed to a manager: not reassigned again until `resumeScan` or `extendDeadline`. */
  escalated: boolean;
  reading?: Reading;
  decision?: ReviewDecision;
  reason?: string;
  /** Completes once the accepted submission is in Postgres (idempotent repeats wait for it too). */
  written?: Promise<void>;
}

type ProjectionActivity = 'recordScan' | 'recordTasks' | 'recordReading' | 'recordRelease';

const TERMINAL: ReadonlySet<ScanStage> = new Set<ScanStage>(['released', 'quarantined', 'cancelled']);

/** State of a scan workflow run. */
export class ScanState {
  readonly scanId: string;
  readonly policy: ReadingPolicy;
  readonly taxonomy: Taxonomy = VINDR_CXR_TAXONOMY;
  readonly lock = new Mutex();

  stage: ScanStage = 'ingesting';
  /** The working stage to go back to when a manager resumes a scan in `needs-attention`. */
  workingStage: ScanStage = 'ingesting';
  image?: ScanImage;
  imageId?: string;
  deidentifiedKey?: string;
  readonly tasks = new Map<string, TaskState>();
  attentionReason?: string;
  quarantine?: { reason: string; detail: string };
  cancelled?: { by: string; reason?: string };
  fused?: FusedResult;
  agreement?: ScanAgreement;
  final?: Reading;
  releasedAt?: number;
  /** Reader-role readings fused (sorted by reader id), fixed when reading ends. */
  fusedReadings?: ReaderReading[];
  /** Current review round (0 before review) and the two senior reviewers, by slot. */
  reviewRound = 0;
  reviewers: string[] = [];
  /** Extra review rounds granted by `resumeScan` after the policy's rounds ran out. */
  extraReviewRounds = 0;
  readonly returns: { round: number; readerId: string; reason: string }[] = [];
  /** Set by message handlers so the main loop re-evaluates (deadlines moved, tasks replaced…). */
  wake = false;
  /** How often a manager resumed the scan from `needs-attention`. */
  resumes = 0;
  /**
   * The main loop waits in `needs-attention` for a manager and will decide what a resume leads to (retry
   * ingest, assignment, reviewers, a review round); `decisions` counts the decisions it made since, so a
   * resume can answer with the stage the scan actually went to.
   */
  awaitingDecision = false;
  decisions = 0;
  /** The parent batch has been told how ingest ended. */
  batchNotified = false;
  /** False until the first stage is entered: that one comes from nowhere (`from: null` in its audit event). */
  private entered = false;
  private auditSeq = 0;
  private writeTail: Promise<void> = Promise.resolve();
  private lastAttributes = '';

  constructor(readonly input: ScanLifecycleInput) {
    this.scanId = input.scanId;
    this.policy = input.policy;
  }

  /** Workflow time in ms (deterministic). */
  now(): number {
    return Date.now();
  }

  iso(ms: number): string {
    return new Date(ms).toISOString();
  }

  get terminal(): boolean {
    return TERMINAL.has(this.stage);
  }

  /**
   * An audit event with a deterministic key `<scanId>:<runId>:<seq>:<action>`: retries of the same step insert the
   * same key (ignored), and a later run of the same scan id (a corrected file after a quarantine) never collides.
   */
  audit(action: string, actor: string, detail: Record<string, unknown> = {}, taskId?: string): AuditEventRow {
    this.auditSeq += 1;
    const event: AuditEventRow = {
      key: `${this.scanId}:${workflowInfo().runId}:${this.auditSeq}:${action}`,
      scanId: this.scanId,
      actor,
      action,
      detail,
      at: this.iso(this.now()),
    };
    if (taskId) event.taskId = taskId;
    return event;
  }

  /** The `scans` row as of now, plus extra fields to write. */
  scanRow(extra: Partial<ScanRow> = {}): ScanRow {
    return {
      id: this.scanId,
      split: this.input.split,
      policy: this.policy.name,
      stage: this.stage,
      ...extra,
    };
  }

  taskRow(t: TaskState): TaskRow {
    const row: TaskRow = {
      id: t.id,
      scanId: this.scanId,
      readerId: t.readerId,
      role: t.role,
      slot: t.slot,
      round: t.round,
      status: t.status,
      assignedAt: this.iso(t.assignedAt),
      dueAt: this.iso(t.dueAt),
    };
    if (t.submittedAt !== undefined) row.submittedAt = this.iso(t.submittedAt);
    if (t.closedAt !== undefined) row.closedAt = this.iso(t.closedAt);
    return row;
  }

  /**
   * Writes a projection step. Writes run one after another in the order the workflow issued them,
   * so Postgres sees the same sequence of states as the workflow (a stage never goes backwards).
   */
  write(activity: ProjectionActivity, step: ProjectionStep): Promise<void> {
    const run = this.writeTail.then(() => projection[activity](step));
    this.writeTail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * Moves to `stage` (no-op once terminal), keeps search attributes current and writes scan row + audit.
   * `events` are audited in the same step, after the stage change and by the same actor.
   */
  setStage(
    stage: ScanStage,
    opts: {
      actor?: string;
      detail?: Record<string, unknown>;
      scan?: Partial<ScanRow>;
      tasks?: TaskRow[];
      events?: { action: string; detail?: Record<string, unknown>; taskId?: string }[];
    } = {},
  ): Promise<void> {
    if (this.terminal) return Promise.resolve();
    const from = this.entered ? this.stage : null;
    this.entered = true;
    this.stage = stage;
    if (stage !== 'needs-attention' && !TERMINAL.has(stage)) this.workingStage = stage;
    this.syncSearchAttributes();
    const actor = opts.actor ?? 'workflow';
    const audit = [this.audit(`stage:${stage}`, actor, { from, to: stage, ...opts.detail })];
    for (const e of opts.events ?? []) audit.push(this.audit(e.action, actor, e.detail, e.taskId));
    return this.write('recordScan', {
      scan: this.scanRow(opts.scan),
      ...(opts.tasks?.length ? { tasks: opts.tasks } : {}),
      audit,
    });
  }

  /** The main loop decided what happens after a `needs-attention` wait (see {@link awaitingDecision}). */
  decided(): void {
    this.awaitingDecision = false;
    this.decisions += 1;
  }

  /**
   * Escalates from the main loop, which then waits for `resumeScan` and decides again. The stage changes at once
   * (before the write's await); this escalation is itself the decision a resume already waiting on the loop gets,
   * and a resume arriving from now on (even while the write is in flight) waits for the loop's next decision.
   */
  escalateForDecision(reason: string, detail: Record<string, unknown> = {}): Promise<void> {
    const write = this.escalate(reason, detail);
    this.decided();
    this.awaitingDecision = true;
    return write;
  }

  /** Escalates to a manager: `needs-attention` with a reason (the workflow then waits for `resumeScan`). */
  escalate(reason: string, detail: Record<string, unknown> = {}): Promise<void> {
    this.attentionReason = reason;
    return this.setStage('needs-attention', { detail: { reason, ...detail }, scan: { attentionReason: reason } });
  }

  // ---- tasks ----

  /** Creates an open task (in memory; the caller writes it). */
  newTask(args: { readerId: string; role: TaskRole; slot: number; round: number; expiries?: number; replaces?: string }): TaskState {
    const assignedAt = this.now();
    const deadline = args.role === 'reader' ? this.policy.taskDeadlineMs : this.policy.reviewDeadlineMs;
    const t: TaskState = {
      id: uuid4(),
      readerId: args.readerId,
      role: args.role,
      slot: args.slot,
      round: args.round,
      status: 'open',
      assignedAt,
      dueAt: assignedAt + deadline,
      expiries: args.expiries ?? 0,
      overdue: false,
      escalated: false,
    };
    if (args.replaces) t.replaces = args.replaces;
    this.tasks.set(t.id, t);
    return t;
  }

  /** Closes an open task with a final status (in memory). */
  close(t: TaskState, status: Exclude<TaskStatus, 'open'>): void {
    t.status = status;
    t.closedAt = this.now();
    t.overdue = false;
    t.escalated = false;
  }

  openTasks(): TaskState[] {
    return [...this.tasks.values()].filter((t) => t.status === 'open');
  }

  /** Every reader who ever held a task on this scan (never assigned again: blinding and independence). */
  everInvolved(): string[] {
    return [...new Set([...this.tasks.values()].map((t) => t.readerId))];
  }

  /** Submitted reader-role tasks, one per slot. */
  submittedReadings(): TaskState[] {
    return [...this.tasks.values()].filter((t) => t.role === 'reader' && t.status === 'submitted');
  }

  readingsComplete(): boolean {
    return this.submittedReadings().length >= this.policy.readers;
  }

  /** The task holding a review slot in a round (open or submitted), if any. */
  reviewTask(round: number, slot: number): TaskState | undefined {
    return [...this.tasks.values()].find(
      (t) => t.role === 'reviewer' && t.round === round && t.slot === slot && (t.status === 'open' || t.status === 'submitted'),
    );
  }

  /** Earliest deadline among open tasks that still need handling. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const t of this.openTasks()) {
      if (t.escalated) continue;
      if (next === undefined || t.dueAt < next) next = t.dueAt;
    }
    return next;
  }

  // ---- views ----

  taskView(t: TaskState): TaskView {
    const v: TaskView = {
      taskId: t.id,
      readerId: t.readerId,
      role: t.role,
      slot: t.slot,
      round: t.round,
      status: t.status,
      assignedAt: this.iso(t.assignedAt),
      dueAt: this.iso(t.dueAt),
      overdue: t.overdue,
    };
    if (t.submittedAt !== undefined) v.submittedAt = this.iso(t.submittedAt);
    if (t.closedAt !== undefined) v.closedAt = this.iso(t.closedAt);
    if (t.replaces) v.replaces = t.replaces;
    if (t.decision) v.decision = t.decision;
    return v;
  }

  openReaders(): string[] {
    return [...new Set(this.openTasks().map((t) => t.readerId))].sort();
  }

  isOverdue(): boolean {
    return this.openTasks().some((t) => t.overdue);
  }

  status(): ScanStatus {
    const s: ScanStatus = {
      scanId: this.scanId,
      stage: this.stage,
      split: this.input.split,
      policy: this.policy.name,
      tasks: [...this.tasks.values()].map((t) => this.taskView(t)),
      openReaders: this.openReaders(),
      overdue: this.isOverdue(),
      readingsSubmitted: this.submittedReadings().length,
      readingsRequired: this.policy.readers,
      reviewRound: this.reviewRound,
    };
    if (this.imageId) s.imageId = this.imageId;
    if (this.image) s.image = this.image;
    if (this.quarantine) s.quarantine = this.quarantine;
    if (this.attentionReason && this.stage === 'needs-attention') s.attentionReason = this.attentionReason;
    if (this.cancelled) {
      s.cancelled = this.cancelled;
      if (this.cancelled.reason !== undefined) s.cancelReason = this.cancelled.reason;
    }
    if (this.releasedAt !== undefined) s.releasedAt = this.iso(this.releasedAt);
    return s;
  }

  /** Upserts Stage, Readers and Overdue when they changed (ScanId and Split are set once at start). */
  syncSearchAttributes(initial = false): void {
    const readers = this.openReaders();
    const overdue = this.isOverdue();
    const key = `${this.stage}|${readers.join(',')}|${overdue}`;
    if (!initial && key === this.lastAttributes) return;
    this.lastAttributes = key;
    upsertSearchAttributes([
      ...(initial
        ? [
            { key: SCAN_ID, value: this.scanId },
            { key: SPLIT, value: this.input.split },
          ]
        : []),
      { key: STAGE, value: this.stage },
      { key: READERS, value: readers },
      { key: OVERDUE, value: overdue },
    ]);
  }
}
