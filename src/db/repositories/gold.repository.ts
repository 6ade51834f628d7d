import type { StoredBox } from '../entities/reading.entity';
import type { Db } from './sql';

/** A gold scan with its reference reading. */
export interface GoldScanRecord {
  scan_id: string;
  reference_boxes: StoredBox[];
  reference_global_labels: string[];
  created_by: string;
  created_at: Date;
  /** The scan's stage (null until its workflow wrote the projection). */
  stage: string | null;
  /** Reading tasks given so far, and submitted. */
  tasks: number;
  submitted: number;
}

/** What the gold scheduler observes of one active radiologist. */
export interface GoldReaderCountRecord {
  reader_id: string;
  ordinary: number;
  golds: number;
  open_gold: number;
}

/** A gold reading beside its reference (for the per-reader gold accuracy). */
export interface GoldReadingRecord {
  reader_id: string;
  scan_id: string;
  boxes: StoredBox[];
  global_labels: string[];
  submitted_at: Date;
  reference_boxes: StoredBox[];
  reference_global_labels: string[];
}

/** Data access of `gold_scans` (and the gold side of `tasks` and `readings`). */
export class GoldRepository {
  constructor(private readonly db: Db) {}

  /** Marks a scan gold with its reference; false when it already was (the reference is never replaced). */
  async insert(g: { scanId: string; boxes: StoredBox[]; globalLabels: string[]; createdBy: string }): Promise<boolean> {
    const rows: unknown[] = await this.db.query(
      `INSERT INTO gold_scans (scan_id, reference_boxes, reference_global_labels, created_by) VALUES ($1, $2::jsonb, $3::jsonb, $4)
       ON CONFLICT (scan_id) DO NOTHING RETURNING scan_id`,
      [g.scanId, JSON.stringify(g.boxes), JSON.stringify(g.globalLabels), g.createdBy],
    );
    return rows.length === 1;
  }

  async isGold(scanId: string): Promise<boolean> {
    const rows: unknown[] = await this.db.query(`SELECT 1 FROM gold_scans WHERE scan_id = $1`, [scanId]);
    return rows.length === 1;
  }

  /** Every gold scan, newest first, with its stage and task counts. */
  async list(): Promise<GoldScanRecord[]> {
    return this.db.query(
      `SELECT g.scan_id, g.reference_boxes, g.reference_global_labels, g.created_by, g.created_at, s.stage,
              (SELECT count(*)::int FROM tasks t WHERE t.scan_id = g.scan_id) AS tasks,
              (SELECT count(*)::int FROM tasks t WHERE t.scan_id = g.scan_id AND t.status = 'submitted') AS submitted
         FROM gold_scans g LEFT JOIN scans s ON s.id = g.scan_id
        ORDER BY g.created_at DESC, g.scan_id DESC`,
    );
  }

  /** Gold scans that take tasks (stage `reading`), each with every reader who ever had it. */
  async open(): Promise<{ scan_id: string; reader_ids: string[] }[]> {
    return this.db.query(
      `SELECT g.scan_id, COALESCE(array_agg(DISTINCT t.reader_id) FILTER (WHERE t.reader_id IS NOT NULL), '{}') AS reader_ids
         FROM gold_scans g JOIN scans s ON s.id = g.scan_id AND s.stage = 'reading'
         LEFT JOIN tasks t ON t.scan_id = g.scan_id
        GROUP BY g.scan_id ORDER BY g.scan_id`,
    );
  }

  /** Per active radiologist: ordinary reading tasks and gold tasks assigned so far, and open gold tasks. */
  async readerCounts(): Promise<GoldReaderCountRecord[]> {
    return this.db.query(
      `SELECT r.id AS reader_id,
              count(t.id) FILTER (WHERE t.role = 'reader' AND g.scan_id IS NULL)::int AS ordinary,
              count(t.id) FILTER (WHERE g.scan_id IS NOT NULL)::int AS golds,
              count(t.id) FILTER (WHERE g.scan_id IS NOT NULL AND t.status IN ('open', 'reserved'))::int AS open_gold
         FROM readers r
         LEFT JOIN tasks t ON t.reader_id = r.id
         LEFT JOIN gold_scans g ON g.scan_id = t.scan_id
        WHERE r.role = 'radiologist' AND r.active
        GROUP BY r.id ORDER BY r.id`,
    );
  }

  /** Submitted gold readings with their references, optionally of one reader, oldest first. */
  async readings(readerId?: string): Promise<GoldReadingRecord[]> {
    return this.db.query(
      `SELECT rd.reader_id, rd.scan_id, rd.boxes, rd.global_labels, rd.submitted_at, g.reference_boxes, g.reference_global_labels
         FROM readings rd JOIN gold_scans g ON g.scan_id = rd.scan_id
        WHERE rd.role = 'reader' ${readerId !== undefined ? 'AND rd.reader_id = $1' : ''}
        ORDER BY rd.submitted_at, rd.task_id`,
      readerId !== undefined ? [readerId] : [],
    );
  }
}
