import type { Writable } from 'node:stream';

import { Controller, Get, Inject, Injectable, Param, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiParam, ApiProduces, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import type { Response } from 'express';
import { DataSource } from 'typeorm';

import type { StoredBox, StoredFusedBox } from '../../db/entities';
import { VINDR_CXR_TAXONOMY } from '../../domain';
import type { FusedRecord, ReaderRecord } from '../../domain';
import { writeCocoJson, writeKaggleTrainCsv, writeVindrAnnotationsCsv, writeVindrImageLabelsCsv } from '../../exports/csv-writers';
import type { Logger } from '../../logger';
import { Roles } from '../auth/principal';
import { DATA_SOURCE, LOGGER } from '../deps';
import { NotFoundError } from '../errors';
import { SPLITS } from '../scans/scans.dto';

export const CSV_EXPORTS = ['annotations', 'image_labels', 'kaggle'] as const;
type CsvExport = (typeof CSV_EXPORTS)[number];

export class ExportQuery {
  @ApiPropertyOptional({ enum: SPLITS, default: 'train' })
  @IsOptional()
  @IsIn(SPLITS)
  split?: (typeof SPLITS)[number];
}

/** Scans per page when streaming an export (keyset over scans.id on ix_scans_split_stage_id). */
const PAGE = 200;

/**
 * Streams released labels out of Postgres page by page (never the whole dataset in memory) into the domain's
 * export writers: per-reader readings for the CSVs, fused labels for COCO.
 */
@Injectable()
export class ExportsService {
  constructor(@Inject(DATA_SOURCE) private readonly ds: DataSource) {}

  private async *releasedScans(split: string): AsyncGenerator<{ id: string; image_id: string; rows: number; columns: number }[]> {
    let after = '';
    for (;;) {
      const page: { id: string; image_id: string; rows: number; columns: number }[] = await this.ds.query(
        `SELECT id, image_id, rows, columns FROM scans
          WHERE split = $1 AND stage = 'released' AND id > $2 ORDER BY id LIMIT $3`,
        [split, after, PAGE],
      );
      if (page.length === 0) return;
      yield page;
      after = page[page.length - 1].id;
    }
  }

  /** Every reader's reading (role `reader`) of the released scans of a split, by image then reader. */
  async *readerRecords(split: string): AsyncGenerator<ReaderRecord> {
    for await (const scans of this.releasedScans(split)) {
      const rows: { scan_id: string; reader_id: string; boxes: StoredBox[]; global_labels: string[] }[] = await this.ds.query(
        `SELECT scan_id, reader_id, boxes, global_labels FROM readings
          WHERE scan_id = ANY($1) AND role = 'reader' ORDER BY scan_id, reader_id`,
        [scans.map((s) => s.id)],
      );
      const imageOf = new Map(scans.map((s) => [s.id, s.image_id.trim()]));
      for (const r of rows) {
        yield { imageId: imageOf.get(r.scan_id) ?? '', readerId: r.reader_id, reading: { boxes: r.boxes, globalLabels: r.global_labels } };
      }
    }
  }

  /** The fused labels of the released scans of a split. */
  async *fusedRecords(split: string): AsyncGenerator<FusedRecord> {
    for await (const scans of this.releasedScans(split)) {
      const rows: { scan_id: string; method: string; fused_boxes: StoredFusedBox[]; fused_global_labels: string[] }[] = await this.ds.query(
        `SELECT scan_id, method, fused_boxes, fused_global_labels FROM scan_results WHERE scan_id = ANY($1) ORDER BY scan_id`,
        [scans.map((s) => s.id)],
      );
      const byId = new Map(scans.map((s) => [s.id, s]));
      for (const r of rows) {
        const s = byId.get(r.scan_id)!;
        yield {
          imageId: s.image_id.trim(),
          rows: s.rows,
          columns: s.columns,
          fused: { boxes: r.fused_boxes, globalLabels: r.fused_global_labels, method: r.method as FusedRecord['fused']['method'] },
        };
      }
    }
  }

  csv(kind: CsvExport, split: string, out: Writable): Promise<void> {
    const records = this.readerRecords(split);
    switch (kind) {
      case 'annotations':
        return writeVindrAnnotationsCsv(records, out, VINDR_CXR_TAXONOMY);
      case 'image_labels':
        return writeVindrImageLabelsCsv(records, out, VINDR_CXR_TAXONOMY);
      case 'kaggle':
        return writeKaggleTrainCsv(records, out, VINDR_CXR_TAXONOMY);
    }
  }

  coco(split: string, out: Writable): Promise<void> {
    return writeCocoJson(() => this.fusedRecords(split), out, VINDR_CXR_TAXONOMY);
  }
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
   * `image_labels` (image_labels_{split}.csv) or `kaggle` (VinBigData train.csv).
   */
  @Get(':kind.csv')
  @ApiParam({ name: 'kind', enum: CSV_EXPORTS })
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'CSV (RFC 4180), streamed' })
  async csv(@Param('kind') kind: string, @Query() q: ExportQuery, @Res() res: Response): Promise<void> {
    if (!(CSV_EXPORTS as readonly string[]).includes(kind)) throw new NotFoundError('route', `No export named ${kind}.csv.`);
    const split = q.split ?? 'train';
    const name = kind === 'kaggle' ? `train_${split}.csv` : `${kind}_${split}.csv`;
    res.status(200).type('text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="${name}"`);
    res.setHeader('Cache-Control', 'no-store');
    await this.stream(() => this.exports.csv(kind as CsvExport, split, res), res);
  }

  /** Streams COCO detection JSON of the fused labels of the released scans of a split. */
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
