import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

import type { ReaderRole } from '../../db/entities';
import { ForbiddenError, UnauthorizedError } from '../errors';
import { AuthService } from './auth.service';
import { AuthedRequest, IS_PUBLIC, missingTokenReason, ROLES, tokenHashOf } from './principal';

/** Global guard: `Authorization: Bearer <token>` → principal (401), then the route's roles (403). */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const hash = tokenHashOf(req);
    if (!hash) throw new UnauthorizedError(missingTokenReason(req) ?? 'A bearer token is required.');
    const found = await this.auth.lookup(hash);
    if (!found) throw new UnauthorizedError('The token is unknown or revoked.');
    if (!('principal' in found)) throw new UnauthorizedError('This account is deactivated; ask an admin to reactivate it.');
    const { principal } = found;
    req.principal = principal;
    const roles = this.reflector.getAllAndOverride<ReaderRole[] | undefined>(ROLES, targets);
    if (roles && !roles.includes(principal.role)) {
      throw new ForbiddenError(`This action needs the role ${roles.join(' or ')}.`);
    }
    return true;
  }
}
