import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';

import { CurrentPrincipal, Principal } from '../auth/principal';
import { ProfileDto } from './profile.dto';
import { ProfileService } from './profile.service';

/** `GET /me`: who the bearer token belongs to — what a client needs to pick its views (radiologist inbox, manager screens). */
@ApiTags('me')
@ApiBearerAuth()
@Controller('me')
export class ProfileController {
  constructor(private readonly profile: ProfileService) {}

  @Get()
  @ApiOperation({ summary: 'Who am I', description: 'The caller’s id, display name, role and seniority.' })
  @ApiOkResponse({ type: ProfileDto })
  @ApiUnauthorizedResponse({ description: 'Missing, unknown or revoked token' })
  me(@CurrentPrincipal() me: Principal): Promise<ProfileDto> {
    return this.profile.of(me);
  }
}
