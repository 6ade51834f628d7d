/**
 * The in-memory state of one `scanLifecycle` run: its stage, image, tasks and results, and the questions the
 * phases and handlers ask of them (open tasks, next deadline, who may still be assigned…).
 *
 * Holds no I/O of its own: writing the state to Postgres, the audit trail and search attributes is
 * `scan-projection.ts` (`s.projection`); waiting for a manager in `needs-attention` is `scan-attention.ts`
 * (`s.attention`). Everything here is deterministic: times come from the workflow clock (`Date.now()` in a
 * workflow is the time of the current workflow task), ids from `uuid4()` (seeded by the run).
 *
 * May import: `@temporalio/workflow`, `src/domain`, the scan's messages, `patches.ts`, and the modules it composes.
 */
import { patched, uuid4 } from '@temporalio/workflow';

import type { FusedResult, Reading, ReaderReading, ReadingPolicy, ScanAgreement, Taxonomy } from '../domain';
import { readersRequired, VINDR_CXR_TAXONOMY } from '../domain';
import { Mutex } from './mutex';
import { PROJECT_TAXONOMY } from './patches';
import { Attention } from './scan-attention';
import { ReaderCapacity } from './scan-capacity';
import type { ScanExtension, ScanImage, ScanLifecycleInput, ScanStage, TaskRole, TaskStatus } from './scan-lifecycle.messages';
import { ScanProjection } from './scan-projection';
import type { TaskState } from './scan-tasks';
import { iso } from './scan-tasks';

/**
 * What each stage is to the workflow: a `working` stage is where a resume goes back to, `waiting` waits for reader
 * capacity (never for a manager: it goes back to its working stage by itself), `attention` waits for a manager, a
 * `final` stage is never left. Exhaustive: a new stage must say which it is.
 */
export const STAGE_KIND = {
  ingesting: 'working',
  deidentifying: 'working',
  assigning: 'working',
  'waiting-for-readers': 'waiting',
  reading: 'working',
  reviewing: 'working',
  fusing: 'working',
  released: 'final',
  quarantined: 'final',
  'needs-attention': 'attention',
  cancelled: 'final',
} as const satisfies Record<ScanStage, 'working' | 'waiting' | 'attention' | 'final'>;

/** State of a scan workflow run. */
export class ScanState {
  readonly scanId: string;
  readonly policy: ReadingPolicy;
  /** The labels of this scan: the project's own from the input (patch `project-taxonomy`), else VinDr-CXR's. */
  readonly taxonomy: Taxonomy;
  // A caller waiting for the lock may wait beyond this workflow task: search attributes as of now (lean runs).
  readonly lock = new Mutex(() => this.projection.flushAttributes());
  /** Postgres rows, audit trail and search attributes of this run (every stage change goes through it). */
  readonly projection: ScanProjection;
  /** The `needs-attention` handshake: escalation, the wait for a manager, `resumeScan`. */
  readonly attention: Attention;
  /** Readers granted by the one owner of reader capacity; the wait in `waiting-for-readers`. */
  readonly capacity: ReaderCapacity;

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
  /** Adaptive policies: the extension decision, once the first readings are in (`scan-adaptive.ts`). */
  extension?: ScanExtension;
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

  /**
   * A run under `LEAN_SCAN_HISTORY` (decided once, at the start of `scanLifecycle`, by its caller): every earlier patch
   * is taken as present without a marker (see {@link has}), and the projection keeps the history lean.
   */
  readonly lean: boolean;
  /**
   * A run under `BATCHED_SCAN_STEPS` (decided with {@link lean}, which it implies): one ingest activity, writes issued
   * while another is written go together, the submission completing the readings goes with the next step.
   */
  readonly batched: boolean;

  constructor(
    readonly input: ScanLifecycleInput,
    opts: { lean?: boolean; batched?: boolean } = {},
  ) {
    this.scanId = input.scanId;
    this.policy = input.policy;
    this.batched = opts.batched === true;
    this.lean = opts.lean === true || this.batched;
    // Only scans started with a taxonomy reach the patch marker: the histories of the others replay unchanged.
    this.taxonomy = input.taxonomy !== undefined && this.has(PROJECT_TAXONOMY) ? input.taxonomy : VINDR_CXR_TAXONOMY;
    this.projection = new ScanProjection(this);
    this.attention = new Attention(this);
    this.capacity = new ReaderCapacity(this);
  }

  /**
   * `patched(id)` of a patch older than `LEAN_SCAN_HISTORY`: a lean run started on code that had them all, so it takes
   * each as present without recording its marker; any other run asks `patched()` as before (same call, same place).
   */
  has(patchId: string): boolean {
    return this.lean || patched(patchId);
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
    // While a refused projection write holds the scan in `needs-attention`, the workflow's own moves are remembered
    // for the resume (`Attention.holdRefusedWrite`); only a cancel leaves at once.
    if (this.attention.holding && stage !== 'cancelled') return this.attention.heldMove(stage);
    if (this.terminal) return undefined;
    const from = this.entered ? this.stage : null;
    this.entered = true;
    this.stage = stage;
    if (STAGE_KIND[stage] === 'working') this.workingStage = stage;
    return { from };
  }

  // ---- tasks ----

  /** Creates an open task (in memory; the caller writes it). */
  newTask(args: {
    readerId: string;
    role: TaskRole;
    slot: number;
    round: number;
    expiries?: number;
    replaces?: string;
    /** Id and time chosen before a reservation (`newTaskId()`, the request's time). */
    id?: string;
    assignedAt?: number;
  }): TaskState {
    const assignedAt = args.assignedAt ?? this.now();
    const deadline = args.role === 'reader' ? this.policy.taskDeadlineMs : this.policy.reviewDeadlineMs;
    const t: TaskState = {
      id: args.id ?? uuid4(),
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

  /** A new task id (deterministic: seeded by the run). */
  newTaskId(): string {
    return uuid4();
  }

  /** Closes an open task with a final status (in memory). */
  close(t: TaskState, status: Exclude<TaskStatus, 'open'>): void {
    t.status = status;
    t.closedAt = this.now();
    t.overdue = false;
    t.escalated = false;
    if (t.awaitingReader) t.awaitingReader = false;
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
    return this.submittedReadings().length >= this.readingsRequired();
  }

  /** Readings this scan needs: the policy's readers, plus an adaptive extension's once decided. */
  readingsRequired(): number {
    return readersRequired(this.policy, this.extension?.extended === true);
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
      if (t.escalated || t.awaitingReader) continue;
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
