import { ApiProperty } from '@nestjs/swagger';

import { PageQuery } from '../common/page-query';
import { PageOf } from '../common/page.dto';

export class QuarantineQuery extends PageQuery {}

export class QuarantinedInputDto {
  @ApiProperty()
  id!: string;
  @ApiProperty({ description: 'SHA-256 of the refused bytes (their key in the quarantine store)' })
  sha256!: string;
  @ApiProperty({ type: String, nullable: true })
  scanId!: string | null;
  @ApiProperty({ type: String, nullable: true })
  filename!: string | null;
  @ApiProperty({ example: 'not-dicom', description: 'Machine-readable reason' })
  reason!: string;
  @ApiProperty()
  detail!: string;
  @ApiProperty()
  sizeBytes!: number;
  @ApiProperty()
  createdAt!: string;
}

export class QuarantinePageDto extends PageOf(QuarantinedInputDto) {}
