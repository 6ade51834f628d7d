import { Controller, Get, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';

import { Roles } from '../auth/principal';
import { AuditPageDto, AuditQuery } from './audit.dto';
import { AuditService } from './audit.service';
import { ApiProblems } from '../common/openapi';

@ApiTags('audit')
@ApiBearerAuth()
@Roles('manager', 'admin')
@ApiProblems({ 403: 'Not a manager or admin' })
@Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  /** Who did what, when: assignment, submission, reassignment, release… (append-only). */
  @Get()
  @ApiOperation({ summary: 'The audit trail, oldest first' })
  @ApiOkResponse({ type: AuditPageDto })
  list(@Query() q: AuditQuery): Promise<AuditPageDto> {
    return this.audit.list(q);
  }
}
