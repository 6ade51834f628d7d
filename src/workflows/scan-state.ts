/**
 * The in-memory state of one `scanLifecycle` run: its stage, image, tasks and results, and the questions the
 * phases and handlers ask of them (open tasks, next deadline, who may still be assigned…).
 *
 * Holds no I/O of its own: writing the state to Postgres, the audit trail and search attributes is
 * `scan-projection.ts` (`s.projection`); waiting for a manager in `needs-attention` is `scan-attention.ts`
 * (`s.attention`). Everything here is deterministic: times come from the workflow clock (`Date.now()` in a
 * workflow is the time of the current workflow task), ids from `uuid4()` (seeded by the run).
 *
 * May import: `@temporalio/workflow`, `src/domain`, the scan's messages, and the two modules it composes.
 */
import { uuid4 } from '@temporalio/workflow';

import type { FusedResult, Reading, ReaderReading, ReadingPolicy, ScanAgreement, Taxonomy } from '../domain';
import { VINDR_CXR_TAXONOMY } from '../domain';
import { Mutex } from './mutex';
import { Attention } from './scan-attention';
import type { ScanImage, ScanLifecycleInput, ScanStage, TaskRole, TaskStatus } from './scan-lifecycle.messages';
import { ScanProjection } from './scan-projection';
import type { TaskState } from './scan-tasks';
import { iso } from './scan-tasks';

/**
 * What each stage is to the workflow: a `working` stage is where a resume goes back to, `attention` waits for a
 * manager, a `final` stage is never left. Exhaustive: a new stage must say which it is.
 */
export const STAGE_KIND = {
  ingesting: 'working',
  deidentifying: 'working',
  assigning: 'working',
  reading: 'working',
  reviewing: 'working',
  fusing: 'working',
  released: 'final',
  quarantined: 'final',
  'needs-attention': 'attention',
  cancelled: 'final',
} as const satisfies Record<ScanStage, 'working' | 'attention' | 'final'>;

/** State of a scan workflow run. */
export class ScanState {
  readonly scanId: string;
  readonly policy: ReadingPolicy;
  readonly taxonomy: Taxonomy = VINDR_CXR_TAXONOMY;
  readonly lock = new Mutex();
  /** Postgres rows, audit trail and search attributes of this run (every stage change goes through it). */
  readonly projection: ScanProjection;
  /** The `needs-attention` handshake: escalation, the wait for a manager, `resumeScan`. */
  readonly attention: Attention;

  stage: ScanStage = 'ingesting';
  /** The working stage to go back to when a manager resumes a scan in `needs-attention`. */
  workingStage: ScanStage = 'ingesting';
  image?: ScanImage;
  imageId?: string;
  deidentifiedKey?: string;
  readonly tasks = new Map<string, TaskState>();
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
  /** The parent batch has been told how ingest ended. */
  batchNotified = false;
  /** False until the first stage is entered: that one comes from nowhere (`from: null` in its audit event). */
  private entered = false;

  constructor(readonly input: ScanLifecycleInput) {
    this.scanId = input.scanId;
    this.policy = input.policy;
    this.projection = new ScanProjection(this);
    this.attention = new Attention(this);
  }

  /** Workflow time in ms (deterministic). */
  now(): number {
    return Date.now();
  }

  iso(ms: number): string {
    return iso(ms);
  }

  get terminal(): boolean {
    return STAGE_KIND[this.stage] === 'final';
  }

  /**
   * Moves to `stage` in memory and returns the stage it came from (`null` for the first one), or `undefined`
   * when the scan already ended (a final stage is never left). Only {@link ScanProjection.setStage} calls this.
   */
  enter(stage: ScanStage): { from: ScanStage | null } | undefined {
    if (this.terminal) return undefined;
    const from = this.entered ? this.stage : null;
    this.entered = true;
    this.stage = stage;
    if (STAGE_KIND[stage] === 'working') this.workingStage = stage;
    return { from };
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

  /** Readers holding an open task, sorted (the `Readers` search attribute). */
  openReaders(): string[] {
    return [...new Set(this.openTasks().map((t) => t.readerId))].sort();
  }

  /** Some open task is past its deadline (the `Overdue` search attribute). */
  isOverdue(): boolean {
    return this.openTasks().some((t) => t.overdue);
  }
}
