import { Controller, Get, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';

import { Roles } from '../auth/principal';
import { QuarantinePageDto, QuarantineQuery } from './quarantine.dto';
import { QuarantineService } from './quarantine.service';
import { ApiProblems } from '../common/openapi';

@ApiTags('scans')
@ApiBearerAuth()
@Roles('manager', 'admin')
@ApiProblems({ 403: 'Not a manager or admin' })
@Controller('quarantine')
export class QuarantineController {
  constructor(private readonly quarantine: QuarantineService) {}

  /** Inputs refused at ingest, with their reasons. */
  @Get()
  @ApiOperation({ summary: 'Inputs refused at ingest, newest first' })
  @ApiOkResponse({ type: QuarantinePageDto })
  list(@Query() q: QuarantineQuery): Promise<QuarantinePageDto> {
    return this.quarantine.list(q);
  }
}
