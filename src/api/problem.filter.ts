import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Inject } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';

import {
  DomainError,
  HttpError,
  InvalidSubmissionError,
  isDomainError,
  NotFoundError,
  PayloadTooLargeError,
  problemsDetail,
  RateLimitedError,
  UnavailableError,
  ValidationFailedError,
} from './errors';
import type { Config } from '../config/config';
import { CONFIG, LOGGER } from './deps';

/**
 * The one exception filter: every error leaves as an RFC 9457 `application/problem+json` document. Domain errors
 * (src/api/errors.ts; the Temporal gateway already turned Temporal's errors into them) map to a problem in
 * {@link problemFor}, an exhaustive switch; errors of the framework and the database are first turned into domain
 * errors by {@link toDomainError}. Nothing else in the API writes an error response.
 */

/** Base of every problem `type` URI. */
export const PROBLEM_BASE = 'https://readflow.dev/problems/';

/** An RFC 9457 problem document as ReadFlow sends it. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: { path: string; code: string; message: string }[];
  [extension: string]: unknown;
}

function problem(slug: string, title: string, status: number, detail: string, extra: Record<string, unknown> = {}): ProblemDocument {
  return { type: `${PROBLEM_BASE}${slug}`, title, status, detail, ...extra };
}

/** The one place where a domain error becomes HTTP: an exhaustive switch over the union. */
export function problemFor(e: DomainError): ProblemDocument {
  switch (e.kind) {
    case 'unauthorized':
      return problem('unauthorized', 'Unauthorized', 401, e.message);
    case 'forbidden':
      return problem('forbidden', 'Forbidden', 403, e.message);
    case 'not-found':
      return problem(e.resource === 'route' ? 'not-found' : `${e.resource}-not-found`, 'Not Found', 404, e.message);
    case 'validation-failed':
      return problem('validation-failed', 'Unprocessable Content', 422, e.message, { errors: e.errors });
    case 'invalid-submission':
      return problem('invalid-submission', 'Invalid Submission', 422, e.message, { errors: e.errors });
    case 'invalid-deadline':
      return problem('invalid-deadline', 'Invalid Deadline', 422, e.message);
    case 'conflict':
      return problem(e.reason, 'Conflict', 409, e.message, e.extra);
    case 'unsupported-media':
      return problem('unsupported-media-type', 'Unsupported Media Type', 415, e.message, e.extra);
    case 'payload-too-large':
      return problem('payload-too-large', 'Content Too Large', 413, e.message);
    case 'range-not-satisfiable':
      return problem('range-not-satisfiable', 'Range Not Satisfiable', 416, e.message, { size: e.size });
    case 'rate-limited':
      return problem('rate-limited', 'Too Many Requests', 429, e.message);
    case 'unavailable':
      return problem('service-unavailable', 'Service Unavailable', 503, e.message, e.extra);
    case 'timeout':
      return problem('timeout', 'Gateway Timeout', 504, e.message, e.extra);
    case 'http':
      return problem(e.slug, e.title, e.status, e.message);
    default: {
      const unreachable: never = e;
      throw new Error(`unmapped domain error ${String(unreachable)}`);
    }
  }
}

/** Postgres error codes (SQLSTATE) and socket errors that mean "the database is not reachable right now". */
const PG_UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
  '08006', // connection_failure
  '53300', // too_many_connections
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
]);

/** node-postgres and pg-pool errors without a code. */
const PG_UNAVAILABLE_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection is not established|Cannot use a pool after calling end/i;

/**
 * True when `e` (a pg error, a TypeORM `QueryFailedError` wrapping one in `driverError`, or an `AggregateError` of
 * connection attempts) says the database cannot be reached, as opposed to a bad query.
 */
export function isDatabaseUnavailable(e: unknown, depth = 0): boolean {
  if (e === null || typeof e !== 'object' || depth > 4) return false;
  const x = e as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown; errors?: unknown };
  if (typeof x.code === 'string' && PG_UNAVAILABLE_CODES.has(x.code)) return true;
  if (typeof x.message === 'string' && PG_UNAVAILABLE_MESSAGES.test(x.message)) return true;
  if (Array.isArray(x.errors) && x.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  return isDatabaseUnavailable(x.driverError, depth + 1) || isDatabaseUnavailable(x.cause, depth + 1);
}

/** The file store is full (`ENOSPC`) or over its quota (`EDQUOT`), on the error or what it wraps. */
export function isStorageFull(e: unknown, depth = 0): boolean {
  if (e === null || typeof e !== 'object' || depth > 4) return false;
  const x = e as { code?: unknown; cause?: unknown };
  if (x.code === 'ENOSPC' || x.code === 'EDQUOT') return true;
  return isStorageFull(x.cause, depth + 1);
}

/** Seconds a client should wait before retrying after a 503. */
export const RETRY_AFTER_SECONDS = 5;

/** What the filter needs to word some problems. */
export interface ProblemContext {
  /** The multipart upload limit (`READFLOW_MAX_UPLOAD_BYTES`), named in 413s. */
  maxUploadBytes?: number;
}

function bytesText(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB (${n} bytes)`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB (${n} bytes)`;
  return `${n} bytes`;
}

/** Slugs of the HTTP statuses Nest itself raises. */
const HTTP_SLUGS: Record<number, string> = {
  400: 'bad-request',
  404: 'not-found',
  405: 'method-not-allowed',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
};

/**
 * Translates what the framework and the database throw (Nest's HttpExceptions, multer, the throttler, an unreachable
 * Postgres) into a domain error; undefined for anything else (a bug: 500).
 */
export function toDomainError(e: unknown, ctx: ProblemContext = {}): DomainError | undefined {
  if (isDomainError(e)) return e;
  if (isDatabaseUnavailable(e)) return new UnavailableError('The database is unavailable; retry in a few seconds.');
  if (e instanceof ThrottlerException) return new RateLimitedError('Too many requests for this token.');
  if (isStorageFull(e)) {
    // Writes to the store are atomic (temp file, then rename): nothing half-written stays, nothing was started.
    return new HttpError(507, 'insufficient-storage', 'Insufficient Storage', 'The file store is full: nothing was stored or started. Retry once space has been freed.');
  }
  if (e instanceof HttpException) {
    const status = e.getStatus();
    const res = e.getResponse();
    const detail = typeof res === 'string' ? res : String((res as { message?: unknown }).message ?? e.message);
    switch (status) {
      case HttpStatus.PAYLOAD_TOO_LARGE:
        // Multer says only "File too large".
        return new PayloadTooLargeError(
          ctx.maxUploadBytes !== undefined ? `The uploaded file is larger than the limit of ${bytesText(ctx.maxUploadBytes)}.` : detail,
        );
      case HttpStatus.BAD_REQUEST:
        // Multer and friends throw 400s about the request body: report them like other body problems.
        return new ValidationFailedError([{ path: '', code: 'invalid-body', message: detail }], detail);
      case HttpStatus.NOT_FOUND:
        return new NotFoundError('route', detail);
      default:
        return new HttpError(status, HTTP_SLUGS[status] ?? `http-${status}`, HttpStatus[status] ? titleOf(HttpStatus[status]) : 'Error', detail);
    }
  }
  return undefined;
}

function titleOf(constant: string): string {
  return constant
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
}

/** The one exception filter: every error leaves as `application/problem+json` (RFC 9457). */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    this.send(exception, ctx.getRequest<Request>(), ctx.getResponse<Response>());
  }

  /** Answers `req` with the problem document of `exception`. */
  protected send(exception: unknown, req: Request, res: Response): void {
    const mapped = toDomainError(exception, { maxUploadBytes: this.config.http.maxUploadBytes });
    let doc: ProblemDocument;
    if (mapped === undefined) {
      this.logger.error({ err: exception, method: req.method, url: req.originalUrl }, 'unhandled error');
      doc = problem('internal', 'Internal Server Error', 500, 'An unexpected error occurred.');
    } else {
      doc = problemFor(mapped);
      if (doc.status >= 500) this.logger.warn({ err: exception, url: req.originalUrl }, doc.detail);
    }
    doc.instance = req.originalUrl;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (doc.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="readflow"');
    if (doc.status === 503 || doc.status === 504) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
    res.status(doc.status).type('application/problem+json').send(JSON.stringify(doc));
  }
}

/**
 * The filter of the submission route (`@UseFilters(SubmissionProblemFilter)`): there every problem with the body —
 * its JSON, its shape at the edge, its content in the workflow — is one problem type, `invalid-submission`, with the
 * problems at their body paths. Everything else is answered as by {@link ProblemFilter}.
 */
@Catch()
export class SubmissionProblemFilter extends ProblemFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const asSubmission =
      exception instanceof ValidationFailedError ? new InvalidSubmissionError(exception.errors, submissionDetail(exception)) : exception;
    this.send(asSubmission, ctx.getRequest<Request>(), ctx.getResponse<Response>());
  }
}

/** The edge's detail, reworded for a submission when it was the generic one. */
function submissionDetail(e: ValidationFailedError): string {
  return e.message === problemsDetail('The request is invalid', e.errors) ? problemsDetail('The submission is invalid', e.errors) : e.message;
}
