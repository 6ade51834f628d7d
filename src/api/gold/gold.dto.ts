import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';

export class GoldUploadDto {
  @ApiProperty({
    description: 'The reference reading as JSON: { "boxes": [{ "label", "x_min", "y_min", "x_max", "y_max" }], "globalLabels": [...] } (VinDr-CXR taxonomy)',
  })
  @IsString()
  @MaxLength(1_000_000)
  reference!: string;
}

export class GoldScanDto {
  @ApiProperty({ example: 'scan-0123456789abcdef01234567' })
  scanId!: string;
  @ApiProperty({ type: String, nullable: true, description: 'Stage of the gold scan (reading while it takes tasks; cancelled once retired)' })
  stage!: string | null;
  @ApiProperty({ description: 'Gold tasks given so far' })
  tasks!: number;
  @ApiProperty({ description: 'Gold tasks submitted' })
  submitted!: number;
  @ApiProperty()
  createdBy!: string;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ description: 'The workflow in the Temporal UI' })
  workflowUrl!: string;
}

export class GoldListDto {
  @ApiProperty({ type: [GoldScanDto] })
  items!: GoldScanDto[];
}

export class GoldAccuracyQuery {
  @ApiPropertyOptional({ description: 'One reader only' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  readerId?: string;
  @ApiPropertyOptional({ enum: ['month', 'day'], description: 'Periods of the time series (default month, UTC)' })
  @IsOptional()
  @IsIn(['month', 'day'])
  period?: 'month' | 'day';
}

export class GoldAccuracyPeriodDto {
  @ApiProperty({ example: '2026-12' })
  period!: string;
  @ApiProperty()
  goldTasks!: number;
  @ApiProperty({ description: 'Mean box F1 at IoU ≥ 0.4 (same label) against the reference' })
  boxF1!: number;
  @ApiProperty({ description: 'Mean F1 of the image-level labels against the reference' })
  labelAgreement!: number;
}

export class GoldReaderAccuracyDto {
  @ApiProperty()
  readerId!: string;
  @ApiProperty({ description: 'Gold tasks submitted' })
  goldTasks!: number;
  @ApiProperty({ description: 'Mean box F1 at IoU ≥ 0.4 (same label) against the reference' })
  boxF1!: number;
  @ApiProperty({ description: 'Mean F1 of the image-level labels against the reference' })
  labelAgreement!: number;
  @ApiProperty({ type: [GoldAccuracyPeriodDto], description: 'Over time, oldest first' })
  periods!: GoldAccuracyPeriodDto[];
}

export class GoldAccuracyDto {
  @ApiProperty({ description: 'IoU threshold of a box match', example: 0.4 })
  iouThreshold!: number;
  @ApiProperty({ type: [GoldReaderAccuracyDto] })
  readers!: GoldReaderAccuracyDto[];
}
