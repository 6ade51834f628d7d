import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';

import { CurrentPrincipal, Principal, Roles } from '../auth/principal';
import { CreateReaderDto, CreatedReaderDto, IssuedTokenDto, ListReadersQuery, ReaderDto, ReaderPageDto, UpdateReaderDto } from './readers.dto';
import { ReadersService } from './readers.service';

@ApiTags('readers')
@ApiBearerAuth()
@ApiForbiddenResponse({ description: 'Not a manager or admin' })
@Roles('manager', 'admin')
@Controller('readers')
export class ReadersController {
  constructor(private readonly readers: ReadersService) {}

  /** The roster with seniority, active flag, open-task cap, counts, median read time and agreement. */
  @Get()
  @ApiOperation({ summary: 'The roster with workload and agreement' })
  @ApiOkResponse({ type: ReaderPageDto })
  list(@Query() q: ListReadersQuery): Promise<ReaderPageDto> {
    return this.readers.list(q);
  }

  @Get(':readerId')
  @ApiOperation({ summary: 'One reader' })
  @ApiOkResponse({ type: ReaderDto })
  @ApiNotFoundResponse()
  get(@Param('readerId') id: string): Promise<ReaderDto> {
    return this.readers.get(id);
  }

  /** Adds a reader; its token is returned once. Managers add radiologists; admins any role. */
  @Post()
  @ApiOperation({ summary: 'Add a reader (its token is shown once)' })
  @ApiCreatedResponse({ type: CreatedReaderDto })
  @ApiConflictResponse({ description: 'The id is taken' })
  create(@CurrentPrincipal() me: Principal, @Body() dto: CreateReaderDto): Promise<CreatedReaderDto> {
    return this.readers.create(me, dto);
  }

  /**
   * Changes a reader. Managers change radiologists; only an admin changes managers and admins. A deactivated
   * reader's tokens are refused at once (401). Nobody deactivates their own account or the last active admin (409).
   */
  @Patch(':readerId')
  @ApiOperation({ summary: 'Change a reader (name, seniority, active, open-task cap)' })
  @ApiOkResponse({ type: ReaderDto })
  @ApiForbiddenResponse({ description: 'Not a manager or admin, or a manager changing a manager or admin' })
  @ApiConflictResponse({ description: 'Deactivating your own account or the last active admin' })
  @ApiNotFoundResponse()
  update(@CurrentPrincipal() me: Principal, @Param('readerId') id: string, @Body() dto: UpdateReaderDto): Promise<ReaderDto> {
    return this.readers.update(me, id, dto);
  }

  /** Issues a new token and revokes the reader's previous ones (admin). */
  @Post(':readerId/token')
  @ApiOperation({ summary: 'Rotate a reader’s token (admins)' })
  @HttpCode(201)
  @Roles('admin')
  @ApiForbiddenResponse({ description: 'Not an admin' })
  @ApiCreatedResponse({ type: IssuedTokenDto })
  @ApiNotFoundResponse()
  rotateToken(@CurrentPrincipal() me: Principal, @Param('readerId') id: string): Promise<IssuedTokenDto> {
    return this.readers.rotateToken(me, id);
  }
}
