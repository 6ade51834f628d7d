/**
 * Typed rejections of the scan workflow's messages: non-retryable `ApplicationFailure`s whose `type`
 * the API maps to HTTP statuses (see docs/architecture.md).
 *
 * May import: `@temporalio/common`, `import type` of `src/domain` and the scan's messages.
 */
import { ApplicationFailure } from '@temporalio/common';

import type { Problem } from '../domain';
import type { ScanRejectionType, TaskNotOpenDetails } from './scan-lifecycle.messages';

function reject(type: ScanRejectionType, message: string, ...details: unknown[]): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details });
}

export const rejections = {
  invalidSubmission: (problems: Problem[]): ApplicationFailure =>
    reject('InvalidSubmission', `invalid submission: ${problems.map((p) => `${p.path || '<root>'}: ${p.message}`).join('; ')}`, problems),
  taskNotFound: (taskId: string): ApplicationFailure => reject('TaskNotFound', `no task ${taskId} for this reader on this scan`, { taskId }),
  taskNotOpen: (d: TaskNotOpenDetails): ApplicationFailure => reject('TaskNotOpen', `task ${d.taskId} is ${d.status}: ${d.reason}`, d),
  conflicting: (taskId: string): ApplicationFailure =>
    reject(
      'ConflictingSubmission',
      `task ${taskId} was already submitted with a different reading; a submission cannot be changed`,
      { taskId },
    ),
  invalidState: (message: string, detail: Record<string, unknown> = {}): ApplicationFailure =>
    reject('InvalidState', message, detail),
  noEligibleReader: (message: string, detail: Record<string, unknown> = {}): ApplicationFailure =>
    reject('NoEligibleReader', message, detail),
  invalidDeadline: (message: string): ApplicationFailure => reject('InvalidDeadline', message),
};
