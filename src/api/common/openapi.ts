import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiProperty, ApiPropertyOptional, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import type { OpenAPIObject } from '@nestjs/swagger';

/** One problem of a 422 (`errors[]`). */
export class FieldProblemDto {
  @ApiProperty({ example: 'boxes[0].label', description: 'JSON path in the request body (`""`: the body itself)' })
  path!: string;
  @ApiProperty({ example: 'unknown-label' })
  code!: string;
  @ApiProperty()
  message!: string;
}

/** An RFC 9457 problem document: every error of this API. */
export class ProblemDto {
  @ApiProperty({ example: 'https://readflow.dev/problems/task-not-found', description: 'Stable problem type' })
  type!: string;
  @ApiProperty({ example: 'Not Found' })
  title!: string;
  @ApiProperty({ example: 404 })
  status!: number;
  @ApiProperty({ description: 'What went wrong, for a person' })
  detail!: string;
  @ApiPropertyOptional({ description: 'The request path' })
  instance?: string;
  @ApiPropertyOptional({ type: [FieldProblemDto], description: '422: every problem with its path' })
  errors?: FieldProblemDto[];
}

/** What each error status means in this API (used when a route does not say more). */
const MEANING: Record<number, string> = {
  401: 'Missing, unknown or revoked token, or a deactivated account',
  403: 'The caller’s role may not do this',
  404: 'Not found, or not the caller’s to see',
  409: 'Conflicts with the current state',
  413: 'The body or the upload is larger than allowed',
  415: 'The representation cannot be produced',
  416: 'The range cannot be satisfied',
  422: 'The request is invalid: every problem with its path (`errors`)',
  429: 'Too many requests for this token (see Retry-After)',
  503: 'Postgres or Temporal is unavailable; retry after Retry-After',
  504: 'The scan’s workflow did not answer in time; the request may still take effect (retry after Retry-After)',
};

const PROBLEM_CONTENT = { 'application/problem+json': { schema: { $ref: getSchemaPath(ProblemDto) } } };

/** Documents error answers of a route as problem documents: `@ApiProblems({ 404: 'Unknown task', 409: '…' })`. */
export function ApiProblems(responses: Partial<Record<number, string>>): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiExtraModels(ProblemDto, FieldProblemDto),
    ...Object.entries(responses).map(([status, description]) =>
      ApiResponse({ status: Number(status), description: description || MEANING[Number(status)] || 'Error', content: PROBLEM_CONTENT }),
    ),
  );
}

type Operation = {
  parameters?: unknown[];
  requestBody?: unknown;
  security?: unknown[];
  responses: Record<string, { description?: string; content?: Record<string, unknown> }>;
};

/**
 * The errors every operation can give through the global guards, pipe and filter, added to the document where a
 * route does not document them itself: 401 and 429 (authenticated routes), 422 (routes with parameters or a body:
 * the validation pipe), 503 (Postgres or Temporal down). Every 4xx/5xx is described as a problem document.
 */
export function withCommonProblems(doc: OpenAPIObject): OpenAPIObject {
  for (const methods of Object.values(doc.paths)) {
    for (const op of Object.values(methods) as Operation[]) {
      if (typeof op !== 'object' || op === null || !('responses' in op)) continue;
      const add = (status: number): void => {
        op.responses[status] ??= { description: MEANING[status] };
      };
      const isPublic = Array.isArray(op.security) && op.security.length === 0;
      if (!isPublic) {
        add(401);
        add(429);
      }
      if ((op.parameters?.length ?? 0) > 0 || op.requestBody !== undefined) add(422);
      add(503);
      for (const [status, response] of Object.entries(op.responses)) {
        if (/^[45]\d\d$/.test(status)) response.content = { ...PROBLEM_CONTENT, ...(response.content?.['application/problem+json'] ? response.content : {}) };
      }
    }
  }
  return doc;
}
