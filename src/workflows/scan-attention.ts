/**
 * The `needs-attention` handshake of one `scanLifecycle` run: escalating to a manager, waiting for one, and
 * `resumeScan`. Two kinds of waits meet here:
 * - the main loop escalates when it cannot go on (ingest failed, nobody eligible to read or review, review rounds
 *   exhausted) with {@link Attention.escalateAndWait}, and decides again once resumed; a resume arriving then
 *   answers with the stage after that decision ({@link Attention.decided});
 * - a task stays open and overdue ({@link Attention.escalate} from the deadline handling): the loop keeps waiting
 *   for the task, and a resume reassigns it before it answers.
 *
 * May import: `@temporalio/workflow`, `./patches`, the assignment steps, the views, and `import type` of the
 * scan state, tasks and messages.
 */
import { condition } from '@temporalio/workflow';

import type { AssignmentResult } from '../domain';
import { RESUME_REASSIGNS_ALL_OVERDUE } from './patches';
import { replaceTask } from './scan-assignment';
import type { ScanStage, ScanStatus } from './scan-lifecycle.messages';
import type { RefusedWrite } from './scan-projection';
import type { ScanState } from './scan-state';
import type { TaskState } from './scan-tasks';
import { scanStatus } from './scan-views';

/** A stage a resume goes back to (mirrors `STAGE_KIND`'s `working`, without importing the state module). */
function stageIsWorking(stage: ScanStage): boolean {
  return !['waiting-for-readers', 'needs-attention', 'released', 'quarantined', 'cancelled'].includes(stage);
}

/** Why a scan waits for a manager (`attentionReason` of the `status` query and the `scans` row). */
export const ATTENTION_REASONS = [
  'ingest-failed',
  'no-eligible-readers',
  'no-eligible-reviewers',
  'review-rounds-exhausted',
  'task-overdue',
  'projection-refused',
] as const;
export type AttentionReason = (typeof ATTENTION_REASONS)[number];

export class Attention {
  /** Why the scan waits for a manager (meaningful while in `needs-attention`). */
  reason?: AttentionReason;
  /**
   * The main loop waits in `needs-attention` for a manager and will decide what a resume leads to (retry
   * ingest, assignment, reviewers, a review round); `decisions` counts the decisions it made, so a resume can
   * answer with the stage the scan actually went to.
   */
  private awaitingDecision = false;
  private decisions = 0;
  /**
   * A projection write Postgres refused for its data holds the scan in `needs-attention` (`projection-refused`):
   * the stage it held the scan in (or moved to meanwhile), restored when a manager resumes.
   */
  private held?: { stage: ScanStage; refused: RefusedWrite };
  /** A manager resumed a held scan in this run (its write must land before the run ends). */
  resumedHold = false;

  constructor(private readonly s: ScanState) {}

  /** In `needs-attention` (waiting for a manager). */
  get waiting(): boolean {
    return this.s.stage === 'needs-attention';
  }

  /**
   * Escalates to a manager: `needs-attention` with a reason. The caller does not wait for the manager here: the
   * main loop keeps waiting for the tasks (a late submission still completes the stage, see {@link resolved}).
   */
  escalate(reason: AttentionReason, detail: Record<string, unknown> = {}): Promise<void> {
    this.reason = reason;
    return this.s.projection.setStage('needs-attention', { detail: { reason, ...detail }, scan: { attentionReason: reason } });
  }

  /**
   * Escalates from the main loop and waits for `resumeScan` (true) or `cancelScan` (false); the loop then decides
   * again. The stage changes at once (before the write's await); this escalation is itself the decision a resume
   * already waiting on the loop gets, and a resume arriving from now on (even while the write is in flight) waits
   * for the loop's next decision.
   */
  async escalateAndWait(reason: AttentionReason, detail: Record<string, unknown> = {}): Promise<boolean> {
    const write = this.escalate(reason, detail);
    this.decided();
    this.awaitingDecision = true;
    await write;
    this.s.projection.flushAttributes();
    await condition(() => !this.waiting || this.s.cancelled !== undefined);
    return this.s.cancelled === undefined;
  }

  /** A refused projection write holds the scan (see {@link holdRefusedWrite}). */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** A stage the workflow moves to while held: remembered for the resume (the scan stays in `needs-attention`). */
  heldMove(stage: ScanStage): { from: ScanStage } {
    const held = this.held!;
    held.stage = stage;
    if (stageIsWorking(stage)) this.s.workingStage = stage;
    return { from: 'needs-attention' };
  }

  /**
   * A projection write Postgres refused for its data (`ProjectionDataError`): the scan goes to `needs-attention` with
   * the reason `projection-refused` and what Postgres said (SQLSTATE, table, column, constraint; never the values), and
   * the write waits for a manager. True when resumed (the write is tried again: the data or the schema was fixed),
   * false when cancelled (the write is given up). The `needs-attention` row is written beside the blocked queue, best
   * effort (it may be refused too); the `Stage` search attribute and the `status` query show it in any case.
   */
  async holdRefusedWrite(refused: RefusedWrite): Promise<boolean> {
    const s = this.s;
    if (!this.held) {
      const from = s.stage;
      this.held = { stage: from, refused };
      this.reason = 'projection-refused';
      s.stage = 'needs-attention';
      s.projection.syncSearchAttributes();
      const p = s.projection;
      void p.writeBesideQueue('recordScan', {
        scan: p.scanRow({ attentionReason: 'projection-refused' }),
        audit: [p.audit('stage:needs-attention', 'workflow', { from, to: 'needs-attention', reason: 'projection-refused', ...refused })],
      });
    }
    s.projection.flushAttributes();
    await condition(() => this.held === undefined || s.cancelled !== undefined);
    return s.cancelled === undefined;
  }

  /** `resumeScan` of a held scan: back to the stage it was held in, and the refused write is tried again. */
  private releaseHold(by: string): ScanStatus {
    const s = this.s;
    const held = this.held!;
    this.held = undefined;
    this.resumedHold = true;
    this.reason = undefined;
    s.stage = held.stage;
    s.wake = true;
    s.projection.syncSearchAttributes();
    const p = s.projection;
    // Queued after the refused write (tried again first) and what the workflow wrote while held.
    void p.write('recordScan', {
      scan: p.scanRow({ attentionReason: null }),
      audit: [p.audit('projection:resumed', by, { resumedFrom: 'projection-refused', stage: held.stage, activity: held.refused.activity })],
    });
    return scanStatus(s);
  }

  /** The main loop decided what happens next (a stage reached, tasks created, or a new escalation). */
  decided(): void {
    this.awaitingDecision = false;
    this.decisions += 1;
  }

  /*
   * The methods the main loop and the handlers await are plain functions returning the write's or the condition's
   * promise, not `async` wrappers around them: an extra `async` layer would add microtask turns and could reorder
   * commands issued by two coroutines woken in the same activation (recorded histories must replay unchanged).
   */

  /** While tasks are awaited in `needs-attention`: waits for a resume, a cancel, or `done()`. */
  waitWhileEscalated(done: () => boolean): Promise<void> {
    this.s.projection.flushAttributes();
    return condition(() => !this.waiting || this.s.cancelled !== undefined || done());
  }

  /** The missing work came in while escalated (e.g. a late reader on an escalated task): back to work. */
  resolved(): Promise<void> {
    this.reason = undefined;
    return this.s.projection.setStage(this.s.workingStage, { detail: { resolved: true }, scan: { attentionReason: null } });
  }

  /** `resumeScan` (validated: the scan is in `needs-attention`). Answers with the scan's status. Install it as the handler itself. */
  async resume(by: string): Promise<ScanStatus> {
    if (this.held) return this.releaseHold(by);
    if (this.s.has(RESUME_REASSIGNS_ALL_OVERDUE)) return this.resumeReassigningOverdue(by);
    // Scans that were resumed before RESUME_REASSIGNS_ALL_OVERDUE: only escalated tasks got a fresh
    // allowance, and the main loop reassigned them after the update had answered.
    await this.backToWork(
      by,
      this.s.openTasks().filter((t) => t.escalated),
    );
    return scanStatus(this.s);
  }

  /**
   * `resumeScan` (since {@link RESUME_REASSIGNS_ALL_OVERDUE}): every open task that is escalated or past its
   * deadline gets a fresh reassignment allowance and, when overdue, is reassigned at once, before the update
   * answers. When nobody is eligible for one of them, it stays open and overdue and the scan goes back to
   * `needs-attention` (`no-eligible-readers` / `no-eligible-reviewers`); the returned status says so. When the
   * main loop was waiting to retry ingest, assignment or review, the status is the one after its next decision.
   */
  private async resumeReassigningOverdue(by: string): Promise<ScanStatus> {
    const s = this.s;
    const decisions = this.decisions;
    let loopDecides = false;
    await s.lock.run(async () => {
      if (!this.waiting || s.cancelled) return;
      loopDecides = this.awaitingDecision;
      const now = s.now();
      const stuck = s.openTasks().filter((t) => t.escalated || t.dueAt <= now);
      // Also a task whose deadline passed while the scan waited for the manager.
      for (const t of stuck) if (t.dueAt <= now) t.overdue = true;
      await this.backToWork(by, stuck);
      const unassigned: { task: TaskState; result: AssignmentResult }[] = [];
      for (const t of stuck) {
        if (t.status !== 'open' || s.terminal) continue;
        const out = await replaceTask(s, t, { cause: 'expired', actor: 'workflow' });
        if (!out.ok && !out.notOpen && !out.waiting) {
          // Stays open and overdue, handed back to the manager.
          t.escalated = true;
          unassigned.push({ task: t, result: out.result });
        }
      }
      if (unassigned.length > 0 && !s.terminal && s.cancelled === undefined) {
        s.projection.syncSearchAttributes();
        await this.escalate(unassigned.some((u) => u.task.role === 'reader') ? 'no-eligible-readers' : 'no-eligible-reviewers', {
          ...unassigned[0].result,
          taskIds: unassigned.map((u) => u.task.id),
        });
      }
    });
    // Ingest, assignment or review retries happen in the main loop: answer once it decided (a new
    // escalation included), not with the stage the resume merely went back to.
    s.projection.flushAttributes();
    if (loopDecides) await condition(() => this.decisions > decisions || s.cancelled !== undefined);
    return scanStatus(s);
  }

  /** Leaves `needs-attention` for the working stage; `stuck` tasks get a fresh allowance of reassignments. */
  private backToWork(by: string, stuck: TaskState[]): Promise<void> {
    const resumedFrom = this.reason ?? null;
    this.reason = undefined;
    for (const t of stuck) {
      t.escalated = false;
      t.expiries = 0;
    }
    this.s.wake = true;
    return this.s.projection.setStage(this.s.workingStage, { actor: by, detail: { resumedFrom }, scan: { attentionReason: null } });
  }
}
