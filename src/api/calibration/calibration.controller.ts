import { Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';

import { Roles } from '../auth/principal';
import { sendJsonWithEtag } from '../common/etag';
import { ApiProblems } from '../common/openapi';
import { CalibrationQuery, CalibrationReportDto, ReaderCalibrationResponseDto } from './calibration.dto';
import { CalibrationService } from './calibration.service';

/**
 * Reader calibration (issue #16): per reader and label, positive rate, sensitivity and precision against the fused
 * (train) or consensus (test) labels, box F1 against the reference boxes (IoU ≥ 0.4), median read time, each beside
 * the pool's; readers whose positive rate departs from the rest of the pool are flagged (Fisher's exact test, Holm).
 * JSON answers carry a weak ETag (conditional GET → 304).
 */
@ApiTags('calibration')
@ApiBearerAuth()
@Roles('manager', 'admin')
@ApiProblems({ 403: 'Not a manager or admin' })
@Controller()
export class CalibrationController {
  constructor(private readonly calibration: CalibrationService) {}

  @Get('calibration')
  @ApiOperation({
    summary: 'Calibration of every reader against the pool',
    description:
      "Readers' readings of released scans. Each reader's figures per label, the pool's, and the flags: Fisher's exact test (two-sided) of the reader's positive readings vs the rest of the pool per label, Holm-corrected over every test at `alpha`. `gold` (accuracy on hidden gold scans) is null until gold scans are read.",
  })
  @ApiOkResponse({ type: CalibrationReportDto, description: 'The report (weak ETag; 304 when unchanged)' })
  async report(@Query() q: CalibrationQuery, @Req() req: Request, @Res() res: Response): Promise<void> {
    sendJsonWithEtag(req, res, await this.calibration.report(q.split, q.alpha));
  }

  @Get('calibration.csv')
  @ApiOperation({ summary: 'Download the calibration as CSV (one row per reader and label)' })
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'CSV (RFC 4180): reader_id, display_name, label, kind, readings, positives, positive_rate, pool_positive_rate, rest_positive_rate, sensitivity, pool_sensitivity, precision, pool_precision, box_f1, pool_box_f1, median_read_seconds, pool_median_read_seconds, p_value, adjusted_p_value, direction, flagged' })
  async csv(@Query() q: CalibrationQuery, @Res() res: Response): Promise<void> {
    const body = await this.calibration.csv(q.split, q.alpha);
    res.status(200).type('text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="calibration${q.split ? `_${q.split}` : ''}.csv"`);
    res.send(body);
  }

  @Get('readers/:readerId/calibration')
  @ApiOperation({ summary: 'Calibration of one reader against the pool' })
  @ApiParam({ name: 'readerId', example: 'rad07' })
  @ApiOkResponse({ type: ReaderCalibrationResponseDto, description: 'The reader’s figures with the pool’s beside them (weak ETag; 304 when unchanged)' })
  @ApiProblems({ 404: 'No such reader' })
  async reader(@Param('readerId') readerId: string, @Query() q: CalibrationQuery, @Req() req: Request, @Res() res: Response): Promise<void> {
    sendJsonWithEtag(req, res, await this.calibration.reader(readerId, q.split, q.alpha));
  }
}
