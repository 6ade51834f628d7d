import { Body, Controller, Get, Post, Query, Res, UploadedFile, UseInterceptors } from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import { ApiAcceptedResponse, ApiBearerAuth, ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';

import { CurrentPrincipal, Principal, Roles } from '../auth/principal';
import { ApiProblems } from '../common/openapi';
import { StartedScanDto } from '../scans/scans.dto';
import { GoldAccuracyDto, GoldAccuracyQuery, GoldListDto, GoldUploadDto } from './gold.dto';
import { GoldService } from './gold.service';

/** Managers: hidden gold scans (shown to readers like any task, never fused, exported or released) and gold accuracy. */
@ApiTags('gold')
@ApiBearerAuth()
@Roles('manager', 'admin')
@Controller('gold')
export class GoldController {
  constructor(private readonly gold: GoldService) {}

  /** Uploads a DICOM file with its reference reading as a gold scan: 202 when new, 200 when it already was gold. */
  @Post()
  @UseInterceptors(FileInterceptor('file'))
  @ApiOperation({ summary: 'Upload a gold scan with its reference reading (managers)' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['file', 'reference'],
      properties: {
        file: { type: 'string', format: 'binary' },
        reference: { type: 'string', description: 'JSON { boxes, globalLabels }' },
      },
    },
  })
  @ApiProblems({ 403: 'Not a manager or admin', 409: 'The file is an ordinary scan', 422: 'Missing file, or an invalid reference (each problem with its path)' })
  @ApiAcceptedResponse({ type: StartedScanDto, description: 'A new gold scan' })
  @ApiOkResponse({ type: StartedScanDto, description: 'The file was a gold scan already' })
  async upload(
    @CurrentPrincipal() me: Principal,
    @UploadedFile() file: { buffer: Buffer } | undefined,
    @Body() dto: GoldUploadDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<StartedScanDto> {
    const { created, scan } = await this.gold.upload(me, file, dto);
    res.status(created ? 202 : 200);
    return scan;
  }

  @Get()
  @ApiOperation({ summary: 'Gold scans with their stage and task counts (managers)' })
  @ApiProblems({ 403: 'Not a manager or admin' })
  @ApiOkResponse({ type: GoldListDto })
  list(): Promise<GoldListDto> {
    return this.gold.list();
  }

  @Get('accuracy')
  @ApiOperation({ summary: 'Each reader’s accuracy on gold scans, over time (managers)' })
  @ApiProblems({ 403: 'Not a manager or admin' })
  @ApiOkResponse({ type: GoldAccuracyDto })
  accuracy(@Query() q: GoldAccuracyQuery): Promise<GoldAccuracyDto> {
    return this.gold.accuracy(q);
  }
}
