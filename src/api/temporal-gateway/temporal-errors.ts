import {
  ApplicationFailure,
  isGrpcDeadlineError,
  isGrpcServiceError,
  ServiceError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';

import { isOneOf, SCAN_REJECTION_TYPES } from '../../domain/vocabulary';
import type { ScanRejectionType } from '../../domain/vocabulary';
import {
  ConflictError,
  DomainError,
  FieldProblem,
  InvalidDeadlineError,
  InvalidSubmissionError,
  NotFoundError,
  TimeoutError,
  UnavailableError,
  ValidationFailedError,
} from '../errors';

function asFieldProblems(details: unknown): FieldProblem[] {
  // The workflow sends `[problems]` (one detail: the array); tolerate `problems` spread as details too.
  const list = Array.isArray(details) && details.length === 1 && Array.isArray(details[0]) ? details[0] : details;
  if (!Array.isArray(list)) return [];
  return list
    .filter((p): p is Record<string, unknown> => typeof p === 'object' && p !== null)
    .map((p) => ({ path: String(p.path ?? ''), code: String(p.code ?? 'invalid'), message: String(p.message ?? '') }));
}

/** `Task t is reassigned: a manager reassigned…`, without repeating the status when the reason only restates it. */
function taskNotOpenMessage(details: unknown): string | undefined {
  const d = (Array.isArray(details) ? details[0] : undefined) as { taskId?: unknown; status?: unknown; reason?: unknown } | undefined;
  if (!d || typeof d.taskId !== 'string' || typeof d.status !== 'string') return undefined;
  const reason = typeof d.reason === 'string' ? d.reason.trim() : '';
  const redundant = reason === '' || reason === d.status || reason === `the task is ${d.status}`;
  return redundant ? `Task ${d.taskId} is ${d.status}.` : `Task ${d.taskId} is ${d.status}: ${reason}.`;
}

/** One translation per rejection type of the scan workflow (exhaustive: a new type does not compile until mapped). */
const REJECTIONS = {
  // The workflow reports each problem at its path in the submission body (`boxes[0].label`): kept as they are.
  InvalidSubmission: (f) => new InvalidSubmissionError(asFieldProblems(f.details)),
  TaskNotFound: (_f, message) => new NotFoundError('task', message),
  TaskNotOpen: (f, message) => new ConflictError('task-not-open', taskNotOpenMessage(f.details) ?? message),
  ConflictingSubmission: (_f, message) => new ConflictError('conflicting-submission', message),
  InvalidState: (_f, message) => new ConflictError('invalid-state', message),
  NoEligibleReader: (f, message) => {
    const d = (Array.isArray(f.details) ? f.details[0] : undefined) as { why?: unknown; readerId?: unknown } | undefined;
    if (d?.why === 'unknown-reader') {
      return new ValidationFailedError([
        { path: 'toReaderId', code: 'unknown-reader', message: `no active radiologist with id "${String(d.readerId)}"` },
      ]);
    }
    return new ConflictError('no-eligible-reader', message);
  },
  InvalidDeadline: (_f, message) => new InvalidDeadlineError(message),
} satisfies Record<ScanRejectionType, (f: ApplicationFailure, message: string) => DomainError>;

/**
 * Maps an `ApplicationFailure` thrown by a workflow's update validator/handler (docs/architecture.md, "Messages of
 * scanLifecycle") to a domain error; undefined for a type the workflow does not declare.
 */
export function fromApplicationFailure(f: ApplicationFailure): DomainError | undefined {
  if (!isOneOf(SCAN_REJECTION_TYPES, f.type)) return undefined;
  return REJECTIONS[f.type](f, f.message || f.type || 'rejected by the workflow');
}

/** True for a gRPC/Temporal service error that means the server cannot be reached or is overloaded right now. */
function isTemporalUnavailable(e: unknown): boolean {
  if (e instanceof ServiceError) return true;
  if (isGrpcServiceError(e)) {
    // 14 UNAVAILABLE, 8 RESOURCE_EXHAUSTED, 1 CANCELLED (connection dropped), 13 INTERNAL (broken transport).
    return [1, 8, 13, 14].includes(e.code);
  }
  return (e as { name?: unknown } | null)?.name === 'ServiceError';
}

/**
 * Maps any error of a Temporal client call to a domain error: update rejections by their `ApplicationFailure` type,
 * `WorkflowNotFoundError` → 404, a missed deadline → 504, an unreachable server → 503. Undefined for anything else
 * (a bug: the filter answers 500).
 */
export function fromTemporalError(e: unknown, resource: 'scan' | 'batch' | 'release' = 'scan'): DomainError | undefined {
  if (e instanceof WorkflowNotFoundError) return new NotFoundError(resource);
  if (e instanceof WorkflowUpdateFailedError) return e.cause instanceof ApplicationFailure ? fromApplicationFailure(e.cause) : undefined;
  if (e instanceof ApplicationFailure) return fromApplicationFailure(e);
  if (e instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpcDeadlineError(e)) {
    return new TimeoutError(
      `The ${resource}'s workflow did not answer in time. The request may still take effect: check the ${resource}, or retry ` +
        '(an identical submission is accepted once).',
    );
  }
  // Some client paths wrap the failure one level deeper (e.g. a query failure or a start error).
  const cause = (e as { cause?: unknown } | null)?.cause;
  if (cause instanceof ApplicationFailure) return fromApplicationFailure(cause);
  if (cause instanceof WorkflowNotFoundError) return new NotFoundError(resource);
  if (isTemporalUnavailable(e) || isTemporalUnavailable(cause)) {
    return new UnavailableError('Temporal is unavailable; retry in a few seconds.');
  }
  return undefined;
}
