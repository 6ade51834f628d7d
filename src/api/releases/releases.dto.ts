import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMinSize, ArrayUnique, IsArray, IsIn, IsOptional, Matches } from 'class-validator';

import { VINDR_SPLITS } from '../../domain';
import { RELEASE_VERSION } from '../../releases/layout';

export class CreateReleaseDto {
  @ApiProperty({ example: '1.0.0', description: 'MAJOR.MINOR.PATCH; a published version is never overwritten (409).' })
  @Matches(RELEASE_VERSION, { message: 'version must be MAJOR.MINOR.PATCH, e.g. 1.0.0' })
  version!: string;

  @ApiPropertyOptional({ enum: VINDR_SPLITS, isArray: true, default: ['train', 'test'] })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayUnique()
  @IsIn(VINDR_SPLITS, { each: true })
  splits?: (typeof VINDR_SPLITS)[number][];
}
