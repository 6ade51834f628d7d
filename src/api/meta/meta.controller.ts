import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';

import type { Config } from '../../config/config';
import { CONFIG } from '../deps';
import { META, MetaDto } from './meta.dto';

/** `GET /meta`: the value lists clients build their forms and filters from (declared once, in src/domain), and where the Temporal UI is. */
@ApiTags('platform')
@ApiBearerAuth()
@Controller('meta')
export class MetaController {
  private readonly body: MetaDto;

  constructor(@Inject(CONFIG) config: Config) {
    this.body = { ...META, temporalUiUrl: config.temporal.uiUrl, temporalNamespace: config.temporal.namespace };
  }

  @Get()
  @Header('Cache-Control', 'private, max-age=300')
  @ApiOperation({
    summary: 'Value lists and the Temporal UI address',
    description:
      'Stages, splits, policies, task roles and statuses, review decisions, reader roles and export kinds, in their order; the Temporal UI base URL and namespace (scan workflows are linked there).',
  })
  @ApiOkResponse({ type: MetaDto })
  meta(): MetaDto {
    return this.body;
  }
}
