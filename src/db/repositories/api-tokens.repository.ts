import type { Db } from './sql';

/** Data access of `api_tokens` for roster management (tokens are stored only as SHA-256 hashes). */
export class ApiTokensRepository {
  constructor(private readonly db: Db) {}

  async insert(readerId: string, tokenHash: string): Promise<void> {
    await this.db.query(`INSERT INTO api_tokens (reader_id, token_hash) VALUES ($1, $2)`, [readerId, tokenHash]);
  }

  /** Revokes every live token of a reader. */
  async revokeAll(readerId: string): Promise<void> {
    await this.db.query(`UPDATE api_tokens SET revoked_at = now() WHERE reader_id = $1 AND revoked_at IS NULL`, [readerId]);
  }
}
