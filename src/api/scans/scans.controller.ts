import { Body, Controller, Get, HttpCode, Param, Post, Query, Res, UploadedFile, UseInterceptors } from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiConflictResponse,
  ApiConsumes,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';

import { CurrentPrincipal, Principal, Roles } from '../auth/principal';
import {
  CancelScanDto,
  ListScansQuery,
  ScanDetailDto,
  ScanLabelsDto,
  ScanPageDto,
  ScanStateDto,
  PRIORITY_PROPERTY,
  StartedScanDto,
  UploadScanDto,
} from './scans.dto';
import { ScansService } from './scans.service';
import { POLICY_NAMES, SCAN_SPLITS } from '../../domain';
import { ApiProblems } from '../common/openapi';

@ApiTags('scans')
@ApiBearerAuth()
@Roles('manager', 'admin')
@ApiProblems({ 403: 'Not a manager or admin' })
@Controller('scans')
export class ScansController {
  constructor(private readonly scans: ScansService) {}

  /**
   * Uploads one DICOM file and starts its scan workflow: 202 for a new scan, 200 when the file (same SOP Instance UID)
   * is an existing scan with the same split and policy, 409 `scan-exists-with-other-settings` (with the existing
   * `scanId`, `split`, `policy`) when it exists with others. A corrected file (other bytes) for a quarantined scan starts
   * the scan again: 202.
   */
  @Post()
  @UseInterceptors(FileInterceptor('file'))
  @ApiOperation({ summary: 'Upload one DICOM file and start its scan' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['file', 'split'],
      properties: {
        file: { type: 'string', format: 'binary' },
        split: { type: 'string', enum: [...SCAN_SPLITS] },
        policy: { type: 'string', enum: [...POLICY_NAMES], description: 'default: independent-3 for train, consensus-5 for test' },
        priority: PRIORITY_PROPERTY,
      },
    },
  })
  @ApiAcceptedResponse({ type: StartedScanDto, description: 'A new scan was started' })
  @ApiOkResponse({ type: StartedScanDto, description: 'The file was uploaded before: the existing scan' })
  @ApiConflictResponse({ description: 'scan-exists-with-other-settings: the scan exists with another split or policy (scanId, split, policy)' })
  @ApiPayloadTooLargeResponse()
  @ApiProblems({ 507: 'insufficient-storage: the file store is full; nothing was stored or started (retry once space is freed)' })
  async upload(
    @CurrentPrincipal() me: Principal,
    @UploadedFile() file: { buffer: Buffer; originalname?: string } | undefined,
    @Body() dto: UploadScanDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<StartedScanDto> {
    const { created, scan } = await this.scans.upload(me, file, dto);
    res.status(created ? 202 : 200);
    return scan;
  }

  /** Scans by stage and split, newest first. */
  @Get()
  @ApiOkResponse({ type: ScanPageDto })
  @ApiOperation({ summary: 'Scans by stage and split, newest first' })
  list(@Query() q: ListScansQuery): Promise<ScanPageDto> {
    return this.scans.list(q);
  }

  /** Stage, tasks with readers and deadlines, quarantine reason, and the workflow's link in the Temporal UI. */
  @Get(':scanId')
  @ApiOperation({ summary: 'A scan: stage, tasks, quarantine or attention reason, Temporal UI link' })
  @ApiOkResponse({ type: ScanDetailDto })
  @ApiNotFoundResponse()
  detail(@Param('scanId') scanId: string): Promise<ScanDetailDto> {
    return this.scans.detail(scanId);
  }

  /** Fused labels, per-reader readings and agreement (released scans only: 409 before). */
  @Get(':scanId/labels')
  @ApiOperation({ summary: 'Released labels of a scan: fused, final, per reader, agreement' })
  @ApiOkResponse({ type: ScanLabelsDto })
  @ApiConflictResponse({ description: 'Not released yet, or never will be (cancelled, quarantined)' })
  @ApiNotFoundResponse()
  labels(@Param('scanId') scanId: string): Promise<ScanLabelsDto> {
    return this.scans.labels(scanId);
  }

  @Post(':scanId/cancel')
  @ApiOperation({ summary: 'Cancel a scan' })
  @ApiProblems({ 504: '' })
  @HttpCode(200)
  @ApiOkResponse({ type: ScanStateDto })
  @ApiConflictResponse({ description: 'Already released, quarantined or cancelled' })
  @ApiNotFoundResponse()
  cancel(@CurrentPrincipal() me: Principal, @Param('scanId') scanId: string, @Body() dto: CancelScanDto): Promise<ScanStateDto> {
    return this.scans.cancel(me, scanId, dto);
  }

  /** Continues a scan waiting in needs-attention. */
  @Post(':scanId/resume')
  @ApiOperation({ summary: 'Resume a scan waiting in needs-attention' })
  @ApiProblems({ 504: '' })
  @HttpCode(200)
  @ApiOkResponse({ type: ScanStateDto })
  @ApiConflictResponse({ description: 'The scan is not waiting for a manager' })
  @ApiNotFoundResponse()
  resume(@CurrentPrincipal() me: Principal, @Param('scanId') scanId: string): Promise<ScanStateDto> {
    return this.scans.resume(me, scanId);
  }
}
