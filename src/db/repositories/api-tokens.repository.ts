import type { ReaderRole } from '../../domain';
import type { Db } from './sql';

/** The reader a live (unrevoked) token belongs to. */
export interface TokenOwner {
  reader_id: string;
  role: ReaderRole;
  active: boolean;
}

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

  /** Who holds this live (unrevoked) token, by its hash; undefined for an unknown or revoked one. */
  async ownerOf(tokenHash: string): Promise<TokenOwner | undefined> {
    const rows: TokenOwner[] = await this.db.query(
      `SELECT t.reader_id, r.role, r.active
         FROM api_tokens t JOIN readers r ON r.id = t.reader_id
        WHERE t.token_hash = $1 AND t.revoked_at IS NULL`,
      [tokenHash],
    );
    return rows[0];
  }

  /** Inserts a token unless the same hash exists; true when it was new. */
  async insertIfNew(readerId: string, tokenHash: string): Promise<boolean> {
    const inserted: unknown[] = await this.db.query(
      `INSERT INTO api_tokens (reader_id, token_hash) VALUES ($1, $2)
       ON CONFLICT ON CONSTRAINT uq_api_tokens_token_hash DO NOTHING RETURNING id`,
      [readerId, tokenHash],
    );
    return inserted.length > 0;
  }

  /** Revokes every live token of a reader but one. */
  async revokeAllBut(readerId: string, keepHash: string): Promise<void> {
    await this.db.query(
      `UPDATE api_tokens SET revoked_at = now() WHERE reader_id = $1 AND token_hash <> $2 AND revoked_at IS NULL`,
      [readerId, keepHash],
    );
  }
}
