import type { PolicyName } from '../../domain/policy';
import type { ScanStage } from '../../domain/stages';
import type { ScanSplit } from '../../domain/vocabulary';
import type { Db, KeysetPage } from './sql';
import { timestampKey } from './sql';

/** A `scans` row as the API reads it (with its keyset sort key). */
export interface ScanRecord {
  id: string;
  image_id: string | null;
  split: ScanSplit;
  policy: PolicyName;
  stage: ScanStage;
  batch_id: string | null;
  modality: string | null;
  view_position: string | null;
  rows: number | null;
  columns: number | null;
  pixel_spacing: number[] | null;
  transfer_syntax: string | null;
  quarantine_reason: string | null;
  attention_reason: string | null;
  created_at: Date;
  updated_at: Date;
  released_at: Date | null;
  created_key: string;
}

/** A released scan, as the exports page through them. */
export interface ReleasedScanRecord {
  id: string;
  image_id: string;
  rows: number;
  columns: number;
  policy: PolicyName;
}

/** Image metadata the projection writes (a subset of the workflow's `ScanImage`). */
export interface ScanImageWrite {
  rows: number;
  columns: number;
  pixelSpacing?: number[];
  modality: string;
  viewPosition?: string;
  transferSyntax: string;
}

/**
 * Upsert of the `scans` row by the scan workflow's projection. Fields left `undefined` keep their stored value;
 * `null` clears. `split` and `policy` are those of the workflow run (a quarantined scan's corrected file starts a new
 * run, possibly with other settings).
 */
export interface ScanWrite {
  id: string;
  split: ScanSplit;
  policy: string;
  stage: ScanStage;
  batchId?: string | null;
  imageId?: string | null;
  image?: ScanImageWrite | null;
  deidentifiedKey?: string | null;
  quarantineReason?: string | null;
  attentionReason?: string | null;
  /** ISO-8601. */
  releasedAt?: string | null;
}

const COLUMNS = `id, image_id, split, policy, stage, batch_id, modality, view_position, rows, columns, pixel_spacing,
  transfer_syntax, quarantine_reason, attention_reason, created_at, updated_at, released_at, ${timestampKey('created_at')} AS created_key`;

const OPTIONAL: ReadonlyArray<[keyof ScanWrite, string]> = [
  ['batchId', 'batch_id'],
  ['imageId', 'image_id'],
  ['deidentifiedKey', 'deidentified_key'],
  ['quarantineReason', 'quarantine_reason'],
  ['attentionReason', 'attention_reason'],
  ['releasedAt', 'released_at'],
];

/** Data access of `scans`, the queryable projection of the scan workflows (only their projection writes it). */
export class ScansRepository {
  constructor(private readonly db: Db) {}

  /** Newest first, by stage and split; keyset over (created_at, id) on ix_scans_stage_created / ix_scans_split_created / ix_scans_created. */
  page(filter: { stage?: ScanStage; split?: ScanSplit }, page: KeysetPage): Promise<ScanRecord[]> {
    const params: unknown[] = [page.limit + 1];
    const where: string[] = [];
    if (filter.stage) where.push(`stage = $${params.push(filter.stage)}`);
    if (filter.split) where.push(`split = $${params.push(filter.split)}`);
    if (page.after) where.push(`(created_at, id) < ($${params.push(page.after[0])}::timestamptz, $${params.push(page.after[1])})`);
    return this.db.query(
      `SELECT ${COLUMNS} FROM scans ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT $1`,
      params,
    );
  }

  async get(scanId: string): Promise<ScanRecord | undefined> {
    const rows: ScanRecord[] = await this.db.query(`SELECT ${COLUMNS} FROM scans WHERE id = $1`, [scanId]);
    return rows[0];
  }

  /** One page of the released scans of a split, by id (ix_scans_split_stage_id). */
  released(split: ScanSplit, afterId: string, limit: number): Promise<ReleasedScanRecord[]> {
    return this.db.query(
      `SELECT id, image_id, rows, columns, policy FROM scans WHERE split = $1 AND stage = 'released' AND id > $2 ORDER BY id LIMIT $3`,
      [split, afterId, limit],
    );
  }

  /** Scans per stage (the metrics' gauge). */
  async countByStage(): Promise<{ stage: ScanStage; n: number }[]> {
    const rows: { stage: ScanStage; n: string }[] = await this.db.query(`SELECT stage, count(*) AS n FROM scans GROUP BY stage`);
    return rows.map((r) => ({ stage: r.stage, n: Number(r.n) }));
  }

  /** The projection's write (see {@link ScanWrite}). */
  async upsert(s: ScanWrite): Promise<void> {
    const cols = ['id', 'split', 'policy', 'stage'];
    const values: unknown[] = [s.id, s.split, s.policy, s.stage];
    const updates = ['split', 'policy', 'stage'].map((c) => `"${c}" = EXCLUDED."${c}"`).concat('"updated_at" = now()');
    const add = (col: string, value: unknown, json = false): void => {
      values.push(json && value !== null ? JSON.stringify(value) : value);
      cols.push(col);
      updates.push(`"${col}" = EXCLUDED."${col}"`);
    };
    for (const [key, col] of OPTIONAL) {
      if (s[key] !== undefined) add(col, s[key]);
    }
    if (s.image !== undefined) {
      const img = s.image;
      add('modality', img?.modality ?? null);
      add('view_position', img?.viewPosition ?? null);
      add('rows', img?.rows ?? null);
      add('columns', img?.columns ?? null);
      add('pixel_spacing', img?.pixelSpacing ?? null, true);
      add('transfer_syntax', img?.transferSyntax ?? null);
    }
    const params = values.map((_, i) => `$${i + 1}`).join(', ');
    await this.db.query(
      `INSERT INTO scans (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${params}) ON CONFLICT (id) DO UPDATE SET ${updates.join(', ')}`,
      values,
    );
  }
}
