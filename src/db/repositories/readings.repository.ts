import type { ReviewDecision, ScanSplit, TaskRole } from '../../domain/vocabulary';
import type { StoredBox } from '../entities/reading.entity';
import type { StoredFusedBox } from '../entities/scan-result.entity';
import type { Db } from './sql';
import { timestampKey } from './sql';

/** One accepted submission. */
export interface ReadingRecord {
  task_id: string;
  scan_id: string;
  reader_id: string;
  role: TaskRole;
  boxes: StoredBox[];
  global_labels: string[];
  comment: string | null;
  decision: ReviewDecision | null;
  submitted_at: Date;
}

/** A reader's reading of a released scan beside the scan's fused labels (for the agreement figures). */
export interface ReadingVsFusedRecord {
  reader_id: string;
  scan_id: string;
  boxes: StoredBox[];
  global_labels: string[];
  fused_boxes: StoredFusedBox[];
  fused_global_labels: string[];
  method: string;
}

/** A reader's reading of a released scan with the scan's reference labels (reader calibration). */
export interface CalibrationReadingRecord {
  reader_id: string;
  scan_id: string;
  split: ScanSplit;
  boxes: StoredBox[];
  global_labels: string[];
  fused_boxes: StoredFusedBox[];
  fused_global_labels: string[];
  final_boxes: StoredBox[];
  final_global_labels: string[];
  read_seconds: number | null;
}

/** Insert of one accepted submission by the scan workflow's projection (keyed by its task). */
export interface ReadingWrite {
  taskId: string;
  scanId: string;
  readerId: string;
  role: TaskRole;
  boxes: StoredBox[];
  globalLabels: string[];
  comment?: string;
  decision?: ReviewDecision;
  submittedAt: string;
}

/** Data access of `readings`: one row per accepted submission, written once by the workflow's projection. */
export class ReadingsRepository {
  constructor(private readonly db: Db) {}

  /** The reading a reader submitted for a task. */
  async ofTask(taskId: string, readerId: string): Promise<Pick<ReadingRecord, 'boxes' | 'global_labels' | 'comment'> | undefined> {
    const rows: Pick<ReadingRecord, 'boxes' | 'global_labels' | 'comment'>[] = await this.db.query(
      `SELECT boxes, global_labels, comment FROM readings WHERE task_id = $1 AND reader_id = $2`,
      [taskId, readerId],
    );
    return rows[0];
  }

  /** Every reading of a scan: readers then reviewers, by submission. */
  ofScan(scanId: string): Promise<ReadingRecord[]> {
    return this.db.query(
      `SELECT task_id, scan_id, reader_id, role, boxes, global_labels, comment, decision, submitted_at
         FROM readings WHERE scan_id = $1 ORDER BY role, submitted_at, task_id`,
      [scanId],
    );
  }

  /** The readers' (not reviewers') readings of some scans, by scan then reader. */
  /**
   * Every reader's reading (role `reader`) of these scans, by scan then reader, with the reader named by their stable
   * pseudonym (R1…Rn, table reader_pseudonyms): published files never carry login ids.
   */
  readersOf(scanIds: string[]): Promise<Pick<ReadingRecord, 'scan_id' | 'reader_id' | 'boxes' | 'global_labels'>[]> {
    return this.db.query(
      `SELECT g.scan_id, p.pseudonym AS reader_id, g.boxes, g.global_labels
         FROM readings g JOIN reader_pseudonyms p ON p.reader_id = g.reader_id
        WHERE g.scan_id = ANY($1) AND g.role = 'reader' ORDER BY g.scan_id, p.number`,
      [scanIds],
    );
  }


  /** Each reading by these readers of a released scan, with the scan's fused labels. */
  versusFused(readerIds: string[]): Promise<ReadingVsFusedRecord[]> {
    return this.db.query(
      `SELECT rd.reader_id, rd.scan_id, rd.boxes, rd.global_labels, sr.fused_boxes, sr.fused_global_labels, sr.method
         FROM readings rd JOIN scan_results sr ON sr.scan_id = rd.scan_id
        WHERE rd.reader_id = ANY($1) AND rd.role = 'reader'`,
      [readerIds],
    );
  }

  /**
   * Every reader's reading (role `reader`) of a released scan with the scan's split, its reference labels (fused and
   * final) and the read time (assignment to submission, from the reading's task), optionally of one split: the input of
   * the reader calibration (ix_readings_role_scan, then the scan_results and tasks primary keys).
   */
  forCalibration(filter: { split?: ScanSplit }): Promise<CalibrationReadingRecord[]> {
    const params: unknown[] = [];
    const where = [`rd.role = 'reader'`];
    if (filter.split) where.push(`s.split = $${params.push(filter.split)}`);
    return this.db.query(
      `SELECT rd.reader_id, rd.scan_id, s.split, rd.boxes, rd.global_labels,
              sr.fused_boxes, sr.fused_global_labels, sr.final_boxes, sr.final_global_labels,
              extract(epoch FROM t.submitted_at - t.assigned_at)::float8 AS read_seconds
         FROM readings rd
         JOIN scan_results sr ON sr.scan_id = rd.scan_id
         JOIN scans s ON s.id = rd.scan_id
         LEFT JOIN tasks t ON t.id = rd.task_id
        WHERE ${where.join(' AND ')}
        ORDER BY rd.reader_id, rd.scan_id`,
      params,
    );
  }

  /**
   * The readers' readings (role `reader`) of the `scans` most recently released scans with their fused boxes: the
   * whole input of the readers' track record (scan_results by released_at, then ix_readings_role_scan), as every
   * adaptive decision read it before the activities kept the track record (src/activities/track-record.ts); now the
   * reference that kept record is checked against (bench/track-record.ts, test/integration/workflow-adaptive.test.ts).
   */
  forTrackRecord(scans: number): Promise<{ reader_id: string; scan_id: string; boxes: StoredBox[]; fused_boxes: StoredFusedBox[] }[]> {
    return this.db.query(
      `SELECT rd.reader_id, rd.scan_id, rd.boxes, sr.fused_boxes
         FROM (SELECT scan_id, fused_boxes FROM scan_results ORDER BY released_at DESC, scan_id LIMIT $1) sr
         JOIN readings rd ON rd.scan_id = sr.scan_id AND rd.role = 'reader'
        ORDER BY rd.scan_id, rd.reader_id`,
      [scans],
    );
  }

  /**
   * The readers' readings (role `reader`) of some released scans with their fused boxes and release time (key as
   * `ScanResultsRepository.latestReleased` gives it), by scan then reader: what those scans add to the track record.
   */
  forTrackRecordOf(scanIds: string[]): Promise<{ reader_id: string; scan_id: string; boxes: StoredBox[]; fused_boxes: StoredFusedBox[]; released: string }[]> {
    return this.db.query(
      `SELECT rd.reader_id, rd.scan_id, rd.boxes, sr.fused_boxes, ${timestampKey('sr.released_at')} AS released
         FROM scan_results sr
         JOIN readings rd ON rd.scan_id = sr.scan_id AND rd.role = 'reader'
        WHERE sr.scan_id = ANY($1)
        ORDER BY rd.scan_id, rd.reader_id`,
      [scanIds],
    );
  }

  /**
   * Removes the reading of a task the workflow closed without it (`expired`, `reassigned`, `cancelled`): a submission
   * written by a lost workflow task's attempt that the workflow never accepted.
   */
  async removeOfUnsubmitted(taskIds: string[]): Promise<void> {
    if (taskIds.length > 0) await this.db.query(`DELETE FROM readings WHERE task_id = ANY($1::uuid[])`, [taskIds]);
  }

  /** The projection's write; a repeat of the same task inserts nothing. */
  async insert(r: ReadingWrite): Promise<void> {
    await this.db.query(
      `INSERT INTO readings (task_id, scan_id, reader_id, role, boxes, global_labels, comment, decision, submitted_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (task_id) DO NOTHING`,
      [r.taskId, r.scanId, r.readerId, r.role, JSON.stringify(r.boxes), JSON.stringify(r.globalLabels), r.comment ?? null, r.decision ?? null, r.submittedAt],
    );
  }
}
