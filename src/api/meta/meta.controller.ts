import { Controller, Get, Header } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';

import { META, MetaDto } from './meta.dto';

/** `GET /meta`: the value lists clients build their forms and filters from (declared once, in src/domain). */
@ApiTags('platform')
@ApiBearerAuth()
@Controller('meta')
export class MetaController {
  @Get()
  @Header('Cache-Control', 'private, max-age=300')
  @ApiOperation({
    summary: 'Value lists',
    description: 'Stages, splits, policies, task roles and statuses, review decisions, reader roles and export kinds, in their order.',
  })
  @ApiOkResponse({ type: MetaDto })
  meta(): MetaDto {
    return META;
  }
}
