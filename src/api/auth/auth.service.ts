import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import type { ReaderRole } from '../../db/entities';
import { DATA_SOURCE } from '../deps';
import type { Principal } from './principal';

/**
 * Resolves bearer tokens (stored hashed) to principals. A tiny positive cache (a few seconds) keeps the hot
 * inbox path to one query; revocation through this API evicts immediately, elsewhere within the TTL.
 */
@Injectable()
export class AuthService {
  private readonly cache = new Map<string, { principal: Principal; until: number }>();
  private static readonly TTL_MS = 5_000;
  private static readonly MAX_ENTRIES = 10_000;

  constructor(@Inject(DATA_SOURCE) private readonly ds: DataSource) {}

  async resolve(tokenHash: string): Promise<Principal | undefined> {
    const now = Date.now();
    const hit = this.cache.get(tokenHash);
    if (hit && hit.until > now) return hit.principal;
    const rows: { reader_id: string; role: ReaderRole }[] = await this.ds.query(
      `SELECT t.reader_id, r.role
         FROM api_tokens t JOIN readers r ON r.id = t.reader_id
        WHERE t.token_hash = $1 AND t.revoked_at IS NULL`,
      [tokenHash],
    );
    if (rows.length === 0) {
      this.cache.delete(tokenHash);
      return undefined;
    }
    const principal: Principal = { readerId: rows[0].reader_id, role: rows[0].role, tokenHash };
    if (this.cache.size >= AuthService.MAX_ENTRIES) this.cache.clear();
    this.cache.set(tokenHash, { principal, until: now + AuthService.TTL_MS });
    return principal;
  }

  /** Forget every cached token of a reader (after revocation or a role change). */
  evictReader(readerId: string): void {
    for (const [k, v] of this.cache) if (v.principal.readerId === readerId) this.cache.delete(k);
  }
}
