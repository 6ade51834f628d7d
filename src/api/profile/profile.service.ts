import { Injectable } from '@nestjs/common';

import { ReadersRepository } from '../../db/repositories';
import type { Principal } from '../auth/principal';
import { UnauthorizedError } from '../errors';
import { ProfileDto } from './profile.dto';

/** The caller's own roster entry. */
@Injectable()
export class ProfileService {
  constructor(private readonly readers: ReadersRepository) {}

  async of(me: Principal): Promise<ProfileDto> {
    const r = await this.readers.get(me.readerId);
    // The token resolved a moment ago (auth cache); a reader deleted since is as good as a revoked token.
    if (!r) throw new UnauthorizedError('The token is unknown or revoked.');
    return { id: r.id, displayName: r.display_name, role: r.role, senior: r.senior };
  }
}
