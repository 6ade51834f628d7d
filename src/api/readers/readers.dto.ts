import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';

import { READER_ROLES } from '../../domain';
import type { ReaderRole } from '../../domain';
import { PageQuery } from '../common/page-query';
import { ProfileDto } from '../profile/profile.dto';
import { SafeText } from '../common/safe-text';
import { PageOf } from '../common/page.dto';

export class ReaderAgreementDto {
  @ApiProperty({ description: 'Released scans the reader read' })
  scans!: number;
  @ApiProperty({ description: 'Mean box F1 (IoU ≥ 0.4) against the fused boxes' })
  meanBoxF1!: number;
  @ApiProperty({ description: 'Mean F1 of global labels against the fused global labels' })
  meanGlobalF1!: number;
}

/** A reader as managers see it: the profile every caller sees of itself, plus status and workload. */
export class ReaderDto extends ProfileDto {
  @ApiProperty()
  active!: boolean;
  @ApiProperty({ description: 'Most open tasks the reader is given at once' })
  openTaskCap!: number;
  @ApiProperty()
  openTasks!: number;
  @ApiProperty({ description: 'Submitted tasks' })
  completedTasks!: number;
  @ApiProperty({ type: Number, nullable: true, description: 'Median seconds from assignment to submission' })
  medianReadSeconds!: number | null;
  @ApiProperty({
    type: ReaderAgreementDto,
    nullable: true,
    description: 'Agreement with fused labels of released scans',
  })
  agreement!: ReaderAgreementDto | null;
  @ApiProperty()
  createdAt!: string;
}

export class ReaderPageDto extends PageOf(ReaderDto) {}

export class ListReadersQuery extends PageQuery {
  @ApiPropertyOptional({ enum: READER_ROLES })
  @IsOptional()
  @IsIn(READER_ROLES)
  role?: ReaderRole;
}

export class CreateReaderDto {
  @ApiProperty({ example: 'rad18', pattern: '^[a-z0-9][a-z0-9_-]{1,63}$' })
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9_-]{1,63}$/, { message: 'id must be 2–64 characters of a-z, 0-9, _ and -' })
  id!: string;

  @ApiProperty({ example: 'Radiologist 18' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @SafeText()
  displayName!: string;

  @ApiPropertyOptional({ enum: READER_ROLES, default: 'radiologist' })
  @IsOptional()
  @IsIn(READER_ROLES)
  role?: ReaderRole;

  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @IsBoolean()
  senior?: boolean;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  active?: boolean;

  @ApiPropertyOptional({ default: 50, minimum: 0, maximum: 10000 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10000)
  openTaskCap?: number;
}

export class UpdateReaderDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @SafeText()
  displayName?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  senior?: boolean;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  active?: boolean;

  @ApiPropertyOptional({ minimum: 0, maximum: 10000 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10000)
  openTaskCap?: number;
}

export class IssuedTokenDto {
  @ApiProperty()
  readerId!: string;
  @ApiProperty({ description: 'Shown once; only its hash is stored' })
  token!: string;
}

export class CreatedReaderDto extends ReaderDto {
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The new reader’s API token when an admin creates it (shown once, only its hash is stored); null when a manager does: an admin issues it',
  })
  token!: string | null;
}
