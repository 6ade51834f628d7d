import { Injectable } from '@nestjs/common';

import { ApiTokensRepository } from '../../db/repositories';
import type { Principal } from './principal';

/** What a token resolves to: a principal, a deactivated account, or nothing (unknown or revoked). */
export type TokenResolution = { principal: Principal } | { deactivated: string } | undefined;

/**
 * Resolves bearer tokens (stored hashed) to principals. A tiny positive cache (a few seconds) keeps the hot
 * inbox path to one query; revocation, deactivation and role changes through this API evict immediately
 * (`evictReader`), elsewhere (another API process) within the TTL.
 */
@Injectable()
export class AuthService {
  private readonly cache = new Map<string, { principal: Principal; until: number }>();
  private static readonly TTL_MS = 5_000;
  private static readonly MAX_ENTRIES = 10_000;

  constructor(private readonly tokens: ApiTokensRepository) {}

  /** The principal of an active reader's live token; undefined otherwise (see {@link lookup} for why). */
  async resolve(tokenHash: string): Promise<Principal | undefined> {
    const r = await this.lookup(tokenHash);
    return r && 'principal' in r ? r.principal : undefined;
  }

  async lookup(tokenHash: string): Promise<TokenResolution> {
    const now = Date.now();
    const hit = this.cache.get(tokenHash);
    if (hit && hit.until > now) return { principal: hit.principal };
    const owner = await this.tokens.ownerOf(tokenHash);
    if (!owner?.active) {
      this.cache.delete(tokenHash);
      return owner ? { deactivated: owner.reader_id } : undefined;
    }
    const principal: Principal = { readerId: owner.reader_id, role: owner.role, tokenHash };
    if (this.cache.size >= AuthService.MAX_ENTRIES) this.cache.clear();
    this.cache.set(tokenHash, { principal, until: now + AuthService.TTL_MS });
    return { principal };
  }

  /** Forget every cached token of a reader (after revocation, deactivation or a role change). */
  evictReader(readerId: string): void {
    for (const [k, v] of this.cache) if (v.principal.readerId === readerId) this.cache.delete(k);
  }
}
