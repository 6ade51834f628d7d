import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional } from 'class-validator';

import { SCAN_SPLITS, SCAN_STAGES, TASK_ROLES } from '../../domain';
import type { ScanSplit, ScanStage, TaskRole } from '../../domain';
import { LimitParam } from '../common/page-query';
import { ReaderAgreementDto } from '../readers/readers.dto';

// ---- GET /stats/pipeline ------------------------------------------------------------------------------------

export class StageCountDto {
  @ApiProperty({ enum: SCAN_STAGES, example: 'reading' })
  stage!: ScanStage;
  @ApiProperty({ example: 412 })
  train!: number;
  @ApiProperty({ example: 37 })
  test!: number;
  @ApiProperty({ example: 449 })
  total!: number;
  @ApiProperty({
    example: 'http://127.0.0.1:8233/namespaces/readflow/workflows?query=Stage%3D%22reading%22',
    description: 'The scan workflows in this stage, in the Temporal UI (search attribute `Stage`)',
  })
  workflowsUrl!: string;
}

export class ReasonCountDto {
  @ApiProperty({ example: 'not-dicom' })
  reason!: string;
  @ApiProperty({ example: 3 })
  count!: number;
}

export class PipelineStatsDto {
  @ApiProperty({ example: 1530, description: 'Scans ReadFlow knows of (every stage)' })
  total!: number;
  @ApiProperty({ example: { train: 1400, test: 130 }, description: 'Scans per split' })
  splits!: Record<ScanSplit, number>;
  @ApiProperty({ type: [StageCountDto], description: 'Every stage in lifecycle order (zero when none), split by split' })
  stages!: StageCountDto[];
  @ApiProperty({ example: 1303, description: 'Open tasks (readings and reviews)' })
  openTasks!: number;
  @ApiProperty({ example: 12, description: 'Open tasks past their deadline' })
  overdueTasks!: number;
  @ApiProperty({ example: 4, description: 'Inputs refused at ingest' })
  quarantinedInputs!: number;
  @ApiProperty({ type: [ReasonCountDto], description: 'Refused inputs per reason, most frequent first' })
  quarantineReasons!: ReasonCountDto[];
}

// ---- GET /stats/throughput ----------------------------------------------------------------------------------

export const THROUGHPUT_BUCKETS = ['hour', 'day'] as const;
export type ThroughputBucket = (typeof THROUGHPUT_BUCKETS)[number];
/** Most buckets one request may ask for. */
export const MAX_THROUGHPUT_BUCKETS = 2000;

export class ThroughputQuery {
  @ApiPropertyOptional({ enum: THROUGHPUT_BUCKETS, default: 'hour', description: 'Bucket width (UTC hours or days)' })
  @IsOptional()
  @IsIn(THROUGHPUT_BUCKETS)
  bucket?: ThroughputBucket;

  @ApiPropertyOptional({
    example: '2026-12-01T00:00:00Z',
    description: 'Start (rounded down to a bucket); default: 48 hours (hour) or 30 days (day) before `to`',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ example: '2026-12-02T00:00:00Z', description: 'End (exclusive, rounded up to a bucket); default: now' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

export class ThroughputPointDto {
  @ApiProperty({ example: '2026-12-01T14:00:00.000Z', description: 'Bucket start (UTC)' })
  start!: string;
  @ApiProperty({ example: 42, description: 'Scans released in the bucket' })
  released!: number;
  @ApiProperty({ example: 40 })
  train!: number;
  @ApiProperty({ example: 2 })
  test!: number;
}

export class ThroughputDto {
  @ApiProperty({ enum: THROUGHPUT_BUCKETS, example: 'hour' })
  bucket!: ThroughputBucket;
  @ApiProperty({ example: '2026-11-29T15:00:00.000Z' })
  from!: string;
  @ApiProperty({ example: '2026-12-01T15:00:00.000Z', description: 'Exclusive' })
  to!: string;
  @ApiProperty({ example: 913, description: 'Scans released in the window' })
  total!: number;
  @ApiProperty({ type: [ThroughputPointDto], description: 'Every bucket of the window, oldest first (zero when none)' })
  series!: ThroughputPointDto[];
}

// ---- GET /stats/readers -------------------------------------------------------------------------------------

export class ReaderWorkloadDto {
  @ApiProperty({ example: 'rad07' })
  readerId!: string;
  @ApiProperty({ example: 'Radiologist 07' })
  displayName!: string;
  @ApiProperty()
  active!: boolean;
  @ApiProperty()
  senior!: boolean;
  @ApiProperty({ example: 50 })
  openTaskCap!: number;
  @ApiProperty({ example: 6, description: 'Open tasks (readings and reviews)' })
  openTasks!: number;
  @ApiProperty({ example: 1, description: 'Open tasks past their deadline' })
  overdueTasks!: number;
  @ApiProperty({ example: 211, description: 'Submitted tasks' })
  completedTasks!: number;
  @ApiProperty({ example: 3, description: 'Tasks whose deadline passed and that went to another reader' })
  expiredTasks!: number;
  @ApiProperty({ example: 1, description: 'Tasks a manager gave to another reader' })
  reassignedTasks!: number;
  @ApiProperty({ type: Number, nullable: true, example: 184.5, description: 'Median seconds from assignment to submission of their readings' })
  medianReadSeconds!: number | null;
  @ApiProperty({ type: ReaderAgreementDto, nullable: true, description: 'Agreement with the fused labels of the released scans they read' })
  agreement!: ReaderAgreementDto | null;
}

export class ReaderStatsDto {
  @ApiProperty({ type: [ReaderWorkloadDto], description: 'Every radiologist, by id' })
  items!: ReaderWorkloadDto[];
  @ApiProperty({ type: Number, nullable: true, example: 190, description: 'Median read time over every reading of the pool' })
  poolMedianReadSeconds!: number | null;
}

// ---- GET /stats/labels --------------------------------------------------------------------------------------

export class LabelFiguresDto {
  @ApiProperty({ example: 1200, description: 'Readings counted (readers’ readings of released scans)' })
  readings!: number;
  @ApiProperty({ example: 96, description: 'Readings that call the label (a box of it, or the global label)' })
  positives!: number;
  @ApiProperty({ type: Number, nullable: true, example: 0.08 })
  positiveRate!: number | null;
  @ApiProperty({ example: 90, description: 'Readings whose reference labels have the label' })
  referencePositives!: number;
  @ApiProperty({ example: 81 })
  truePositives!: number;
  @ApiProperty({ type: Number, nullable: true, example: 0.9, description: 'True positives / reference positives' })
  sensitivity!: number | null;
  @ApiProperty({ type: Number, nullable: true, example: 0.84, description: 'True positives / positives' })
  precision!: number | null;
  @ApiProperty({ type: Number, nullable: true, example: 0.98, description: 'Share of readings agreeing with the reference on the label’s presence' })
  agreement!: number | null;
  @ApiProperty({ type: Number, nullable: true, example: 0.71, description: 'Box labels: micro box F1 (IoU ≥ 0.4) against the reference boxes; null for global labels' })
  boxF1!: number | null;
}

export class LabelStatsItemDto extends LabelFiguresDto {
  @ApiProperty({ example: 'Nodule/Mass' })
  label!: string;
  @ApiProperty({ enum: ['local', 'global'], example: 'local' })
  kind!: 'local' | 'global';
}

export class LabelStatsDto {
  @ApiProperty({ example: 'fused labels of training scans; consensus (final) labels of test scans', description: 'What the readings are compared with' })
  reference!: string;
  @ApiProperty({ example: 1530, description: 'Released scans counted' })
  scans!: number;
  @ApiProperty({ type: [LabelStatsItemDto], description: 'Every label of the taxonomy: box labels, then global labels' })
  items!: LabelStatsItemDto[];
}

export class StatsSplitQuery {
  @ApiPropertyOptional({ enum: SCAN_SPLITS, description: 'Only scans of this split (default both)' })
  @IsOptional()
  @IsIn(SCAN_SPLITS)
  split?: ScanSplit;
}

// ---- GET /stats/overdue -------------------------------------------------------------------------------------

export class OverdueQuery {
  @LimitParam({ default: 100, max: 200, description: 'Most tasks listed (oldest deadline first)' })
  limit?: number;
}

export class OverdueTaskDto {
  @ApiProperty({ example: '3f0c2a8e-6f43-4c8e-9d55-1b5a0f3d2c11' })
  taskId!: string;
  @ApiProperty({ example: 'scan-3b1f0c9a2d4e5f60718293a4' })
  scanId!: string;
  @ApiProperty({ example: 'rad07' })
  readerId!: string;
  @ApiProperty({ enum: TASK_ROLES })
  role!: TaskRole;
  @ApiProperty({ example: 1 })
  slot!: number;
  @ApiProperty({ example: 0 })
  round!: number;
  @ApiProperty({ example: '2026-11-28T09:00:00.000Z' })
  assignedAt!: string;
  @ApiProperty({ example: '2026-12-01T09:00:00.000Z' })
  dueAt!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'rad12',
    description:
      'Who `POST /tasks/{taskId}/reassign` without `toReaderId` would pick now (the workflow’s rule: active, never had the scan, under their cap, least open work; senior for reviews); null when nobody is eligible',
  })
  suggestedReaderId!: string | null;
  @ApiProperty({ example: 'http://127.0.0.1:8233/namespaces/readflow/workflows/scan-3b1f0c9a2d4e5f60718293a4', description: 'The scan’s workflow in the Temporal UI' })
  workflowUrl!: string;
}

export class OverdueStatsDto {
  @ApiProperty({ example: 12, description: 'Every open task past its deadline' })
  total!: number;
  @ApiProperty({ type: [OverdueTaskDto], description: 'The oldest deadlines first, at most `limit`' })
  items!: OverdueTaskDto[];
}
