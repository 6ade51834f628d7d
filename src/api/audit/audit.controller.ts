import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';

import { Roles } from '../auth/principal';
import { AuditPageDto, AuditQuery } from './audit.dto';
import { AuditService } from './audit.service';

@ApiTags('audit')
@ApiBearerAuth()
@Roles('manager', 'admin')
@Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  /** Who did what, when: assignment, submission, reassignment, release… (append-only). */
  @Get()
  @ApiOkResponse({ type: AuditPageDto })
  list(@Query() q: AuditQuery): Promise<AuditPageDto> {
    return this.audit.list(q);
  }
}
