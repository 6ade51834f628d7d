import { Controller, Get, Inject, Param, Query, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';

import type { Logger } from '../../logger';
import { Roles } from '../auth/principal';
import { LOGGER } from '../deps';
import { NotFoundError } from '../errors';
import { CSV_EXPORTS, CsvExport, CsvExportQuery, csvFileName, defaultLabelSet, ExportQuery } from './dataset-exports.dto';
import { DatasetExportsService } from './dataset-exports.service';
import { ApiProblems } from '../common/openapi';

/** The 409 of every export: refused before its first byte (`labels-outside-taxonomy`). */
const OUTSIDE_TAXONOMY =
  'A released scan of the split carries labels outside the configured taxonomy: nothing is exported; `scans` names ' +
  'them with their split and labels (`scanCount` counts them all)';

@ApiTags('exports')
@ApiBearerAuth()
@Roles('manager', 'admin')
@ApiProblems({ 403: 'Not a manager or admin' })
@Controller('exports')
export class DatasetExportsController {
  constructor(
    private readonly exports: DatasetExportsService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Streams a CSV of the released scans of a split: `annotations` (VinDr-CXR annotations_{split}.csv),
   * `image_labels` (image_labels_{split}.csv) or `kaggle` (VinBigData train.csv layout), of the readers' readings or
   * of the final labels (`labels`). Downloads as `{kind}_{split}.csv` (`{kind}_{split}_{labels}.csv` when `labels`
   * is not the split's default).
   */
  @Get(':kind.csv')
  @ApiOperation({ summary: 'Download a CSV of the released labels of a split' })
  @ApiProblems({ 404: 'No export of that kind', 409: OUTSIDE_TAXONOMY })
  @ApiParam({ name: 'kind', enum: CSV_EXPORTS })
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'CSV (RFC 4180), streamed' })
  async csv(@Param('kind') kind: string, @Query() q: CsvExportQuery, @Res() res: Response): Promise<void> {
    if (!(CSV_EXPORTS as readonly string[]).includes(kind)) throw new NotFoundError('route', `No export named ${kind}.csv.`);
    const split = q.split ?? 'train';
    const labels = q.labels ?? defaultLabelSet(split);
    const name = csvFileName(kind as CsvExport, split, labels);
    await this.exports.assertLabelsInTaxonomy(split, labels);
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
  @ApiOperation({ summary: 'Download COCO JSON of the final labels of a split' })
  @ApiProblems({ 409: OUTSIDE_TAXONOMY })
  @ApiProduces('application/json')
  @ApiOkResponse({ description: 'COCO JSON, streamed' })
  async coco(@Query() q: ExportQuery, @Res() res: Response): Promise<void> {
    const split = q.split ?? 'train';
    await this.exports.assertLabelsInTaxonomy(split, 'final');
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
