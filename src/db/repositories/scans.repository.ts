import type { LabelSet } from '../../domain/dataset-formats/records';
import type { PolicyName } from '../../domain/policy';
import { FINAL_STAGES } from '../../domain/stages';
import type { FinalStage, ScanStage } from '../../domain/stages';
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
  /** A hidden gold scan (a `gold_scans` row): for managers only, never in a reader's response. */
  gold: boolean;
  /** Adaptive scans: whether the extension decision added readers (its latest audit event); null before it and for other policies. */
  extended: boolean | null;
}

/**
 * The scans the exports write (`$1`: the split): released ones. Gold scans never reach `released`; excluded here too,
 * so that nothing gold is ever exported (issue #16).
 */
const EXPORTED = `scans.split = $1 AND scans.stage = 'released' AND NOT EXISTS (SELECT 1 FROM gold_scans g WHERE g.scan_id = scans.id)`;

const EXPORTED_LABELS = {
  readers: { table: 'readings', boxes: 'boxes', globals: 'global_labels', where: `AND l.role = 'reader'` },
  final: { table: 'scan_results', boxes: 'final_boxes', globals: 'final_global_labels', where: '' },
} as const satisfies Record<LabelSet, { table: string; boxes: string; globals: string; where: string }>;

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
  transfer_syntax, quarantine_reason, attention_reason, created_at, updated_at, released_at, ${timestampKey('created_at')} AS created_key,
  EXISTS (SELECT 1 FROM gold_scans g WHERE g.scan_id = scans.id) AS gold,
  (SELECT (a.detail->>'extended')::boolean FROM audit_events a
    WHERE a.scan_id = scans.id AND a.action = 'reading:adaptive-decision' ORDER BY a.at DESC, a.id DESC LIMIT 1) AS extended`;

const OPTIONAL: ReadonlyArray<[keyof ScanWrite, string]> = [
  ['batchId', 'batch_id'],
  ['imageId', 'image_id'],
  ['deidentifiedKey', 'deidentified_key'],
  ['quarantineReason', 'quarantine_reason'],
  ['attentionReason', 'attention_reason'],
  ['releasedAt', 'released_at'],
];

/** A UTC wall-clock timestamp literal (`YYYY-MM-DD HH:MM:SS.mmm`) for `::timestamp` parameters. */
function utcTimestamp(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

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
    return this.db.query(`SELECT id, image_id, rows, columns, policy FROM scans WHERE ${EXPORTED} AND id > $2 ORDER BY id LIMIT $3`, [
      split,
      afterId,
      limit,
    ]);
  }

  /**
   * The released scans of a split (those {@link released} pages through) whose readers' readings or final labels use
   * a label outside a taxonomy: a box label not in `boxLabels`, an image-level label not in `imageLabels`. At most
   * `limit` scans, by id, each with its labels sorted; `total` counts them all.
   */
  async labelsOutside(
    split: ScanSplit,
    labels: LabelSet,
    allowed: { boxLabels: readonly string[]; imageLabels: readonly string[] },
    limit: number,
  ): Promise<{ total: number; scans: { scanId: string; labels: string[] }[] }> {
    const src = EXPORTED_LABELS[labels];
    const rows: { scan_id: string; labels: string[]; total: string }[] = await this.db.query(
      `WITH x AS (
         SELECT l.scan_id, l.${src.boxes} AS boxes, l.${src.globals} AS globals
           FROM ${src.table} l JOIN scans ON scans.id = l.scan_id
          WHERE ${EXPORTED} ${src.where}
       ), outside AS (
         SELECT x.scan_id, coalesce(b->>'label', '') AS label FROM x, jsonb_array_elements(x.boxes) b
          WHERE NOT (coalesce(b->>'label', '') = ANY($2))
         UNION
         SELECT x.scan_id, coalesce(g #>> '{}', '') FROM x, jsonb_array_elements(x.globals) g
          WHERE NOT (coalesce(g #>> '{}', '') = ANY($3))
       )
       SELECT scan_id, array_agg(DISTINCT label ORDER BY label) AS labels, count(*) OVER () AS total
         FROM outside GROUP BY scan_id ORDER BY scan_id LIMIT $4`,
      [split, allowed.boxLabels, allowed.imageLabels, limit],
    );
    return { total: rows.length > 0 ? Number(rows[0].total) : 0, scans: rows.map((r) => ({ scanId: r.scan_id, labels: r.labels })) };
  }

  /** Scans per stage (the metrics' gauge). */
  async countByStage(): Promise<{ stage: ScanStage; n: number }[]> {
    const rows: { stage: ScanStage; n: string }[] = await this.db.query(`SELECT stage, count(*) AS n FROM scans GROUP BY stage`);
    return rows.map((r) => ({ stage: r.stage, n: Number(r.n) }));
  }

  /** Scans per stage and split (the board's pipeline; ix_scans_split_stage). */
  async countByStageAndSplit(): Promise<{ stage: ScanStage; split: ScanSplit; n: number }[]> {
    const rows: { stage: ScanStage; split: ScanSplit; n: string }[] = await this.db.query(
      `SELECT stage, split, count(*) AS n FROM scans GROUP BY stage, split ORDER BY stage, split`,
    );
    return rows.map((r) => ({ stage: r.stage, split: r.split, n: Number(r.n) }));
  }

  /**
   * Scans released per UTC hour or day in [from, to), every bucket listed (zero when none), by split
   * (ix_scans_released_at). `from` and `to` are bucket starts.
   */
  async releasedPerBucket(bucket: 'hour' | 'day', from: Date, to: Date): Promise<{ start: Date; train: number; test: number }[]> {
    const rows: { start: Date; train: string; test: string }[] = await this.db.query(
      `WITH b AS (
         SELECT generate_series($2::timestamp, $3::timestamp - ('1 ' || $1::text)::interval, ('1 ' || $1::text)::interval) AS start
       ), r AS (
         SELECT date_trunc($1::text, released_at AT TIME ZONE 'UTC') AS start,
                count(*) FILTER (WHERE split = 'train') AS train, count(*) FILTER (WHERE split = 'test') AS test
           FROM scans
          WHERE released_at >= $2::timestamp AT TIME ZONE 'UTC' AND released_at < $3::timestamp AT TIME ZONE 'UTC'
          GROUP BY 1
       )
       SELECT b.start AT TIME ZONE 'UTC' AS start, COALESCE(r.train, 0) AS train, COALESCE(r.test, 0) AS test
         FROM b LEFT JOIN r ON r.start = b.start ORDER BY b.start`,
      [bucket, utcTimestamp(from), utcTimestamp(to)],
    );
    return rows.map((r) => ({ start: new Date(r.start), train: Number(r.train), test: Number(r.test) }));
  }

  /**
   * Moves a scan that is not in a final stage to `stage` outside its workflow (the workflow has ended without
   * writing it: terminated from outside). Returns the stage it left, `undefined` when it was final or is unknown.
   */
  async closeOutside(scanId: string, stage: FinalStage): Promise<ScanStage | undefined> {
    const rows: { from: ScanStage }[] = await this.db.query(
      `WITH old AS (SELECT id, stage FROM scans WHERE id = $1 AND stage <> ALL($3::text[]) FOR UPDATE),
            moved AS (UPDATE scans s SET stage = $2, updated_at = now() FROM old WHERE s.id = old.id RETURNING old.stage AS "from")
       SELECT "from" FROM moved`,
      [scanId, stage, [...FINAL_STAGES]],
    );
    return rows[0]?.from;
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
