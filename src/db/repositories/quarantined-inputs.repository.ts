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

  /** Refused inputs per reason, most frequent first. */
  async countByReason(): Promise<{ reason: string; n: number }[]> {
    const rows: { reason: string; n: string }[] = await this.db.query(
      `SELECT reason, count(*) AS n FROM quarantined_inputs GROUP BY reason ORDER BY count(*) DESC, reason`,
    );
    return rows.map((r) => ({ reason: r.reason, n: Number(r.n) }));
  }

  async count(): Promise<number> {
    const [row]: { n: string }[] = await this.db.query(`SELECT count(*) AS n FROM quarantined_inputs`);
    return Number(row.n);
  }

  /** The reason and detail recorded for these bytes, if they were refused before. */
  async recorded(sha256: string): Promise<{ reason: string; detail: string } | undefined> {
    const rows: { reason: string; detail: string }[] = await this.db.query(
      `SELECT reason, detail FROM quarantined_inputs WHERE sha256 = $1`,
      [sha256],
    );
    return rows[0];
  }

  /**
   * Records refused bytes (idempotent by SHA-256: a retry updates the reason, keeps the first scan). File names are
   * never written: they stay in the originals store (`filename` is kept NULL).
   */
  async record(q: { sha256: string; scanId: string; reason: string; detail: string; size: number }): Promise<void> {
    await this.db.query(
      `INSERT INTO quarantined_inputs (sha256, scan_id, filename, reason, detail, size_bytes)
       VALUES ($1, $2, NULL, $3, $4, $5)
       ON CONFLICT (sha256) DO UPDATE SET
         scan_id = COALESCE(quarantined_inputs.scan_id, EXCLUDED.scan_id),
         reason = EXCLUDED.reason,
         detail = EXCLUDED.detail`,
      [q.sha256, q.scanId, q.reason, q.detail.slice(0, 2000), String(q.size)],
    );
  }
}
