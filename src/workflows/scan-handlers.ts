/**
 * Message handlers of `scanLifecycle`. Installed before the workflow's first `await`, so no message
 * delivered with the first workflow task is lost. Queries are read-only and synchronous; every update
 * has a synchronous validator that rejects (typed `ApplicationFailure`) before anything enters history.
 */
import { condition, patched, setHandler } from '@temporalio/workflow';

import type { AssignmentResult } from '../domain';

import { rejections } from './failures';
import { replaceTask } from './scan-assignment';
import type { ReviewContext, ScanStatus, SubmitReadingResult } from './scan-lifecycle.messages';
import {
  cancelScanUpdate,
  extendDeadlineUpdate,
  reassignTaskUpdate,
  resumeScanUpdate,
  reviewContextQuery,
  statusQuery,
  submitReadingUpdate,
} from './scan-lifecycle.messages';
import type { ScanState, TaskState } from './scan-state';
import { checkSubmission } from './scan-submission';

/**
 * `patched()` ids: each guards a change of the commands a workflow issues, so histories recorded before it
 * (scans that may still be running) replay unchanged. Never rename or reuse one.
 */
export const RESUME_REASSIGNS_ALL_OVERDUE = 'resume-reassigns-all-overdue';

/** The second review slot: confirms or returns the first reviewer's proposal. */
function isVerdict(t: TaskState): boolean {
  return t.role === 'reviewer' && t.slot === 1;
}

function requireActor(by: unknown): void {
  if (typeof by !== 'string' || by.length === 0) throw rejections.invalidState('`by` (the manager id) is required');
}

function openTask(s: ScanState, taskId: unknown): TaskState {
  const t = typeof taskId === 'string' ? s.tasks.get(taskId) : undefined;
  if (!t) throw rejections.taskNotFound(String(taskId));
  if (t.status !== 'open' || s.terminal) {
    throw rejections.taskNotOpen({ taskId: t.id, status: t.status, reason: s.terminal ? `the scan is ${s.stage}` : `the task is ${t.status}` });
  }
  return t;
}

/** Installs the queries and updates of the scan workflow. */
export function installScanHandlers(s: ScanState): void {
  setHandler(statusQuery, () => s.status());

  setHandler(reviewContextQuery, (taskId: string): ReviewContext => {
    const t = s.tasks.get(taskId);
    // Blinding: only reviewer tasks see the readers' work.
    if (!t || t.role !== 'reviewer' || !s.fused || !s.agreement || !s.image || !s.fusedReadings) throw rejections.taskNotFound(taskId);
    const ctx: ReviewContext = {
      taskId,
      round: t.round,
      slot: t.slot,
      image: s.image,
      readings: s.fusedReadings.map((r) => ({ readerId: r.readerId, reading: r.reading })),
      fused: s.fused,
      agreement: s.agreement,
      returns: [...s.returns],
    };
    const proposal = s.reviewTask(t.round, 0);
    if (t.slot === 1 && proposal?.reading) ctx.proposal = { readerId: proposal.readerId, reading: proposal.reading };
    return ctx;
  });

  setHandler(
    submitReadingUpdate,
    async (input): Promise<SubmitReadingResult> => {
      const c = checkSubmission(s, input);
      const t = c.task;
      if (c.duplicate) {
        await t.written;
        return { status: 'accepted', duplicate: true, taskId: t.id };
      }
      const now = s.now();
      t.status = 'submitted';
      t.submittedAt = now;
      t.closedAt = now;
      t.overdue = false;
      t.escalated = false;
      t.reading = c.reading;
      if (c.decision) t.decision = c.decision;
      if (c.reason) t.reason = c.reason;
      s.wake = true;
      s.syncSearchAttributes();
      const detail: Record<string, unknown> = { role: t.role, slot: t.slot, round: t.round, late: now > t.dueAt };
      if (c.decision) detail.decision = c.decision;
      if (c.reason) detail.reason = c.reason;
      t.written = s.write('recordReading', {
        tasks: [s.taskRow(t)],
        reading: {
          taskId: t.id,
          scanId: s.scanId,
          readerId: t.readerId,
          role: t.role,
          boxes: c.reading.boxes,
          globalLabels: c.reading.globalLabels,
          // The second reviewer's row keeps its verdict and, for a return, the reason (shown with the labels);
          // its boxes are the proposal it judged.
          ...(isVerdict(t) ? (c.reason !== undefined ? { comment: c.reason } : {}) : c.reading.comment !== undefined ? { comment: c.reading.comment } : {}),
          ...(c.decision ? { decision: c.decision } : {}),
          submittedAt: s.iso(now),
        },
        audit: [s.audit('task:submitted', t.readerId, detail, t.id)],
      });
      await t.written;
      return { status: 'accepted', duplicate: false, taskId: t.id };
    },
    { validator: (input) => void checkSubmission(s, input) },
  );

  setHandler(
    reassignTaskUpdate,
    async (input) =>
      s.lock.run(async () => {
        const t = openTask(s, input.taskId);
        const out = await replaceTask(s, t, { cause: 'reassigned', actor: input.by, toReaderId: input.toReaderId });
        if (out.ok) return { newTaskId: out.task.id, readerId: out.task.readerId, dueAt: s.iso(out.task.dueAt) };
        if (out.notOpen) throw rejections.taskNotOpen({ taskId: t.id, status: t.status, reason: `the task is ${t.status}` });
        const r = out.result;
        if (r.ok) throw rejections.invalidState('unexpected assignment result');
        throw rejections.noEligibleReader(
          r.reason === 'reader-not-eligible'
            ? `reader ${r.readerId} cannot take this task (${r.why})`
            : `no eligible reader (${r.eligible} of ${r.needed} needed)`,
          { ...r },
        );
      }),
    {
      validator: (input) => {
        requireActor(input.by);
        openTask(s, input.taskId);
        if (input.toReaderId !== undefined && typeof input.toReaderId !== 'string') throw rejections.invalidState('toReaderId must be a string');
      },
    },
  );

  setHandler(
    extendDeadlineUpdate,
    async (input) => {
      const t = openTask(s, input.taskId);
      const dueAt = Date.parse(input.dueAt);
      const from = t.dueAt;
      t.dueAt = dueAt;
      t.overdue = false;
      t.escalated = false;
      s.wake = true;
      s.syncSearchAttributes();
      await s.write('recordTasks', {
        tasks: [s.taskRow(t)],
        audit: [s.audit('task:deadline-extended', input.by, { from: s.iso(from), to: s.iso(dueAt) }, t.id)],
      });
      return s.taskView(t);
    },
    {
      validator: (input) => {
        requireActor(input.by);
        openTask(s, input.taskId);
        const dueAt = typeof input.dueAt === 'string' ? Date.parse(input.dueAt) : NaN;
        if (!Number.isFinite(dueAt)) throw rejections.invalidDeadline('dueAt must be an ISO-8601 date-time');
        if (dueAt <= s.now()) throw rejections.invalidDeadline('the new deadline must be in the future');
      },
    },
  );

  setHandler(
    cancelScanUpdate,
    async (input) => {
      s.cancelled = input.reason ? { by: input.by, reason: input.reason } : { by: input.by };
      const closed = s.openTasks();
      for (const t of closed) s.close(t, 'cancelled');
      s.wake = true;
      await s.setStage('cancelled', {
        actor: input.by,
        detail: input.reason ? { reason: input.reason } : {},
        scan: { attentionReason: null },
        tasks: closed.map((t) => s.taskRow(t)),
        // Each task that was open is cancelled with the scan, in the same step.
        events: closed.map((t) => ({
          action: 'task:cancelled',
          taskId: t.id,
          detail: { readerId: t.readerId, role: t.role, slot: t.slot, round: t.round, ...(input.reason ? { reason: input.reason } : {}) },
        })),
      });
      return s.status();
    },
    {
      validator: (input) => {
        requireActor(input.by);
        if (s.terminal || s.stage === 'fusing') throw rejections.invalidState(`a scan that is ${s.stage} cannot be cancelled`, { stage: s.stage });
      },
    },
  );

  setHandler(
    resumeScanUpdate,
    async (input) => {
      if (patched(RESUME_REASSIGNS_ALL_OVERDUE)) return resumeReassigningOverdue(s, input.by);
      // Scans that were resumed before RESUME_REASSIGNS_ALL_OVERDUE: only escalated tasks got a fresh
      // allowance, and the main loop reassigned them after the update had answered.
      const reason = s.attentionReason;
      s.attentionReason = undefined;
      for (const t of s.openTasks()) {
        if (!t.escalated) continue;
        // A fresh allowance of reassignments for the tasks that were handed to the manager.
        t.escalated = false;
        t.expiries = 0;
      }
      s.resumes += 1;
      s.wake = true;
      await s.setStage(s.workingStage, { actor: input.by, detail: { resumedFrom: reason ?? null }, scan: { attentionReason: null } });
      return s.status();
    },
    {
      validator: (input) => {
        requireActor(input.by);
        if (s.stage !== 'needs-attention') throw rejections.invalidState(`only a scan in needs-attention can be resumed (stage: ${s.stage})`, { stage: s.stage });
      },
    },
  );
}

/**
 * `resumeScan` (since {@link RESUME_REASSIGNS_ALL_OVERDUE}): every open task that is escalated or past its
 * deadline gets a fresh reassignment allowance and, when overdue, is reassigned at once, before the update
 * answers. When nobody is eligible for one of them, it stays open and overdue and the scan goes back to
 * `needs-attention` (`no-eligible-readers` / `no-eligible-reviewers`); the returned status says so. When the
 * main loop was waiting to retry ingest, assignment or review, the status is the one after its next decision.
 */
async function resumeReassigningOverdue(s: ScanState, by: string): Promise<ScanStatus> {
  const decisions = s.decisions;
  let loopDecides = false;
  await s.lock.run(async () => {
    if (s.stage !== 'needs-attention' || s.cancelled) return;
    loopDecides = s.awaitingDecision;
    const reason = s.attentionReason;
    s.attentionReason = undefined;
    const now = s.now();
    const stuck = s.openTasks().filter((t) => t.escalated || t.dueAt <= now);
    for (const t of stuck) {
      t.escalated = false;
      t.expiries = 0;
      // Also a task whose deadline passed while the scan waited for the manager.
      if (t.dueAt <= now) t.overdue = true;
    }
    s.resumes += 1;
    s.wake = true;
    await s.setStage(s.workingStage, { actor: by, detail: { resumedFrom: reason ?? null }, scan: { attentionReason: null } });
    const unassigned: { task: TaskState; result: AssignmentResult }[] = [];
    for (const t of stuck) {
      if (t.status !== 'open' || s.terminal) continue;
      const out = await replaceTask(s, t, { cause: 'expired', actor: 'workflow' });
      if (!out.ok && !out.notOpen) {
        // Stays open and overdue, handed back to the manager.
        t.escalated = true;
        unassigned.push({ task: t, result: out.result });
      }
    }
    if (unassigned.length > 0 && !s.terminal && s.cancelled === undefined) {
      s.syncSearchAttributes();
      const role = unassigned.some((u) => u.task.role === 'reader') ? 'reader' : 'reviewer';
      await s.escalate(role === 'reader' ? 'no-eligible-readers' : 'no-eligible-reviewers', {
        ...unassigned[0].result,
        taskIds: unassigned.map((u) => u.task.id),
      });
    }
  });
  // Ingest, assignment or review retries happen in the main loop: answer once it decided (a new
  // escalation included), not with the stage the resume merely went back to.
  if (loopDecides) await condition(() => s.decisions > decisions || s.cancelled !== undefined);
  return s.status();
}
