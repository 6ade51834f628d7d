import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';

import { CurrentPrincipal, Principal, Roles } from '../auth/principal';
import { ApiProblems } from '../common/openapi';
import { BatchProgressDto, CreateBatchDto, StartedBatchDto } from './batches.dto';
import { BatchesService } from './batches.service';

@ApiTags('scans')
@ApiBearerAuth()
@Roles('manager', 'admin')
@ApiProblems({ 403: 'Not a manager or admin' })
@Controller('batches')
export class BatchesController {
  constructor(private readonly batches: BatchesService) {}

  /** Ingests a directory or a list of files readable by the workers. */
  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'Ingest a directory or a list of files' })
  @ApiAcceptedResponse({ type: StartedBatchDto })
  start(@CurrentPrincipal() me: Principal, @Body() dto: CreateBatchDto): Promise<StartedBatchDto> {
    return this.batches.start(me, dto);
  }

  /** Progress counts of a batch. */
  @Get(':batchId')
  @ApiOperation({ summary: 'Progress of a batch' })
  @ApiOkResponse({ type: BatchProgressDto })
  @ApiNotFoundResponse()
  progress(@Param('batchId') batchId: string): Promise<BatchProgressDto> {
    return this.batches.progress(batchId);
  }
}
