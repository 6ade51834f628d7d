import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import type { Observable } from 'rxjs';

import type { DomainError } from '../errors';

/**
 * A body that cannot be used (not JSON, not an object, too large) is found by Express middleware, before Nest knows
 * the route. The middleware keeps the problem on the request ({@link keepBodyProblem}) and lets the request reach its
 * route, where {@link BodyProblemInterceptor} throws it: the route's own filters then answer it (the submission route
 * reports it as `invalid-submission`, every other route as `validation-failed`), without any path matching.
 */
const BODY_PROBLEM = Symbol('readflow.bodyProblem');

type WithBodyProblem = Request & { [BODY_PROBLEM]?: DomainError };

/** Keeps a body problem for the route to throw; the request goes on without a body. */
export function keepBodyProblem(req: Request, problem: DomainError): void {
  (req as WithBodyProblem)[BODY_PROBLEM] = problem;
  req.body = undefined;
}

/** Throws the body problem kept by the middleware, in the route's context (global interceptor). */
@Injectable()
export class BodyProblemInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const problem = context.switchToHttp().getRequest<WithBodyProblem>()[BODY_PROBLEM];
    if (problem) throw problem;
    return next.handle();
  }
}
