import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsOptional,
  IsString,
  MaxLength,
  MinLength,
} from 'class-validator';

import { ScanSettingsDto } from '../scans/scans.dto';
import { SafeText } from '../common/safe-text';

export class CreateBatchDto extends ScanSettingsDto {
  @ApiPropertyOptional({
    description:
      'A directory under the import directory (READFLOW_IMPORT_DIR; relative paths resolve against it): every file under it, recursively',
  })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(4096)
  @SafeText()
  directory?: string;

  @ApiPropertyOptional({
    type: [String],
    description:
      'File paths under the import directory (READFLOW_IMPORT_DIR; relative paths resolve against it)',
  })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100_000)
  @IsString({ each: true })
  @MinLength(1, { each: true })
  @MaxLength(4096, { each: true })
  @SafeText({}, { each: true })
  files?: string[];
}

export class StartedBatchDto {
  @ApiProperty()
  batchId!: string;
  @ApiProperty()
  workflowId!: string;
  @ApiProperty()
  workflowUrl!: string;
}

export class BatchCountsDto {
  @ApiProperty() listed!: number;
  @ApiProperty() started!: number;
  @ApiProperty() duplicate!: number;
  @ApiProperty() accepted!: number;
  @ApiProperty() quarantined!: number;
  @ApiProperty() failed!: number;
}

export class BatchProgressDto {
  @ApiProperty()
  batchId!: string;
  @ApiProperty({
    enum: ['listing', 'draining', 'done', 'failed'],
    description:
      'failed: the batch workflow ended without completing (see failure); counts are its last progress',
  })
  state!: 'listing' | 'draining' | 'done' | 'failed';
  @ApiPropertyOptional({
    description: 'Why the batch failed (state failed), e.g. a directory that cannot be listed',
  })
  failure?: string;
  @ApiProperty({ type: BatchCountsDto })
  counts!: BatchCountsDto;
  @ApiProperty({ description: 'Scans started and not yet through ingest' })
  inFlight!: number;
  @ApiProperty()
  runs!: number;
  @ApiProperty({ format: 'date-time' })
  startedAt!: string;
  @ApiPropertyOptional({ format: 'date-time' })
  finishedAt?: string;
  @ApiProperty({ type: [String] })
  recentQuarantined!: string[];
  @ApiProperty()
  workflowUrl!: string;
}
