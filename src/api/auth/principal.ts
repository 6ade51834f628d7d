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

/**
 * The codec cookie: a manager's or admin's token, set by `POST /api/v1/temporal-codec/session` (the page does it at
 * sign-in) for the Temporal UI, which cannot send a bearer token of ours but can send cookies ("include cross-origin
 * credentials"). HttpOnly, SameSite=Strict and scoped to the codec path: it authenticates nothing else.
 */
export const CODEC_COOKIE = 'readflow_codec';
export const CODEC_PATH = '/api/v1/temporal-codec';

/** The codec cookie's token on a request to the codec path (and only there). */
function codecCookieToken(req: AuthedRequest): string | undefined {
  const path = (req.originalUrl ?? req.url ?? '').split('?')[0];
  if (!path.startsWith(`${CODEC_PATH}/`)) return undefined;
  const cookies = typeof req.headers.cookie === 'string' ? req.headers.cookie.split(';') : [];
  for (const c of cookies) {
    const eq = c.indexOf('=');
    if (eq > 0 && c.slice(0, eq).trim() === CODEC_COOKIE) {
      const value = c.slice(eq + 1).trim();
      return BEARER.exec(`Bearer ${value}`) ? value : undefined;
    }
  }
  return undefined;
}

/**
 * SHA-256 of the request's bearer token (or, on the codec path only and without an `Authorization` header, of the
 * codec cookie's token), computed once per request (shared by the rate limiter and the auth guard).
 */
export function tokenHashOf(req: AuthedRequest): string | undefined {
  if (req.tokenHash === undefined) {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? BEARER.exec(header) : null;
    const cookie = header === undefined ? codecCookieToken(req) : undefined;
    req.tokenHash = m ? hashToken(m[1]) : cookie ? hashToken(cookie) : '';
  }
  return req.tokenHash || undefined;
}

/** The request's bearer token itself (the codec session copies it into its cookie). */
export function bearerTokenOf(req: AuthedRequest): string | undefined {
  const header = req.headers.authorization;
  const m = typeof header === 'string' ? BEARER.exec(header) : null;
  return m ? m[1] : undefined;
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
