import { ApiProperty } from '@nestjs/swagger';

import { READER_ROLES } from '../../domain';
import type { ReaderRole } from '../../domain';

/** Who the caller is. */
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
