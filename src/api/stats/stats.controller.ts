import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';

import { Roles } from '../auth/principal';
import { sendJsonWithEtag } from '../common/etag';
import { ApiProblems } from '../common/openapi';
import { LabelStatsDto, OverdueQuery, OverdueStatsDto, PipelineStatsDto, ReaderStatsDto, StatsSplitQuery, ThroughputDto, ThroughputQuery } from './stats.dto';
import { StatsService } from './stats.service';

/**
 * The manager board's figures, for any REST client. Every answer carries a weak ETag and `Cache-Control: private,
 * no-cache`: a poller sends `If-None-Match` and gets 304 while nothing changed.
 */
@ApiTags('stats')
@ApiBearerAuth()
@Roles('manager', 'admin')
@ApiProblems({ 403: 'Not a manager or admin' })
@Controller('stats')
export class StatsController {
  constructor(private readonly stats: StatsService) {}

  @Get('pipeline')
  @ApiOperation({
    summary: 'Scans per stage and split, open and overdue tasks, quarantine per reason',
    description: 'Every stage in lifecycle order with its Temporal UI list (`Stage="…"`), the open and overdue task counts and the inputs refused at ingest per reason.',
  })
  @ApiOkResponse({ type: PipelineStatsDto, description: 'Weak ETag; 304 when unchanged' })
  async pipeline(@Req() req: Request, @Res() res: Response): Promise<void> {
    sendJsonWithEtag(req, res, await this.stats.pipeline());
  }

  @Get('throughput')
  @ApiOperation({
    summary: 'Scans released per hour or day',
    description: 'Every UTC bucket of the window (zero when none), by split. Default window: the last 48 hours (`bucket=hour`) or 30 days (`bucket=day`); at most 2000 buckets.',
  })
  @ApiOkResponse({ type: ThroughputDto, description: 'Weak ETag; 304 when unchanged' })
  async throughput(@Query() q: ThroughputQuery, @Req() req: Request, @Res() res: Response): Promise<void> {
    sendJsonWithEtag(req, res, await this.stats.throughput(q));
  }

  @Get('readers')
  @ApiOperation({
    summary: 'Per-reader open and completed work, median read time and agreement with the fused labels',
    description: 'Every radiologist: open, overdue, completed, expired and reassigned tasks, median seconds from assignment to submission, and mean box F1 (IoU ≥ 0.4) and global-label F1 against the fused labels of the released scans they read.',
  })
  @ApiOkResponse({ type: ReaderStatsDto, description: 'Weak ETag; 304 when unchanged' })
  async readers(@Req() req: Request, @Res() res: Response): Promise<void> {
    sendJsonWithEtag(req, res, await this.stats.readers());
  }

  @Get('labels')
  @ApiOperation({
    summary: 'Agreement per label with the reference labels',
    description: "Per label of the taxonomy, over the readers' readings of released scans: positive rate, sensitivity, precision, agreement on presence with the reference (fused labels of training scans, consensus of test scans) and, for box labels, box F1 (IoU ≥ 0.4).",
  })
  @ApiOkResponse({ type: LabelStatsDto, description: 'Weak ETag; 304 when unchanged' })
  async labels(@Query() q: StatsSplitQuery, @Req() req: Request, @Res() res: Response): Promise<void> {
    sendJsonWithEtag(req, res, await this.stats.labels(q.split));
  }

  @Get('overdue')
  @ApiOperation({
    summary: 'Overdue tasks with a suggested replacement reader and the scan’s workflow link',
    description: 'Open tasks past their deadline, oldest deadline first, each with the reader `POST /tasks/{taskId}/reassign` would pick without `toReaderId` and the scan’s workflow in the Temporal UI.',
  })
  @ApiOkResponse({ type: OverdueStatsDto, description: 'Weak ETag; 304 when unchanged' })
  async overdue(@Query() q: OverdueQuery, @Req() req: Request, @Res() res: Response): Promise<void> {
    sendJsonWithEtag(req, res, await this.stats.overdue(q.limit ?? 100));
  }
}
