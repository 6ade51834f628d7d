import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
} from 'class-validator';

import { DEFAULT_PRIORITY_BY_SPLIT, EXTENSION_REASONS, POLICY_NAMES, SCAN_PRIORITY_RANGE, SCAN_SPLITS, SCAN_STAGES, TASK_ROLES } from '../../domain';
import type { PolicyName, ScanSplit, ScanStage, TaskRole } from '../../domain';
import { BoxDto, TaskSlotDto } from '../tasks/tasks.dto';
import { PageQuery } from '../common/page-query';
import { SafeText } from '../common/safe-text';
import { PageOf } from '../common/page.dto';

/** What the API documents of `priority` (the JSON body of a batch and the multipart form of an upload). */
export const PRIORITY_PROPERTY = {
  type: 'integer',
  minimum: SCAN_PRIORITY_RANGE.min,
  maximum: SCAN_PRIORITY_RANGE.max,
  description:
    'Place in the queue for readers when none has capacity (waiting-for-readers): a higher priority is served first, then ' +
    `first come, first served. Default by split: ${DEFAULT_PRIORITY_BY_SPLIT.test} for test (served first), ${DEFAULT_PRIORITY_BY_SPLIT.train} for train.`,
} as const;

/** The dataset split, reading policy and queue priority of new scans (an upload's or a batch's). */
export class ScanSettingsDto {
  @ApiProperty({ enum: SCAN_SPLITS })
  @IsIn(SCAN_SPLITS)
  split!: ScanSplit;

  @ApiPropertyOptional({ enum: POLICY_NAMES, description: 'Default by split: independent-3 for train, consensus-5 for test (as VinDr-CXR).' })
  @IsOptional()
  @IsIn(POLICY_NAMES)
  policy?: PolicyName;

  @ApiPropertyOptional(PRIORITY_PROPERTY)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(SCAN_PRIORITY_RANGE.min)
  @Max(SCAN_PRIORITY_RANGE.max)
  priority?: number;
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
  @ApiProperty({ description: 'A hidden gold scan (never fused, exported or released; its tasks look like any other to readers)' })
  gold!: boolean;
  @ApiProperty({
    type: Boolean,
    nullable: true,
    description: 'Adaptive policies: true when the scan got more readers, false when its first readers sufficed; null before the decision and for other policies',
  })
  extended!: boolean | null;
}

export class ScanPageDto extends PageOf(ScanSummaryDto) {}

export class ScanTaskDto extends TaskSlotDto {
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

/** An adaptive scan's extension decision (policy `adaptive-3-5`), from its audit trail. */
export class ScanExtensionDto {
  @ApiProperty({ description: 'True when the scan got more readers (all readings are fused with the extended quorum)' })
  extended!: boolean;
  @ApiProperty({ enum: EXTENSION_REASONS })
  reason!: string;
  @ApiProperty({ description: 'Agreement of the first readers: the lower of mean box F1 (IoU ≥ 0.4) and image-level label agreement' })
  agreement!: number;
  @ApiProperty()
  meanBoxF1!: number;
  @ApiProperty()
  meanLabelAgreement!: number;
  @ApiProperty({ description: 'Findings the first readers labelled differently at the same place, neither label reaching the quorum' })
  disputedFindings!: number;
  @ApiPropertyOptional({ description: "Probability that the likeliest finding the first readers' fusion dropped was missed by the others (readers' track record)" })
  unconfirmedFinding?: number;
  @ApiProperty({ description: 'The policy bound (adaptive.extendBelow)' })
  bound!: number;
  @ApiProperty()
  extraReaders!: number;
  @ApiProperty()
  readingsRequired!: number;
  @ApiProperty({ format: 'date-time' })
  decidedAt!: string;
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
  @ApiProperty({
    type: ScanExtensionDto,
    nullable: true,
    description: 'Adaptive policies: whether the first readers agreed or the scan got more readers (null before the decision, and for other policies)',
  })
  extension!: ScanExtensionDto | null;
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
