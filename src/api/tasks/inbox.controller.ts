import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';

import { CurrentPrincipal, Principal } from '../auth/principal';
import { InboxPageDto, InboxQuery } from './tasks.dto';
import { TasksService } from './tasks.service';

/** `GET /me/tasks`: the annotation client's inbox (the caller's own tasks; `GET /tasks` is the managers' list). */
@ApiTags('tasks')
@ApiBearerAuth()
@Controller('me')
export class InboxController {
  constructor(private readonly tasks: TasksService) {}

  /** The caller's tasks of one status (default open), ordered by deadline. */
  @Get('tasks')
  @ApiOperation({ summary: 'My inbox: my tasks of one status, by deadline' })
  @ApiOkResponse({ type: InboxPageDto })
  inbox(@CurrentPrincipal() me: Principal, @Query() q: InboxQuery): Promise<InboxPageDto> {
    return this.tasks.inbox(me, q);
  }
}
