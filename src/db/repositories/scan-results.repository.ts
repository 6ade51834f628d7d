import type { StoredBox } from '../entities/reading.entity';
import type { StoredFusedBox } from '../entities/scan-result.entity';
import type { Db } from './sql';
import { timestampKey } from './sql';

/** The released labels of a scan. */
export interface ScanResultRecord {
  scan_id: string;
  method: string;
  fused_boxes: StoredFusedBox[];
  fused_global_labels: string[];
  final_boxes: StoredBox[];
  final_global_labels: string[];
  agreement: Record<string, unknown>;
  released_at: Date;
}

/** Upsert of the released result by the scan workflow's projection. */
export interface ScanResultWrite {
  scanId: string;
  method: string;
  fusedBoxes: StoredFusedBox[];
  fusedGlobalLabels: string[];
  finalBoxes: StoredBox[];
  finalGlobalLabels: string[];
  agreement: Record<string, unknown>;
  releasedAt: string;
}

/** Data access of `scan_results`: the fused proposal, final labels and agreement of each released scan. */
export class ScanResultsRepository {
  constructor(private readonly db: Db) {}

  async get(scanId: string): Promise<ScanResultRecord | undefined> {
    const rows: ScanResultRecord[] = await this.db.query(
      `SELECT scan_id, method, fused_boxes, fused_global_labels, final_boxes, final_global_labels, agreement, released_at
         FROM scan_results WHERE scan_id = $1`,
      [scanId],
    );
    return rows[0];
  }

  /** The results of some scans, by scan id. */
  of(scanIds: string[]): Promise<ScanResultRecord[]> {
    return this.db.query(
      `SELECT scan_id, method, fused_boxes, fused_global_labels, final_boxes, final_global_labels, agreement, released_at
         FROM scan_results WHERE scan_id = ANY($1) ORDER BY scan_id`,
      [scanIds],
    );
  }

  /**
   * The `scans` most recently released scans (by `released_at`, newest first, then scan id), with their release time as
   * a full-precision key: the window of the readers' track record (`ix_scan_results_released`, index only).
   */
  latestReleased(scans: number): Promise<{ scan_id: string; released: string }[]> {
    return this.db.query(
      `SELECT scan_id, ${timestampKey('released_at')} AS released FROM scan_results ORDER BY released_at DESC, scan_id LIMIT $1`,
      [scans],
    );
  }

  /**
   * A version of the released results: their count and latest release time. Results are only ever added (a released
   * scan's result and readings never change), so figures computed from them stay true while this is unchanged.
   */
  async version(): Promise<string> {
    const [row]: { n: string; latest: string | null }[] = await this.db.query(
      `SELECT count(*) AS n, ${timestampKey('max(released_at)')} AS latest FROM scan_results`,
    );
    return `${row.n}@${row.latest ?? ''}`;
  }

  /** The projection's write. */
  async upsert(r: ScanResultWrite): Promise<void> {
    await this.db.query(
      `INSERT INTO scan_results (scan_id, method, fused_boxes, fused_global_labels, final_boxes, final_global_labels, agreement, released_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (scan_id) DO UPDATE SET method = EXCLUDED.method, fused_boxes = EXCLUDED.fused_boxes,
         fused_global_labels = EXCLUDED.fused_global_labels, final_boxes = EXCLUDED.final_boxes,
         final_global_labels = EXCLUDED.final_global_labels, agreement = EXCLUDED.agreement, released_at = EXCLUDED.released_at`,
      [
        r.scanId,
        r.method,
        JSON.stringify(r.fusedBoxes),
        JSON.stringify(r.fusedGlobalLabels),
        JSON.stringify(r.finalBoxes),
        JSON.stringify(r.finalGlobalLabels),
        JSON.stringify(r.agreement),
        r.releasedAt,
      ],
    );
  }
}
