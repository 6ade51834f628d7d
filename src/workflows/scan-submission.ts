/**
 * Checking a `submitReading` against the scan's state: pure and synchronous, shared by the update's
 * validator (which rejects before anything is written to history) and its handler.
 */
import type { ApplicationFailure } from '@temporalio/common';

import type { Problem, Reading } from '../domain';
import { MAX_COMMENT_LENGTH, readingsEqual, validateReading } from '../domain';
import { rejections } from './failures';
import type { ReviewDecision, SubmitReadingInput } from './scan-lifecycle.messages';
import type { ScanState, TaskState } from './scan-state';

/** An acceptable submission: what to record (or that it was already recorded). */
export interface CheckedSubmission {
  task: TaskState;
  duplicate: boolean;
  reading: Reading;
  decision?: ReviewDecision;
  reason?: string;
}

const NOT_OPEN_REASONS: Record<string, string> = {
  expired: 'the deadline passed and the task was reassigned to another reader; late submissions are not accepted',
  reassigned: 'a manager reassigned the task to another reader',
  cancelled: 'the scan was cancelled',
};

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
    throw rejections.taskNotOpen({ taskId: task.id, status: task.status, reason: NOT_OPEN_REASONS[task.status] ?? task.status });
  }
  if (s.terminal) throw rejections.taskNotOpen({ taskId: task.id, status: task.status, reason: `the scan is ${s.stage}` });
  return { ...checked, task, duplicate: false };
}

function isSameSubmission(task: TaskState, c: Omit<CheckedSubmission, 'task' | 'duplicate'>): boolean {
  if (task.role === 'reviewer' && task.slot === 1) return task.decision === c.decision && (task.reason ?? '') === (c.reason ?? '');
  return task.reading !== undefined && readingsEqual(task.reading, c.reading) && (task.decision ?? 'submit') === (c.decision ?? 'submit');
}

function validateContent(s: ScanState, task: TaskState, input: SubmitReadingInput): Omit<CheckedSubmission, 'task' | 'duplicate'> {
  const problems: Problem[] = [];
  const isConfirmer = task.role === 'reviewer' && task.slot === 1;
  if (isConfirmer) {
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
    if (reason && reason.length > MAX_COMMENT_LENGTH) {
      problems.push({ path: 'reason', code: 'comment-too-long', message: `reason exceeds ${MAX_COMMENT_LENGTH} characters` });
    }
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
