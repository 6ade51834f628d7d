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
  constructor(
    message: string,
    /** Extension members of the problem document (RFC 9457 §3.2), for the errors whose mapping adds them. */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * The base of each error class: its `kind` (the literal the filter switches over), a message and `extra` members.
 * Subclasses add a constructor where their problem document carries more (a resource, the 422's `errors`, a reason).
 */
function errorOfKind<const K extends string>(kind: K) {
  return class extends ApiErrorBase {
    readonly kind = kind;
  };
}

/** Missing, malformed, unknown or revoked bearer token (401). */
export class UnauthorizedError extends errorOfKind('unauthorized') {}

/** Authenticated, but the role may not do this (403). */
export class ForbiddenError extends errorOfKind('forbidden') {}

/** The resource does not exist, or exists but is not the caller's to see (404). */
export class NotFoundError extends errorOfKind('not-found') {
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

/** A 422 listing every problem with its path (`errors`); its detail names the first few after `lead`. */
abstract class FieldProblemsError extends ApiErrorBase {
  constructor(
    readonly errors: FieldProblem[],
    lead: string,
    message?: string,
  ) {
    super(message ?? problemsDetail(lead, errors));
  }
}

/** The request (body, query, path, multipart fields) failed validation at the edge (422). */
export class ValidationFailedError extends FieldProblemsError {
  readonly kind = 'validation-failed' as const;
  constructor(errors: FieldProblem[], message?: string) {
    super(errors, 'The request is invalid', message);
  }
}

/**
 * A submission was refused, by its shape at the edge or by the workflow's domain validation: every problem with its
 * path in the request body (`boxes[0].label`), one problem type for both (422).
 */
export class InvalidSubmissionError extends FieldProblemsError {
  readonly kind = 'invalid-submission' as const;
  constructor(errors: FieldProblem[], message?: string) {
    super(errors, 'The submission is invalid', message);
  }
}

/** A deadline that is in the past or otherwise refused by the workflow (422). */
export class InvalidDeadlineError extends errorOfKind('invalid-deadline') {}

/** Why a request conflicts with the current state (409). */
export type ConflictReason =
  | 'task-not-open'
  | 'conflicting-submission'
  | 'invalid-state'
  | 'no-eligible-reader'
  | 'not-released'
  | 'already-exists'
  | 'scan-exists-with-other-settings'
  | 'release-exists'
  | 'labels-outside-taxonomy';

/** The request conflicts with the scan's, task's or resource's current state (409). */
export class ConflictError extends errorOfKind('conflict') {
  constructor(
    readonly reason: ConflictReason,
    message: string,
    /** Extension members of the problem (e.g. the existing scan's id and settings). */
    extra: Record<string, unknown> = {},
  ) {
    super(message, extra);
  }
}

/** The requested representation cannot be produced, e.g. a PNG preview of an encoding no decoder supports (415). */
export class UnsupportedMediaError extends errorOfKind('unsupported-media') {}

/** The body or the uploaded file is larger than allowed (413). */
export class PayloadTooLargeError extends errorOfKind('payload-too-large') {}

/** A `Range` header that cannot be satisfied (416). */
export class RangeNotSatisfiableError extends errorOfKind('range-not-satisfiable') {
  constructor(readonly size: number) {
    super(`The range is outside the ${size}-byte resource.`);
  }
}

/** Too many requests for this token (429). */
export class RateLimitedError extends errorOfKind('rate-limited') {}

/** A dependency (Temporal, Postgres) is unreachable (503, with `Retry-After`); `extra` adds problem members. */
export class UnavailableError extends errorOfKind('unavailable') {}

/**
 * A dependency did not answer in time (504): e.g. a workflow update whose worker did not respond before the
 * gateway's deadline. The request may still take effect; `extra` adds problem members.
 */
export class TimeoutError extends errorOfKind('timeout') {}

/** An HTTP-level refusal raised by the framework itself (unsupported method, a malformed multipart…). */
export class HttpError extends errorOfKind('http') {
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
