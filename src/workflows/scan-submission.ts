/**
 * `submitReading`: checking a submission against the scan's state (pure and synchronous, shared by the update's
 * validator, which rejects before anything is written to history, and its handler), then recording it.
 *
 * May import: `@temporalio/common` (types), `src/domain`, `./failures`, and `import type` of the scan state,
 * tasks and messages.
 */
import type { ApplicationFailure } from '@temporalio/common';

import type { Problem, Reading } from '../domain';
import { NOTE_TEXT, readingsEqual, textProblems, validateReading } from '../domain';
import { rejections } from './failures';
import type { ReviewDecision, SubmitReadingInput, SubmitReadingResult, TaskStatus } from './scan-lifecycle.messages';
import type { ScanState } from './scan-state';
import type { TaskState } from './scan-tasks';
import { isVerdict } from './scan-tasks';

/** An acceptable submission: what to record (or that it was already recorded). */
export interface CheckedSubmission {
  task: TaskState;
  duplicate: boolean;
  reading: Reading;
  decision?: ReviewDecision;
  reason?: string;
}

/** Why a task that is neither open nor submitted takes no submission. */
const NOT_OPEN_REASONS = {
  expired: 'the deadline passed and the task was reassigned to another reader; late submissions are not accepted',
  reassigned: 'a manager reassigned the task to another reader',
  cancelled: 'the scan was cancelled',
} satisfies Record<Exclude<TaskStatus, 'open' | 'submitted'>, string>;

/** Throws a typed rejection (`InvalidSubmission`, `TaskNotFound`, `TaskNotOpen`, `ConflictingSubmission`) or returns what to record. */
export function checkSubmission(s: ScanState, input: SubmitReadingInput): CheckedSubmission {
  if (typeof input !== 'object' || input === null || typeof input.taskId !== 'string' || typeof input.readerId !== 'string') {
    throw rejections.invalidSubmission([{ path: '', code: 'invalid-type', message: 'expected { taskId, readerId, reading }' }]);
  }
  const task = s.tasks.get(input.taskId);
  // Another reader's task is reported as not found: its existence is not the caller's business.
  if (!task || task.readerId !== input.readerId) throw rejections.taskNotFound(input.taskId);

  const checked = validateContent(s, task, input);
  if (task.status === 'submitted') {
    if (isSameSubmission(task, checked)) return { ...checked, task, duplicate: true };
    throw rejections.conflicting(task.id);
  }
  if (task.status !== 'open') {
    throw rejections.taskNotOpen({ taskId: task.id, status: task.status, reason: NOT_OPEN_REASONS[task.status] });
  }
  if (s.terminal) throw rejections.taskNotOpen({ taskId: task.id, status: task.status, reason: `the scan is ${s.stage}` });
  return { ...checked, task, duplicate: false };
}

function isSameSubmission(task: TaskState, c: Omit<CheckedSubmission, 'task' | 'duplicate'>): boolean {
  if (isVerdict(task)) return task.decision === c.decision && (task.reason ?? '') === (c.reason ?? '');
  return task.reading !== undefined && readingsEqual(task.reading, c.reading) && (task.decision ?? 'submit') === (c.decision ?? 'submit');
}

function validateContent(s: ScanState, task: TaskState, input: SubmitReadingInput): Omit<CheckedSubmission, 'task' | 'duplicate'> {
  const problems: Problem[] = [];
  if (isVerdict(task)) {
    // Second reviewer: confirm or return the first reviewer's proposal; the proposal is what gets recorded.
    if (input.decision !== 'confirm' && input.decision !== 'return') {
      problems.push({ path: 'decision', code: 'invalid-value', message: 'the second reviewer sends decision "confirm" or "return"' });
    }
    problems.push(...readingProblems(input.reading));
    const reason = typeof input.reason === 'string' ? input.reason.trim() : undefined;
    if (input.decision === 'return' && !reason) {
      problems.push({ path: 'reason', code: 'required', message: 'a returned review needs a reason' });
    }
    if (input.decision === 'confirm' && reason) {
      problems.push({ path: 'reason', code: 'not-allowed', message: 'a confirmation carries no reason (only a return does)' });
    }
    // A NUL or another control character would make the projection write fail for ever: rejected here, before history.
    if (reason) problems.push(...textProblems(reason, 'reason', { ...NOTE_TEXT, tooLongCode: 'comment-too-long' }));
    const proposal = s.reviewTask(task.round, 0)?.reading;
    if (problems.length > 0 || !proposal) throw invalid(problems, proposal);
    const out: Omit<CheckedSubmission, 'task' | 'duplicate'> = { reading: proposal, decision: input.decision };
    if (input.decision === 'return' && reason) out.reason = reason;
    return out;
  }
  if (task.role === 'reader' && input.decision !== undefined) {
    problems.push({ path: 'decision', code: 'unknown-field', message: 'readers send no decision' });
  }
  if (task.role === 'reviewer' && input.decision !== undefined && input.decision !== 'submit') {
    problems.push({ path: 'decision', code: 'invalid-value', message: 'the first reviewer sends decision "submit" (or none)' });
  }
  if (!s.image) throw rejections.invalidState('the scan has no image yet');
  const result = validateReading(input.reading, { taxonomy: s.taxonomy, image: s.image, maxBoxes: s.policy.maxBoxes });
  // Paths as in the submission body, where the reading's fields are at the top (`boxes[0].label`).
  if (!result.ok) problems.push(...result.problems);
  if (problems.length > 0 || !result.ok) throw rejections.invalidSubmission(problems);
  return task.role === 'reviewer' ? { reading: result.reading, decision: 'submit' } : { reading: result.reading };
}

/**
 * The second reviewer confirms or returns the first reviewer's proposal and sends no reading: anything it
 * sends as one (boxes, global labels, a comment) would be dropped, so it is refused. An absent reading,
 * `null` or `{}` is no reading.
 */
function readingProblems(reading: unknown): Problem[] {
  if (reading === undefined || reading === null) return [];
  if (typeof reading !== 'object' || Array.isArray(reading)) {
    return [{ path: '', code: 'not-allowed', message: 'the second reviewer confirms or returns; it sends no reading' }];
  }
  return Object.keys(reading).map((key) => ({
    path: key,
    code: 'not-allowed',
    message: `the second reviewer confirms or returns; it sends no reading (remove "${key}")`,
  }));
}

function invalid(problems: Problem[], proposal: Reading | undefined): ApplicationFailure {
  if (problems.length === 0 && !proposal) return rejections.invalidState('the first reviewer has not submitted a proposal yet');
  return rejections.invalidSubmission(problems);
}

/**
 * The `submitReading` handler: checks the submission again (the validator did, before it entered history), marks
 * the task submitted in memory at once, then writes the `tasks` row, the `readings` row and the audit event in one
 * step. Answers once that write is in Postgres; an identical repeat waits for the same write.
 */
export async function submitReading(s: ScanState, input: SubmitReadingInput): Promise<SubmitReadingResult> {
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
  const p = s.projection;
  p.syncSearchAttributes();
  const detail: Record<string, unknown> = { role: t.role, slot: t.slot, round: t.round, late: now > t.dueAt };
  if (c.decision) detail.decision = c.decision;
  if (c.reason) detail.reason = c.reason;
  // Batched runs: the submission completing a non-adaptive scan's readings goes with the step the main loop writes at
  // once (the release, or the move to `reviewing`).
  const completes =
    s.batched && t.role === 'reader' && !s.policy.adaptive && s.stage === 'reading' && !s.attention.waiting && !s.attention.holding && s.readingsComplete();
  const step: Parameters<ScanState['projection']['write']>[1] = {
    tasks: [p.taskRow(t)],
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
    audit: [p.audit('task:submitted', t.readerId, detail, t.id)],
  };
  t.written = completes ? p.holdWithNext(step) : p.write('recordReading', step);
  await t.written;
  return { status: 'accepted', duplicate: false, taskId: t.id };
}
