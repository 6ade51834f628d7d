import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsIn,
  IsOptional,
  IsString,
  MaxLength,
} from 'class-validator';

import { POLICY_NAMES, SCAN_SPLITS, SCAN_STAGES, TASK_ROLES, TASK_STATUSES } from '../../domain';
import type { PolicyName, ScanSplit, ScanStage, TaskRole, TaskStatus } from '../../domain';
import { BoxDto } from '../tasks/tasks.dto';
import { PageQuery } from '../common/page-query';
import { SafeText } from '../common/safe-text';

/** The dataset split and reading policy of new scans (an upload's or a batch's). */
export class ScanSettingsDto {
  @ApiProperty({ enum: SCAN_SPLITS })
  @IsIn(SCAN_SPLITS)
  split!: ScanSplit;

  @ApiPropertyOptional({ enum: POLICY_NAMES, description: 'Default by split: independent-3 for train, consensus-5 for test (as VinDr-CXR).' })
  @IsOptional()
  @IsIn(POLICY_NAMES)
  policy?: PolicyName;
}

/** Multipart fields of a scan upload (the file part is `file`). */
export class UploadScanDto extends ScanSettingsDto {}

export class StartedScanDto {
  @ApiProperty({ example: 'scan-0123456789abcdef01234567' })
  scanId!: string;
  @ApiProperty({ description: 'Equals scanId' })
  workflowId!: string;
  @ApiProperty({ enum: SCAN_STAGES })
  stage!: ScanStage;
  @ApiProperty({ description: 'The workflow in the Temporal UI' })
  workflowUrl!: string;
}

export class ListScansQuery extends PageQuery {
  @ApiPropertyOptional({ enum: SCAN_STAGES })
  @IsOptional()
  @IsIn(SCAN_STAGES)
  stage?: ScanStage;

  @ApiPropertyOptional({ enum: SCAN_SPLITS })
  @IsOptional()
  @IsIn(SCAN_SPLITS)
  split?: ScanSplit;
}

export class ScanSummaryDto {
  @ApiProperty()
  scanId!: string;
  @ApiProperty({ type: String, nullable: true })
  imageId!: string | null;
  @ApiProperty({ enum: SCAN_STAGES })
  stage!: ScanStage;
  @ApiProperty({ enum: SCAN_SPLITS })
  split!: ScanSplit;
  @ApiProperty({ enum: POLICY_NAMES })
  policy!: PolicyName;
  @ApiProperty({ type: String, nullable: true })
  batchId!: string | null;
  @ApiProperty({ type: String, nullable: true })
  quarantineReason!: string | null;
  @ApiProperty({ type: String, nullable: true })
  attentionReason!: string | null;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  releasedAt!: string | null;
  @ApiProperty()
  workflowUrl!: string;
}

export class ScanPageDto {
  @ApiProperty({ type: [ScanSummaryDto] })
  items!: ScanSummaryDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}

export class ScanTaskDto {
  @ApiProperty({ format: 'uuid' })
  taskId!: string;
  @ApiProperty()
  readerId!: string;
  @ApiProperty({ enum: TASK_ROLES })
  role!: TaskRole;
  @ApiProperty()
  slot!: number;
  @ApiProperty()
  round!: number;
  @ApiProperty({ enum: TASK_STATUSES })
  status!: TaskStatus;
  @ApiProperty({ format: 'date-time' })
  assignedAt!: string;
  @ApiProperty({ format: 'date-time' })
  dueAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  submittedAt!: string | null;
  @ApiProperty()
  overdue!: boolean;
}

export class ScanImageDto {
  @ApiProperty({ type: Number, nullable: true }) rows!: number | null;
  @ApiProperty({ type: Number, nullable: true }) columns!: number | null;
  @ApiProperty({ type: [Number], nullable: true }) pixelSpacing!: number[] | null;
  @ApiProperty({ type: String, nullable: true }) modality!: string | null;
  @ApiProperty({ type: String, nullable: true }) viewPosition!: string | null;
  @ApiProperty({ type: String, nullable: true }) transferSyntax!: string | null;
}

export class ScanDetailDto extends ScanSummaryDto {
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The manager who cancelled the scan (stage cancelled)',
  })
  cancelledBy!: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The reason given when the scan was cancelled, if any',
  })
  cancelReason!: string | null;
  @ApiProperty({ type: ScanImageDto })
  image!: ScanImageDto;
  @ApiProperty({
    type: [ScanTaskDto],
    description: 'Tasks with readers and deadlines (never their readings)',
  })
  tasks!: ScanTaskDto[];
}

export class CancelScanDto {
  @ApiPropertyOptional({ maxLength: 1000 })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  @SafeText({ multiline: true })
  reason?: string;
}

export class ScanStateDto {
  @ApiProperty()
  scanId!: string;
  @ApiProperty({ enum: SCAN_STAGES })
  stage!: ScanStage;
  @ApiPropertyOptional()
  attentionReason?: string;
}

export class LabelSetDto {
  @ApiProperty({ type: [BoxDto] })
  boxes!: BoxDto[];
  @ApiProperty({ type: [String] })
  globalLabels!: string[];
}

export class FusedLabelSetDto {
  @ApiProperty({
    type: 'array',
    items: { type: 'object' },
    description: 'Fused boxes with score and readerIds',
  })
  boxes!: Record<string, unknown>[];
  @ApiProperty({ type: [String] })
  globalLabels!: string[];
  @ApiProperty({ example: 'wbf' })
  method!: string;
}

export class ScanReadingDto {
  @ApiProperty({ format: 'uuid' })
  taskId!: string;
  @ApiProperty()
  readerId!: string;
  @ApiProperty({ enum: TASK_ROLES })
  role!: TaskRole;
  @ApiProperty({ type: [BoxDto] })
  boxes!: BoxDto[];
  @ApiProperty({ type: [String] })
  globalLabels!: string[];
  @ApiProperty({ type: String, nullable: true })
  comment!: string | null;
  @ApiProperty({ type: String, nullable: true })
  decision!: string | null;
  @ApiProperty({ format: 'date-time' })
  submittedAt!: string;
}

export class ScanLabelsDto {
  @ApiProperty()
  scanId!: string;
  @ApiProperty()
  imageId!: string;
  @ApiProperty({ type: FusedLabelSetDto })
  fused!: FusedLabelSetDto;
  @ApiProperty({
    type: LabelSetDto,
    description: 'Released labels (fused, or the confirmed consensus review)',
  })
  final!: LabelSetDto;
  @ApiProperty({ type: [ScanReadingDto] })
  readings!: ScanReadingDto[];
  @ApiProperty({ type: 'object', additionalProperties: true })
  agreement!: Record<string, unknown>;
  @ApiProperty({ format: 'date-time' })
  releasedAt!: string;
}
