import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import { Roles } from '../auth/principal';
import { QuarantinePageDto, QuarantineQuery } from './quarantine.dto';
import { QuarantineService } from './quarantine.service';

@ApiTags('scans')
@ApiBearerAuth()
@Roles('manager', 'admin')
@Controller('quarantine')
export class QuarantineController {
  constructor(private readonly quarantine: QuarantineService) {}

  /** Inputs refused at ingest, with their reasons. */
  @Get()
  @ApiOkResponse({ type: QuarantinePageDto })
  list(@Query() q: QuarantineQuery): Promise<QuarantinePageDto> {
    return this.quarantine.list(q);
  }
}
