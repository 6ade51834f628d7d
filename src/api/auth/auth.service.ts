import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import type { ReaderRole } from '../../db/entities';
import { DATA_SOURCE } from '../deps';
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

  constructor(@Inject(DATA_SOURCE) private readonly ds: DataSource) {}

  /** The principal of an active reader's live token; undefined otherwise (see {@link lookup} for why). */
  async resolve(tokenHash: string): Promise<Principal | undefined> {
    const r = await this.lookup(tokenHash);
    return r && 'principal' in r ? r.principal : undefined;
  }

  async lookup(tokenHash: string): Promise<TokenResolution> {
    const now = Date.now();
    const hit = this.cache.get(tokenHash);
    if (hit && hit.until > now) return { principal: hit.principal };
    const rows: { reader_id: string; role: ReaderRole; active: boolean }[] = await this.ds.query(
      `SELECT t.reader_id, r.role, r.active
         FROM api_tokens t JOIN readers r ON r.id = t.reader_id
        WHERE t.token_hash = $1 AND t.revoked_at IS NULL`,
      [tokenHash],
    );
    if (rows.length === 0 || !rows[0].active) {
      this.cache.delete(tokenHash);
      return rows.length === 0 ? undefined : { deactivated: rows[0].reader_id };
    }
    const principal: Principal = { readerId: rows[0].reader_id, role: rows[0].role, tokenHash };
    if (this.cache.size >= AuthService.MAX_ENTRIES) this.cache.clear();
    this.cache.set(tokenHash, { principal, until: now + AuthService.TTL_MS });
    return { principal };
  }

  /** Forget every cached token of a reader (after revocation, deactivation or a role change). */
  evictReader(readerId: string): void {
    for (const [k, v] of this.cache) if (v.principal.readerId === readerId) this.cache.delete(k);
  }
}
