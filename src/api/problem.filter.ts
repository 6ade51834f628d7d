import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Inject } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import { isGrpcServiceError } from '@temporalio/client';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';

import { DomainError, FieldProblem, fromTemporalError, isDomainError } from './errors';
import { LOGGER } from './deps';

/** Base of every problem `type` URI. */
export const PROBLEM_BASE = 'https://readflow.dev/problems/';

/** An RFC 9457 problem document as ReadFlow sends it. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: FieldProblem[];
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
      return problem(e.reason, 'Conflict', 409, e.message);
    case 'unsupported-media':
      return problem('unsupported-media-type', 'Unsupported Media Type', 415, e.message);
    case 'payload-too-large':
      return problem('payload-too-large', 'Content Too Large', 413, e.message);
    case 'range-not-satisfiable':
      return problem('range-not-satisfiable', 'Range Not Satisfiable', 416, e.message, { size: e.size });
    case 'rate-limited':
      return problem('rate-limited', 'Too Many Requests', 429, e.message);
    case 'unavailable':
      return problem('unavailable', 'Service Unavailable', 503, e.message);
    default: {
      const unreachable: never = e;
      throw new Error(`unmapped domain error ${String(unreachable)}`);
    }
  }
}

/** Errors raised by body-parser (malformed JSON, too large) carry a `type` and a `status`. */
function bodyParserError(e: unknown): { type: string; status: number; message: string } | undefined {
  const x = e as { type?: unknown; status?: unknown; message?: unknown } | null;
  if (x && typeof x.type === 'string' && typeof x.status === 'number' && x.type.startsWith('entity.')) {
    return { type: x.type, status: x.status, message: String(x.message ?? '') };
  }
  return undefined;
}

/** Translates anything thrown (domain, Temporal, Nest, body-parser) into a domain error, or undefined for a 500. */
export function toDomainError(e: unknown): DomainError | ProblemDocument | undefined {
  if (isDomainError(e)) return e;
  const temporal = fromTemporalError(e);
  if (temporal) return temporal;
  const bp = bodyParserError(e);
  if (bp) {
    if (bp.type === 'entity.parse.failed') {
      return problem('validation-failed', 'Unprocessable Content', 422, 'The body is not valid JSON.', {
        errors: [{ path: '', code: 'invalid-json', message: bp.message }],
      });
    }
    if (bp.type === 'entity.too.large') return problem('payload-too-large', 'Content Too Large', 413, 'The body is too large.');
    return problem('bad-request', 'Bad Request', bp.status, bp.message);
  }
  if (e instanceof ThrottlerException) return problem('rate-limited', 'Too Many Requests', 429, 'Too many requests for this token.');
  if (e instanceof HttpException) {
    const status = e.getStatus();
    const slug: Record<number, string> = {
      400: 'bad-request',
      404: 'not-found',
      405: 'method-not-allowed',
      413: 'payload-too-large',
      415: 'unsupported-media-type',
    };
    const res = e.getResponse();
    const detail = typeof res === 'string' ? res : String((res as { message?: unknown }).message ?? e.message);
    if (status === HttpStatus.BAD_REQUEST) {
      // Multer and friends throw 400s about the request body: report them like other body problems.
      return problem('validation-failed', 'Unprocessable Content', 422, detail, {
        errors: [{ path: '', code: 'invalid-body', message: detail }],
      });
    }
    return problem(slug[status] ?? `http-${status}`, HttpStatus[status] ? titleOf(HttpStatus[status]) : 'Error', status, detail);
  }
  if (isGrpcServiceError(e) || (e as { name?: string } | null)?.name === 'ServiceError') {
    return problem('unavailable', 'Service Unavailable', 503, 'Temporal is unavailable; retry shortly.');
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
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const mapped = toDomainError(exception);
    let doc: ProblemDocument;
    if (mapped === undefined) {
      this.logger.error({ err: exception, method: req.method, url: req.originalUrl }, 'unhandled error');
      doc = problem('internal', 'Internal Server Error', 500, 'An unexpected error occurred.');
    } else {
      doc = isDomainError(mapped) ? problemFor(mapped) : mapped;
      if (doc.status >= 500) this.logger.warn({ err: exception, url: req.originalUrl }, doc.detail);
    }
    doc.instance = req.originalUrl;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (doc.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="readflow"');
    res.status(doc.status).type('application/problem+json').send(JSON.stringify(doc));
  }
}
