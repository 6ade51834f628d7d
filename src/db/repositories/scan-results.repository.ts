import type { StoredBox } from '../entities/reading.entity';
import type { StoredFusedBox } from '../entities/scan-result.entity';
import type { Db } from './sql';

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
