import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { DataSource } from 'typeorm';

import type { ReaderRole } from '../../db/entities';
import { CurrentPrincipal, Principal } from '../auth/principal';
import { DATA_SOURCE } from '../deps';
import { UnauthorizedError } from '../errors';
import { READER_ROLES } from '../readers/readers.dto';

export class ProfileDto {
  @ApiProperty({ example: 'rad01' })
  id!: string;
  @ApiProperty({ example: 'Radiologist 01' })
  displayName!: string;
  @ApiProperty({ enum: READER_ROLES })
  role!: ReaderRole;
  @ApiProperty({ description: 'Senior readers take consensus reviews' })
  senior!: boolean;
}

/** Who the bearer token belongs to: what a client needs to pick its views (radiologist inbox, manager screens). */
@ApiTags('me')
@ApiBearerAuth()
@Controller('me')
export class ProfileController {
  constructor(@Inject(DATA_SOURCE) private readonly ds: DataSource) {}

  /** The caller's id, display name, role and seniority. */
  @Get()
  @ApiOkResponse({ type: ProfileDto })
  @ApiUnauthorizedResponse({ description: 'Missing, unknown or revoked token' })
  async me(@CurrentPrincipal() me: Principal): Promise<ProfileDto> {
    const rows: { id: string; display_name: string; role: ReaderRole; senior: boolean }[] =
      await this.ds.query(`SELECT id, display_name, role, senior FROM readers WHERE id = $1`, [me.readerId]);
    // The token resolved a moment ago (auth cache); a reader deleted since is as good as a revoked token.
    if (!rows[0]) throw new UnauthorizedError('The token is unknown or revoked.');
    return { id: rows[0].id, displayName: rows[0].display_name, role: rows[0].role, senior: rows[0].senior };
  }
}
