import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  MaxLength,
  MinLength,
} from 'class-validator';

import type { ScanStage } from '../../db/entities';
import type { PolicyName } from '../../domain';
import { DEFAULT_POLICIES, SCAN_STAGES } from '../../domain';
import { TASK_ROLES, TASK_STATUSES, BoxDto } from '../tasks/tasks.dto';
import type { TaskRole, TaskStatus } from '../../db/entities';
import { PageQuery } from '../common/page-query';

export const SPLITS = ['train', 'test'] as const;
export const POLICY_NAMES = Object.keys(DEFAULT_POLICIES) as readonly PolicyName[];
export const STAGES: readonly ScanStage[] = SCAN_STAGES;

/** The dataset split and reading policy of new scans (an upload's or a batch's). */
export class ScanSettingsDto {
  @ApiProperty({ enum: SPLITS })
  @IsIn(SPLITS)
  split!: (typeof SPLITS)[number];

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
  @ApiProperty({ enum: STAGES })
  stage!: ScanStage;
  @ApiProperty({ description: 'The workflow in the Temporal UI' })
  workflowUrl!: string;
}

export class CreateBatchDto extends ScanSettingsDto {
  @ApiPropertyOptional({
    description:
      'A directory under the import directory (READFLOW_IMPORT_DIR; relative paths resolve against it): every file under it, recursively',
  })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(4096)
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

export class ListScansQuery extends PageQuery {
  @ApiPropertyOptional({ enum: STAGES })
  @IsOptional()
  @IsIn(STAGES)
  stage?: ScanStage;

  @ApiPropertyOptional({ enum: SPLITS })
  @IsOptional()
  @IsIn(SPLITS)
  split?: (typeof SPLITS)[number];
}

export class ScanSummaryDto {
  @ApiProperty()
  scanId!: string;
  @ApiProperty({ type: String, nullable: true })
  imageId!: string | null;
  @ApiProperty({ enum: STAGES })
  stage!: ScanStage;
  @ApiProperty({ enum: SPLITS })
  split!: string;
  @ApiProperty({ enum: POLICY_NAMES })
  policy!: string;
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
  reason?: string;
}

export class ScanStateDto {
  @ApiProperty()
  scanId!: string;
  @ApiProperty({ enum: STAGES })
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
