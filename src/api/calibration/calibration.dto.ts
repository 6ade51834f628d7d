import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsNumber, IsOptional, Max, Min } from 'class-validator';

import { SCAN_SPLITS } from '../../domain';
import type { ScanSplit } from '../../domain';
import { LabelFiguresDto, LabelStatsItemDto } from '../stats/stats.dto';

export class CalibrationQuery {
  @ApiPropertyOptional({ enum: SCAN_SPLITS, description: 'Only readings of scans of this split (default both)' })
  @IsOptional()
  @IsIn(SCAN_SPLITS)
  split?: ScanSplit;

  @ApiPropertyOptional({ minimum: 0.0001, maximum: 0.5, default: 0.05, description: 'Family-wise error rate of the flags (Holm)' })
  @IsOptional()
  @Type(() => Number)
  @IsNumber()
  @Min(0.0001)
  @Max(0.5)
  alpha?: number;
}

export class CalibrationMethodDto {
  @ApiProperty({ example: 'fisher-exact-two-sided' })
  test!: string;
  @ApiProperty({ example: "Fisher's exact test (two-sided) of the reader's positive readings vs those of the rest of the pool, per label" })
  testDescription!: string;
  @ApiProperty({ example: 'holm' })
  correction!: string;
  @ApiProperty({ example: "Holm's step-down correction over every (reader, label) test performed" })
  correctionDescription!: string;
  @ApiProperty({ example: 'fused labels of training scans; consensus (final) labels of test scans' })
  reference!: string;
  @ApiProperty({ example: 0.4, description: 'IoU a box needs to match a reference box of its label' })
  iouThreshold!: number;
  @ApiProperty({ example: 0.05 })
  alpha!: number;
  @ApiProperty({ example: 476, description: 'Tests performed (labels nobody or everybody called are not tested)' })
  tests!: number;
}

export class LabelRateTestDto {
  @ApiProperty({ example: 87, description: 'Positive readings of the rest of the pool' })
  restPositives!: number;
  @ApiProperty({ example: 1090 })
  restReadings!: number;
  @ApiProperty({ type: Number, nullable: true, example: 0.0798 })
  restPositiveRate!: number | null;
  @ApiProperty({ example: 0.000012 })
  pValue!: number;
  @ApiProperty({ example: 0.0057, description: 'Holm-adjusted p-value' })
  adjustedPValue!: number;
  @ApiProperty({ enum: ['higher', 'lower', 'same'], example: 'higher', description: 'The reader’s rate against the rest of the pool' })
  direction!: 'higher' | 'lower' | 'same';
  @ApiProperty({ example: true, description: '`adjustedPValue < alpha`' })
  flagged!: boolean;
}

export class LabelCalibrationDto extends LabelStatsItemDto {
  @ApiProperty({ type: LabelRateTestDto, nullable: true, description: 'The positive-rate test against the rest of the pool; null when not tested' })
  test!: LabelRateTestDto | null;
}

export class ReaderLabelCalibrationDto extends LabelCalibrationDto {
  @ApiProperty({ type: LabelFiguresDto, description: 'The same figures over every reader of the pool' })
  pool!: LabelFiguresDto;
}

/**
 * A reader's accuracy on hidden gold scans (issue #16, "Hidden gold scans"): box F1 (IoU ≥ 0.4) and label agreement
 * with the reference reading of each gold scan, over time. Null until gold scans exist; the gold feature fills it.
 */
export class GoldAccuracyDto {
  @ApiProperty({ example: 12, description: 'Gold scans read' })
  scans!: number;
  @ApiProperty({ type: Number, nullable: true, example: 0.74, description: 'Micro box F1 (IoU ≥ 0.4) against the reference boxes' })
  boxF1!: number | null;
  @ApiProperty({ type: Number, nullable: true, example: 0.92, description: 'Label agreement with the reference readings' })
  labelAgreement!: number | null;
}

export class ReaderCalibrationDto {
  @ApiProperty({ example: 'rad07' })
  readerId!: string;
  @ApiProperty({ type: String, nullable: true, example: 'Radiologist 07' })
  displayName!: string | null;
  @ApiProperty({ example: 240, description: 'Readings of released scans counted' })
  readings!: number;
  @ApiProperty({ example: 240 })
  scans!: number;
  @ApiProperty({ type: Number, nullable: true, example: 171 })
  medianReadSeconds!: number | null;
  @ApiProperty({ type: Number, nullable: true, example: 190, description: 'The pool’s median read time' })
  poolMedianReadSeconds!: number | null;
  @ApiProperty({ type: Number, nullable: true, example: 0.68, description: 'Micro box F1 over every box label against the reference boxes' })
  boxF1!: number | null;
  @ApiProperty({ type: Number, nullable: true, example: 0.7 })
  poolBoxF1!: number | null;
  @ApiProperty({ example: true, description: 'Some label’s positive rate departs significantly from the rest of the pool' })
  flagged!: boolean;
  @ApiProperty({ type: [String], example: ['Pleural effusion'], description: 'The labels concerned' })
  flaggedLabels!: string[];
  @ApiProperty({ type: [ReaderLabelCalibrationDto], description: 'Every label of the taxonomy: box labels, then global labels' })
  labels!: ReaderLabelCalibrationDto[];
  @ApiProperty({
    type: GoldAccuracyDto,
    nullable: true,
    description: 'Accuracy on hidden gold scans (issue #16); null while no gold scan has been read',
  })
  gold!: GoldAccuracyDto | null;
}

export class ReaderCalibrationSummaryDto {
  @ApiProperty({ example: 'rad07' })
  readerId!: string;
  @ApiProperty({ type: String, nullable: true, example: 'Radiologist 07' })
  displayName!: string | null;
  @ApiProperty({ example: 240 })
  readings!: number;
  @ApiProperty({ type: Number, nullable: true, example: 171 })
  medianReadSeconds!: number | null;
  @ApiProperty({ type: Number, nullable: true, example: 0.68 })
  boxF1!: number | null;
  @ApiProperty({ example: false })
  flagged!: boolean;
  @ApiProperty({ type: [String], example: [] })
  flaggedLabels!: string[];
  @ApiProperty({ type: [LabelCalibrationDto], description: 'Every label of the taxonomy (the pool’s figures are in `pool.labels`)' })
  labels!: LabelCalibrationDto[];
  @ApiProperty({ type: GoldAccuracyDto, nullable: true, description: 'Accuracy on hidden gold scans; null while none was read' })
  gold!: GoldAccuracyDto | null;
}

export class CalibrationPoolDto {
  @ApiProperty({ example: 17 })
  readers!: number;
  @ApiProperty({ example: 4500 })
  readings!: number;
  @ApiProperty({ example: 1500 })
  scans!: number;
  @ApiProperty({ type: Number, nullable: true, example: 190 })
  medianReadSeconds!: number | null;
  @ApiProperty({ type: Number, nullable: true, example: 0.7 })
  boxF1!: number | null;
  @ApiProperty({ type: [LabelStatsItemDto] })
  labels!: LabelStatsItemDto[];
}

export class CalibrationReportDto {
  @ApiProperty({ type: CalibrationMethodDto })
  method!: CalibrationMethodDto;
  @ApiProperty({ type: CalibrationPoolDto })
  pool!: CalibrationPoolDto;
  @ApiProperty({ type: [ReaderCalibrationSummaryDto], description: 'Every reader with readings of released scans, by id' })
  readers!: ReaderCalibrationSummaryDto[];
  @ApiProperty({ type: [String], example: ['rad04'], description: 'Readers with at least one flagged label' })
  flaggedReaders!: string[];
}

export class ReaderCalibrationResponseDto {
  @ApiProperty({ type: CalibrationMethodDto })
  method!: CalibrationMethodDto;
  @ApiProperty({ type: ReaderCalibrationDto })
  reader!: ReaderCalibrationDto;
}
