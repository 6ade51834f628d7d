import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { Response } from 'express';

import type { Config } from '../../config/config';
import { CONFIG } from '../deps';
import { RateLimitedError } from '../errors';
import { AuthService } from './auth.service';
import { AuthedRequest, tokenHashOf } from './principal';

/** Routes never limited: probes and scrapes must not fail because someone else flooded the API. */
export const RATE_LIMIT_EXEMPT = new Set(['/healthz', '/readyz', '/metrics']);

const WINDOW_MS = 60_000;
const MAX_BUCKETS = 100_000;

/** Fixed one-minute windows per bucket key, in memory (one API process; put a shared limiter in front for several). */
export class RateBuckets {
  private readonly buckets = new Map<string, { count: number; resetAt: number }>();

  /** Counts one request; returns the seconds to wait when over `limit`, else 0. */
  take(key: string, limit: number, now = Date.now()): number {
    let b = this.buckets.get(key);
    if (!b || b.resetAt <= now) {
      if (this.buckets.size >= MAX_BUCKETS) this.prune(now);
      b = { count: 0, resetAt: now + WINDOW_MS };
      this.buckets.set(key, b);
    }
    b.count += 1;
    return b.count > limit ? Math.max(1, Math.ceil((b.resetAt - now) / 1000)) : 0;
  }

  private prune(now: number): void {
    for (const [k, b] of this.buckets) if (b.resetAt <= now) this.buckets.delete(k);
    if (this.buckets.size >= MAX_BUCKETS) this.buckets.clear();
  }
}

/**
 * The rate limit (issue 10, item 4): one bucket per verified principal across every route
 * (`READFLOW_RATE_LIMIT_PER_MINUTE`); requests without a verified token — none, malformed, made up or revoked — share
 * one bucket per client address (`READFLOW_RATE_LIMIT_ANONYMOUS_PER_MINUTE`), so inventing tokens buys nothing. The
 * client address is the socket's unless the request came through a configured proxy (`READFLOW_TRUSTED_PROXIES`):
 * `X-Forwarded-For` from anyone else is ignored. Health, readiness and metrics are exempt. A 429 carries the standard
 * `Retry-After` header. Runs before the auth guard (the token lookup is cached, so that guard does not query again).
 */
@Injectable()
export class TokenThrottlerGuard implements CanActivate {
  private readonly buckets = new RateBuckets();

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly auth: AuthService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    if (RATE_LIMIT_EXEMPT.has(req.path)) return true;
    const hash = tokenHashOf(req);
    const found = hash ? await this.auth.lookup(hash) : undefined;
    const verified = found && 'principal' in found ? found.principal : undefined;
    const key = verified ? `p:${verified.readerId}` : `ip:${req.ip ?? req.socket?.remoteAddress ?? 'unknown'}`;
    const limit = verified ? this.config.http.rateLimitPerMinute : this.config.security.anonymousRateLimitPerMinute ?? this.config.http.rateLimitPerMinute;
    const wait = this.buckets.take(key, limit);
    if (wait > 0) {
      ctx.switchToHttp().getResponse<Response>().setHeader('Retry-After', String(wait));
      throw new RateLimitedError(
        verified
          ? `More than ${limit} requests a minute for this account; retry in ${wait} s.`
          : `More than ${limit} unauthenticated requests a minute from this address; retry in ${wait} s.`,
      );
    }
    return true;
  }
}
