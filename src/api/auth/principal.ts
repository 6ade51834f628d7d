import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Request } from 'express';

import type { ReaderRole } from '../../db/entities';
import { hashToken } from '../../db/tokens';

/** The authenticated caller, resolved from the bearer token. */
export interface Principal {
  readerId: string;
  role: ReaderRole;
  /** SHA-256 of the token (the rate-limit key). */
  tokenHash: string;
}

export type AuthedRequest = Request & { principal?: Principal; tokenHash?: string };

export const IS_PUBLIC = 'readflow:public';
export const ROLES = 'readflow:roles';

/** The route needs no token (health, metrics, ping). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);

/** Roles allowed on the route (absent: any authenticated caller). Others get 403. */
export const Roles = (...roles: ReaderRole[]): MethodDecorator & ClassDecorator => SetMetadata(ROLES, roles);

/** Injects the authenticated {@link Principal}. */
export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const req = ctx.switchToHttp().getRequest<AuthedRequest>();
  if (!req.principal) throw new Error('CurrentPrincipal used on a public route');
  return req.principal;
});

/** Managers and admins steer; radiologists only see their own work. */
export function isManager(p: Principal): boolean {
  return p.role === 'manager' || p.role === 'admin';
}

const BEARER = /^Bearer\s+([A-Za-z0-9._~+/=-]{16,512})\s*$/i;

/** SHA-256 of the request's bearer token, computed once per request (shared by the rate limiter and the auth guard). */
export function tokenHashOf(req: AuthedRequest): string | undefined {
  if (req.tokenHash === undefined) {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? BEARER.exec(header) : null;
    req.tokenHash = m ? hashToken(m[1]) : '';
  }
  return req.tokenHash || undefined;
}

/**
 * Why a request carries no usable token: no `Authorization` header, another scheme, or a bearer token that cannot
 * be one this API issued (it is then reported like an unknown token). Undefined when {@link tokenHashOf} has one.
 */
export function missingTokenReason(req: AuthedRequest): string | undefined {
  if (tokenHashOf(req)) return undefined;
  const header = req.headers.authorization;
  if (typeof header !== 'string' || header.trim() === '') return 'A bearer token is required (Authorization: Bearer <token>).';
  if (!/^Bearer(\s|$)/i.test(header.trim())) return 'The Authorization header must use the Bearer scheme (Authorization: Bearer <token>).';
  return 'The token is unknown or revoked.';
}
