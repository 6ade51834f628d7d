import type { Db } from './sql';
import { timestampKey } from './sql';

/** An input refused at ingest. */
export interface QuarantinedInputRecord {
  id: string;
  sha256: string;
  scan_id: string | null;
  filename: string | null;
  reason: string;
  detail: string;
  size_bytes: string;
  created_at: Date;
  created_key: string;
}

/** Data access of `quarantined_inputs` (written by the ingest activities). */
export class QuarantinedInputsRepository {
  constructor(private readonly db: Db) {}

  /** Newest first, keyset over (created_at, id) on ix_quarantined_inputs_created (`limit + 1` rows). */
  page(page: { limit: number; after?: [string, string] }): Promise<QuarantinedInputRecord[]> {
    return this.db.query(
      `SELECT id, sha256, scan_id, filename, reason, detail, size_bytes, created_at, ${timestampKey('created_at')} AS created_key
         FROM quarantined_inputs
        ${page.after ? 'WHERE (created_at, id) < ($2::timestamptz, $3::uuid)' : ''}
        ORDER BY created_at DESC, id DESC LIMIT $1`,
      page.after ? [page.limit + 1, ...page.after] : [page.limit + 1],
    );
  }

  /** True when these bytes (by SHA-256) were refused before. */
  async has(sha256: string): Promise<boolean> {
    const rows: unknown[] = await this.db.query(`SELECT 1 FROM quarantined_inputs WHERE sha256 = $1`, [sha256]);
    return rows.length > 0;
  }

  async count(): Promise<number> {
    const [row]: { n: string }[] = await this.db.query(`SELECT count(*) AS n FROM quarantined_inputs`);
    return Number(row.n);
  }
}
