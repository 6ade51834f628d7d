/**
 * The API's domain errors: a small closed union. Services, the Temporal gateway (src/api/temporal-gateway) and the
 * edge (validation, body parsing) throw these; the one exception filter (problem.filter.ts) maps each `kind` to an
 * RFC 9457 problem with an exhaustive switch. Imports nothing (no Temporal, no Nest).
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

/**
 * A dependency did not answer in time (504): e.g. a workflow update whose worker did not respond before the
 * gateway's deadline. The request may still take effect; `extra` adds problem members.
 */
export class TimeoutError extends ApiErrorBase {
  readonly kind = 'timeout' as const;
  constructor(
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** An HTTP-level refusal raised by the framework itself (unsupported method, a malformed multipart…). */
export class HttpError extends ApiErrorBase {
  readonly kind = 'http' as const;
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    message: string,
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
  | UnavailableError
  | TimeoutError
  | HttpError;

export function isDomainError(e: unknown): e is DomainError {
  return e instanceof ApiErrorBase;
}
