import { ApplicationFailure, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';

/**
 * The API's domain errors: a small closed union. Services throw these; the one exception filter
 * (problem.filter.ts) maps each `kind` to an RFC 9457 problem with an exhaustive switch.
 */

/** One problem of a 422 answer: a JSON path (`boxes[2].x_max`, `''` for the whole body), a stable code, a message. */
export interface FieldProblem {
  path: string;
  code: string;
  message: string;
}

abstract class ApiErrorBase extends Error {
  abstract readonly kind: string;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Missing, malformed, unknown or revoked bearer token (401). */
export class UnauthorizedError extends ApiErrorBase {
  readonly kind = 'unauthorized' as const;
}

/** Authenticated, but the role may not do this (403). */
export class ForbiddenError extends ApiErrorBase {
  readonly kind = 'forbidden' as const;
}

/** The resource does not exist, or exists but is not the caller's to see (404). */
export class NotFoundError extends ApiErrorBase {
  readonly kind = 'not-found' as const;
  constructor(readonly resource: 'task' | 'scan' | 'reader' | 'batch' | 'route' | 'image' | 'release' | 'release-file', message?: string) {
    super(message ?? `${resource} not found`);
  }
}

/** `<lead>: path: message; path: message.` (a few problems; `errors` has them all). */
export function problemsDetail(lead: string, errors: FieldProblem[]): string {
  if (errors.length === 0) return `${lead}.`;
  const shown = errors.slice(0, 5).map((p) => `${p.path || '(body)'}: ${p.message}`);
  return `${lead}: ${shown.join('; ')}${errors.length > shown.length ? `; and ${errors.length - shown.length} more` : ''}.`;
}

/** The request (body, query, path, multipart fields) failed validation at the edge (422). */
export class ValidationFailedError extends ApiErrorBase {
  readonly kind = 'validation-failed' as const;
  constructor(
    readonly errors: FieldProblem[],
    message = problemsDetail('The request is invalid', errors),
  ) {
    super(message);
  }
}

/**
 * A submission was refused, by its shape at the edge or by the workflow's domain validation: every problem with its
 * path in the request body (`boxes[0].label`), one problem type for both (422).
 */
export class InvalidSubmissionError extends ApiErrorBase {
  readonly kind = 'invalid-submission' as const;
  constructor(
    readonly errors: FieldProblem[],
    message = problemsDetail('The submission is invalid', errors),
  ) {
    super(message);
  }
}

/** A deadline that is in the past or otherwise refused by the workflow (422). */
export class InvalidDeadlineError extends ApiErrorBase {
  readonly kind = 'invalid-deadline' as const;
}

/** Why a request conflicts with the current state (409). */
export type ConflictReason =
  | 'task-not-open'
  | 'conflicting-submission'
  | 'invalid-state'
  | 'no-eligible-reader'
  | 'not-released'
  | 'already-exists'
  | 'scan-exists-with-other-settings'
  | 'release-exists';

/** The request conflicts with the scan's, task's or resource's current state (409). */
export class ConflictError extends ApiErrorBase {
  readonly kind = 'conflict' as const;
  constructor(
    readonly reason: ConflictReason,
    message: string,
    /** Extension members of the problem (e.g. the existing scan's id and settings). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The requested representation cannot be produced, e.g. a PNG preview of a compressed DICOM (415). */
export class UnsupportedMediaError extends ApiErrorBase {
  readonly kind = 'unsupported-media' as const;
}

/** The body or the uploaded file is larger than allowed (413). */
export class PayloadTooLargeError extends ApiErrorBase {
  readonly kind = 'payload-too-large' as const;
}

/** A `Range` header that cannot be satisfied (416). */
export class RangeNotSatisfiableError extends ApiErrorBase {
  readonly kind = 'range-not-satisfiable' as const;
  constructor(readonly size: number) {
    super(`The range is outside the ${size}-byte resource.`);
  }
}

/** Too many requests for this token (429). */
export class RateLimitedError extends ApiErrorBase {
  readonly kind = 'rate-limited' as const;
}

/** A dependency (Temporal, Postgres) is unreachable (503, with `Retry-After`); `extra` adds problem members. */
export class UnavailableError extends ApiErrorBase {
  readonly kind = 'unavailable' as const;
  constructor(
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The closed union the filter switches over. */
export type DomainError =
  | UnauthorizedError
  | ForbiddenError
  | NotFoundError
  | ValidationFailedError
  | InvalidSubmissionError
  | InvalidDeadlineError
  | ConflictError
  | UnsupportedMediaError
  | PayloadTooLargeError
  | RangeNotSatisfiableError
  | RateLimitedError
  | UnavailableError;

export function isDomainError(e: unknown): e is DomainError {
  return e instanceof ApiErrorBase;
}

function asFieldProblems(details: unknown): FieldProblem[] {
  // The workflow sends `[problems]` (one detail: the array), tolerate `problems` spread as details too.
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

/**
 * Maps an `ApplicationFailure` type thrown by a workflow's update validator/handler
 * (docs/architecture.md, "Messages of scanLifecycle") to a domain error; undefined for unknown types.
 */
export function fromApplicationFailure(f: ApplicationFailure): DomainError | undefined {
  const message = f.message || f.type || 'rejected by the workflow';
  switch (f.type) {
    case 'InvalidSubmission':
      // The detail is rebuilt from the problems (the caller may still rewrite their paths).
      return new InvalidSubmissionError(asFieldProblems(f.details));
    case 'TaskNotFound':
      return new NotFoundError('task', message);
    case 'TaskNotOpen':
      return new ConflictError('task-not-open', taskNotOpenMessage(f.details) ?? message);
    case 'ConflictingSubmission':
      return new ConflictError('conflicting-submission', message);
    case 'InvalidState':
      return new ConflictError('invalid-state', message);
    case 'NoEligibleReader': {
      const d = (Array.isArray(f.details) ? f.details[0] : undefined) as { why?: unknown; readerId?: unknown } | undefined;
      if (d?.why === 'unknown-reader') {
        return new ValidationFailedError([
          { path: 'toReaderId', code: 'unknown-reader', message: `no active radiologist with id "${String(d.readerId)}"` },
        ]);
      }
      return new ConflictError('no-eligible-reader', message);
    }
    case 'InvalidDeadline':
      return new InvalidDeadlineError(message);
    default:
      return undefined;
  }
}

/**
 * Maps a Temporal client error to a domain error: update rejections by their `ApplicationFailure` type,
 * `WorkflowNotFoundError` → 404. Returns undefined for anything else (a 500 or a 503, decided by the filter).
 */
export function fromTemporalError(e: unknown, resource: 'scan' | 'batch' = 'scan'): DomainError | undefined {
  if (e instanceof WorkflowNotFoundError) return new NotFoundError(resource);
  if (e instanceof WorkflowUpdateFailedError) {
    if (e.cause instanceof ApplicationFailure) return fromApplicationFailure(e.cause);
    return undefined;
  }
  if (e instanceof ApplicationFailure) return fromApplicationFailure(e);
  // Some client paths wrap the failure one level deeper (e.g. a query failure or a start error).
  const cause = (e as { cause?: unknown } | null)?.cause;
  if (cause instanceof ApplicationFailure) return fromApplicationFailure(cause);
  if (cause instanceof WorkflowNotFoundError) return new NotFoundError(resource);
  return undefined;
}
