import type { Writable } from 'node:stream';

import { Controller, Get, Inject, Injectable, Param, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiProduces, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import type { Response } from 'express';
import { DataSource } from 'typeorm';

import type { StoredBox, StoredFusedBox } from '../../db/entities';
import { DEFAULT_POLICIES, VINDR_CXR_TAXONOMY } from '../../domain';
import type { FusedRecord, PolicyName, ReaderRecord } from '../../domain';
import { writeCocoJson, writeKaggleTrainCsv, writeVindrAnnotationsCsv, writeVindrImageLabelsCsv } from '../../exports/csv-writers';
import type { Logger } from '../../logger';
import { assignPseudonyms } from '../../releases/pseudonyms';
import { Roles } from '../auth/principal';
import { DATA_SOURCE, LOGGER } from '../deps';
import { NotFoundError } from '../errors';
import { SPLITS } from '../scans/scans.dto';

export const CSV_EXPORTS = ['annotations', 'image_labels', 'kaggle'] as const;
type CsvExport = (typeof CSV_EXPORTS)[number];

/** Which labels a CSV carries: each reader's reading, or the released (final) labels of each scan. */
export const LABEL_SETS = ['readers', 'final'] as const;
export type LabelSet = (typeof LABEL_SETS)[number];

/** `rad_id` of final rows: the confirmed consensus review, or the fused labels of independent policies. */
export const FINAL_RAD_ID = { consensus: 'consensus', fused: 'fused' } as const;

/** The VinDr-CXR convention: the training set is published per reader, the test set as the consensus. */
export function defaultLabelSet(split: string): LabelSet {
  return split === 'test' ? 'final' : 'readers';
}

export class ExportQuery {
  @ApiPropertyOptional({ enum: SPLITS, default: 'train' })
  @IsOptional()
  @IsIn(SPLITS)
  split?: (typeof SPLITS)[number];
}

export class CsvExportQuery extends ExportQuery {
  @ApiPropertyOptional({
    enum: LABEL_SETS,
    description:
      'CSV exports only. `readers`: one row set per reader (rad_id = reader id). `final`: one row set per scan with its ' +
      `released labels, rad_id = "${FINAL_RAD_ID.consensus}" for consensus policies (the reviewers' confirmed labels) ` +
      `and "${FINAL_RAD_ID.fused}" for independent policies (the fused labels). Default: readers for split=train, ` +
      'final for split=test (as VinDr-CXR publishes its test set).',
  })
  @IsOptional()
  @IsIn(LABEL_SETS)
  labels?: LabelSet;
}

interface ReleasedScan {
  id: string;
  image_id: string;
  rows: number;
  columns: number;
  policy: string;
}

/** Final boxes with the score and readers of the fused box they equal (score 1, no readers, for boxes a reviewer drew). */
function scoredFinalBoxes(finals: StoredBox[], fused: StoredFusedBox[]): StoredFusedBox[] {
  const key = (b: StoredBox): string => `${b.label}|${b.x_min}|${b.y_min}|${b.x_max}|${b.y_max}`;
  const byKey = new Map(fused.map((f) => [key(f), f]));
  return finals.map((b) => {
    const f = byKey.get(key(b));
    return { label: b.label, x_min: b.x_min, y_min: b.y_min, x_max: b.x_max, y_max: b.y_max, score: f?.score ?? 1, readerIds: f?.readerIds ?? [] };
  });
}

/** Scans per page when streaming an export (keyset over scans.id on ix_scans_split_stage_id). */
const PAGE = 200;

/**
 * Streams released labels out of Postgres page by page (never the whole dataset in memory) into the domain's
 * export writers: per-reader readings or final labels for the CSVs, final labels for COCO.
 */
@Injectable()
export class ExportsService {
  constructor(@Inject(DATA_SOURCE) private readonly ds: DataSource) {}

  private async *releasedScans(split: string): AsyncGenerator<ReleasedScan[]> {
    let after = '';
    for (;;) {
      const page: ReleasedScan[] = await this.ds.query(
        `SELECT id, image_id, rows, columns, policy FROM scans
          WHERE split = $1 AND stage = 'released' AND id > $2 ORDER BY id LIMIT $3`,
        [split, after, PAGE],
      );
      if (page.length === 0) return;
      yield page;
      after = page[page.length - 1].id;
    }
  }

  /**
   * Every reader's reading (role `reader`) of the released scans of a split, by image then reader; `rad_id` is the
   * reader's stable pseudonym (R1…R17), never the login id.
   */
  async *readerRecords(split: string): AsyncGenerator<ReaderRecord> {
    await assignPseudonyms(this.ds);
    for await (const scans of this.releasedScans(split)) {
      const rows: { scan_id: string; reader_id: string; boxes: StoredBox[]; global_labels: string[] }[] = await this.ds.query(
        `SELECT g.scan_id, p.pseudonym AS reader_id, g.boxes, g.global_labels
           FROM readings g JOIN reader_pseudonyms p ON p.reader_id = g.reader_id
          WHERE g.scan_id = ANY($1) AND g.role = 'reader' ORDER BY g.scan_id, p.number`,
        [scans.map((s) => s.id)],
      );
      const imageOf = new Map(scans.map((s) => [s.id, s.image_id.trim()]));
      for (const r of rows) {
        yield { imageId: imageOf.get(r.scan_id) ?? '', readerId: r.reader_id, reading: { boxes: r.boxes, globalLabels: r.global_labels } };
      }
    }
  }

  /** The final (released) labels of each released scan of a split, as one record per scan (rad_id: {@link FINAL_RAD_ID}). */
  async *finalRecords(split: string): AsyncGenerator<ReaderRecord> {
    for await (const scans of this.releasedScans(split)) {
      const rows: { scan_id: string; final_boxes: StoredBox[]; final_global_labels: string[] }[] = await this.ds.query(
        `SELECT scan_id, final_boxes, final_global_labels FROM scan_results WHERE scan_id = ANY($1) ORDER BY scan_id`,
        [scans.map((s) => s.id)],
      );
      const byId = new Map(scans.map((s) => [s.id, s]));
      for (const r of rows) {
        const s = byId.get(r.scan_id)!;
        yield { imageId: s.image_id.trim(), readerId: finalRadId(s.policy), reading: { boxes: r.final_boxes, globalLabels: r.final_global_labels } };
      }
    }
  }

  /**
   * The final labels of the released scans of a split, for COCO: the fused labels for independent policies, the
   * confirmed consensus for consensus policies (boxes keep the score of the fused box they equal, else 1).
   */
  async *cocoRecords(split: string): AsyncGenerator<FusedRecord> {
    for await (const scans of this.releasedScans(split)) {
      const rows: { scan_id: string; method: string; fused_boxes: StoredFusedBox[]; final_boxes: StoredBox[]; final_global_labels: string[] }[] =
        await this.ds.query(
          `SELECT scan_id, method, fused_boxes, final_boxes, final_global_labels FROM scan_results WHERE scan_id = ANY($1) ORDER BY scan_id`,
          [scans.map((s) => s.id)],
        );
      const byId = new Map(scans.map((s) => [s.id, s]));
      for (const r of rows) {
        const s = byId.get(r.scan_id)!;
        yield {
          imageId: s.image_id.trim(),
          rows: s.rows,
          columns: s.columns,
          fused: {
            boxes: scoredFinalBoxes(r.final_boxes, r.fused_boxes),
            globalLabels: r.final_global_labels,
            method: r.method as FusedRecord['fused']['method'],
          },
        };
      }
    }
  }

  csv(kind: CsvExport, split: string, labels: LabelSet, out: Writable): Promise<void> {
    const records = labels === 'final' ? this.finalRecords(split) : this.readerRecords(split);
    // Final labels use the release's consensus layout (no rad_id, `Other disease`), readers' the per-reader layout.
    const layout = labels === 'final' ? 'test' : 'train';
    switch (kind) {
      case 'annotations':
        return writeVindrAnnotationsCsv(records, out, VINDR_CXR_TAXONOMY, layout);
      case 'image_labels':
        return writeVindrImageLabelsCsv(records, out, VINDR_CXR_TAXONOMY, layout);
      case 'kaggle':
        return writeKaggleTrainCsv(records, out, VINDR_CXR_TAXONOMY);
    }
  }

  coco(split: string, out: Writable): Promise<void> {
    return writeCocoJson(() => this.cocoRecords(split), out, VINDR_CXR_TAXONOMY, {
      info: { description: `ReadFlow final labels, split ${split} (${VINDR_CXR_TAXONOMY.version})` },
    });
  }
}

/** rad_id of a scan's final rows. */
function finalRadId(policy: string): string {
  const p = DEFAULT_POLICIES[policy as PolicyName] as { reviewers?: number } | undefined;
  return p && (p.reviewers ?? 0) > 0 ? FINAL_RAD_ID.consensus : FINAL_RAD_ID.fused;
}

/** `annotations_test.csv`, `kaggle_train.csv`; with labels other than the split's default: `annotations_train_final.csv`. */
export function csvFileName(kind: CsvExport, split: string, labels: LabelSet): string {
  return `${kind}_${split}${labels === defaultLabelSet(split) ? '' : `_${labels}`}.csv`;
}

@ApiTags('exports')
@ApiBearerAuth()
@Roles('manager', 'admin')
@Controller('exports')
export class ExportsController {
  constructor(
    private readonly exports: ExportsService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Streams a CSV of the released scans of a split: `annotations` (VinDr-CXR annotations_{split}.csv),
   * `image_labels` (image_labels_{split}.csv) or `kaggle` (VinBigData train.csv layout), of the readers' readings or
   * of the final labels (`labels`). Downloads as `{kind}_{split}.csv` (`{kind}_{split}_{labels}.csv` when `labels`
   * is not the split's default).
   */
  @Get(':kind.csv')
  @ApiParam({ name: 'kind', enum: CSV_EXPORTS })
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'CSV (RFC 4180), streamed' })
  async csv(@Param('kind') kind: string, @Query() q: CsvExportQuery, @Res() res: Response): Promise<void> {
    if (!(CSV_EXPORTS as readonly string[]).includes(kind)) throw new NotFoundError('route', `No export named ${kind}.csv.`);
    const split = q.split ?? 'train';
    const labels = q.labels ?? defaultLabelSet(split);
    const name = csvFileName(kind as CsvExport, split, labels);
    res.status(200).type('text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="${name}"`);
    res.setHeader('Cache-Control', 'no-store');
    await this.stream(() => this.exports.csv(kind as CsvExport, split, labels, res), res);
  }

  /**
   * Streams COCO detection JSON of the final labels of the released scans of a split: the fused labels for
   * independent policies, the confirmed consensus for consensus policies (`score`: that of the equal fused box, else 1).
   */
  @Get('coco.json')
  @ApiProduces('application/json')
  @ApiOkResponse({ description: 'COCO JSON, streamed' })
  async coco(@Query() q: ExportQuery, @Res() res: Response): Promise<void> {
    const split = q.split ?? 'train';
    res.status(200).type('application/json; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="coco_${split}.json"`);
    res.setHeader('Cache-Control', 'no-store');
    await this.stream(() => this.exports.coco(split, res), res);
  }

  /** Once bytes are out, an error can only cut the response short (the client sees a truncated body). */
  private async stream(run: () => Promise<void>, res: Response): Promise<void> {
    try {
      await run();
    } catch (e) {
      this.logger.error({ err: e }, 'export failed mid-stream');
      if (!res.headersSent) throw e;
      res.destroy(e as Error);
    }
  }
}
