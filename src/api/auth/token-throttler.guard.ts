import { Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { ThrottlerLimitDetail } from '@nestjs/throttler';
import type { ExecutionContext } from '@nestjs/common';

import { RateLimitedError } from '../errors';
import { AuthedRequest, tokenHashOf } from './principal';

/** Rate limit per token (per client address when there is none). */
@Injectable()
export class TokenThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    const r = req as unknown as AuthedRequest;
    const hash = tokenHashOf(r);
    return hash ? `t:${hash}` : `ip:${r.ip ?? 'unknown'}`;
  }

  protected override async throwThrottlingException(_ctx: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    throw new RateLimitedError(`More than ${detail.limit} requests in ${Math.round(detail.ttl / 1000)} s for this token; retry later.`);
  }
}
