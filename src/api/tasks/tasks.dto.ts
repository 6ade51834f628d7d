import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsISO8601, IsNumber, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

import { RENDER_LIMITS } from '../../dicom/render';

import { REVIEW_DECISIONS, TASK_ROLES, TASK_STATUSES } from '../../domain';
import type { TaskRole, TaskStatus } from '../../domain';
import { PageQuery } from '../common/page-query';
import { SafeText } from '../common/safe-text';
import { PageOf } from '../common/page.dto';

const toBool = ({ value }: { value: unknown }): unknown =>
  value === 'true' ? true : value === 'false' ? false : value;

export class InboxQuery extends PageQuery {
  @ApiPropertyOptional({ enum: TASK_STATUSES, default: 'open' })
  @IsOptional()
  @IsIn(TASK_STATUSES)
  status?: TaskStatus;
}

export class ManagerTasksQuery extends InboxQuery {
  @ApiPropertyOptional({ description: 'Only open tasks past their deadline (implies status=open)' })
  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  overdue?: boolean;

  @ApiPropertyOptional({ example: 'rad01' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @SafeText()
  readerId?: string;
}

/** What every view of a task shows. */
export class TaskCoreDto {
  @ApiProperty({ format: 'uuid' })
  taskId!: string;
  @ApiProperty({ enum: TASK_ROLES })
  role!: TaskRole;
  @ApiProperty({ enum: TASK_STATUSES })
  status!: TaskStatus;
  @ApiProperty({ format: 'date-time' })
  assignedAt!: string;
  @ApiProperty({ format: 'date-time' })
  dueAt!: string;
}

/** A task with its holder and its place in the scan's policy (the managers' and the scan's views). */
export class TaskSlotDto extends TaskCoreDto {
  @ApiProperty()
  readerId!: string;
  @ApiProperty({ description: 'Policy slot the task fills (reassignment keeps the slot)' })
  slot!: number;
  @ApiProperty({ description: 'Review round (0 for reading)' })
  round!: number;
}

export class InboxItemDto extends TaskCoreDto {
  @ApiProperty({ description: 'Pseudonymous 32-hex image id' })
  imageId!: string;
  @ApiProperty({ description: 'The de-identified DICOM (add ?format=png for a preview)' })
  imageUrl!: string;
}

export class InboxPageDto extends PageOf(InboxItemDto) {}

export class ManagedTaskDto extends InboxItemDto {
  @ApiProperty()
  scanId!: string;
  @ApiProperty()
  readerId!: string;
  @ApiProperty({ description: 'Policy slot the task fills' })
  slot!: number;
  @ApiProperty({ description: 'Review round (0 for reading)' })
  round!: number;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  submittedAt!: string | null;
  @ApiProperty()
  overdue!: boolean;
}

export class ManagedTaskPageDto extends PageOf(ManagedTaskDto) {}

export class LabelDto {
  @ApiProperty()
  id!: number;
  @ApiProperty({ example: 'Nodule/Mass' })
  name!: string;
  @ApiProperty({
    enum: ['local', 'global'],
    description: 'local labels are boxes; global labels apply to the image',
  })
  kind!: 'local' | 'global';
}

export class TaxonomyDto {
  @ApiProperty()
  version!: string;
  @ApiProperty({ description: 'The exclusive "nothing found" global label' })
  noFinding!: string;
  @ApiProperty({ type: [LabelDto] })
  labels!: LabelDto[];
}

export class ImageMetaDto {
  @ApiProperty()
  imageId!: string;
  @ApiProperty({ type: Number, nullable: true })
  rows!: number | null;
  @ApiProperty({ type: Number, nullable: true })
  columns!: number | null;
  @ApiProperty({ type: [Number], nullable: true, description: 'Row and column spacing in mm' })
  pixelSpacing!: number[] | null;
  @ApiProperty({ type: String, nullable: true, example: 'PA' })
  viewPosition!: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'DX' })
  modality!: string | null;
  @ApiProperty({ type: String, nullable: true })
  transferSyntax!: string | null;
  @ApiProperty()
  url!: string;
  @ApiProperty()
  previewUrl!: string;
}

export class BoxDto {
  @ApiProperty({ example: 'Nodule/Mass' })
  label!: string;
  @ApiProperty({ example: 100 })
  x_min!: number;
  @ApiProperty({ example: 120 })
  y_min!: number;
  @ApiProperty({ example: 180 })
  x_max!: number;
  @ApiProperty({ example: 200 })
  y_max!: number;
}

export class ReadingDto {
  @ApiProperty({ type: [BoxDto] })
  boxes!: BoxDto[];
  @ApiProperty({ type: [String] })
  globalLabels!: string[];
  @ApiPropertyOptional()
  comment?: string;
}

export class ReviewedReadingDto {
  @ApiProperty()
  readerId!: string;
  @ApiProperty({ type: ReadingDto })
  reading!: ReadingDto;
}

export class ReviewDto {
  @ApiProperty()
  round!: number;
  @ApiProperty({ description: '0: edit the proposal and submit; 1: confirm or return it' })
  slot!: number;
  @ApiProperty({ type: [ReviewedReadingDto], description: 'The readings under review' })
  readings!: ReviewedReadingDto[];
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The fused proposal' })
  fused!: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true })
  agreement!: Record<string, unknown>;
  @ApiPropertyOptional({ type: ReviewedReadingDto })
  proposal?: ReviewedReadingDto;
  @ApiProperty({ type: 'array', items: { type: 'object' } })
  returns!: { round: number; readerId: string; reason: string }[];
}

export class TaskInfoDto extends TaskCoreDto {
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  submittedAt!: string | null;
  @ApiProperty({ description: 'Review round (0 for reading)' })
  round!: number;
  @ApiPropertyOptional({ description: 'Managers only' })
  readerId?: string;
  @ApiPropertyOptional({ description: 'Managers only' })
  scanId?: string;
}

export class TaskDetailDto {
  @ApiProperty({ type: TaskInfoDto })
  task!: TaskInfoDto;
  @ApiProperty({ type: ImageMetaDto })
  image!: ImageMetaDto;
  @ApiProperty({ type: TaxonomyDto })
  taxonomy!: TaxonomyDto;
  @ApiPropertyOptional({
    type: ReadingDto,
    nullable: true,
    description: 'The caller’s own accepted submission, if any',
  })
  submission?: ReadingDto | null;
  @ApiPropertyOptional({ type: ReviewDto, description: 'Reviewer tasks: the readings under review' })
  review?: ReviewDto;
}

/**
 * A reading (or a review decision). Unknown fields are refused at the edge; the content (types, taxonomy, image
 * bounds, duplicates…) is validated by the scan's workflow with the domain rules, so that every problem comes back at
 * once with its JSON path, as one `invalid-submission` problem.
 */
export class SubmissionDto {
  @ApiPropertyOptional({
    type: [BoxDto],
    description:
      'Readers and the first reviewer (use [] for none; at most the policy’s maxBoxes, 100 by default); the second reviewer sends only a decision',
  })
  @IsOptional()
  boxes?: unknown;

  @ApiPropertyOptional({
    type: [String],
    example: ['No finding'],
    description: 'Global label names (use [] for none); required with boxes, absent for the second reviewer',
  })
  @IsOptional()
  globalLabels?: unknown;

  @ApiPropertyOptional({ type: String, maxLength: 4000 })
  @IsOptional()
  comment?: unknown;

  @ApiPropertyOptional({
    enum: REVIEW_DECISIONS,
    description: 'Reviewer tasks only: the first reviewer submit (or none), the second confirm or return',
  })
  @IsOptional()
  @IsIn(REVIEW_DECISIONS)
  decision?: (typeof REVIEW_DECISIONS)[number];

  @ApiPropertyOptional({ maxLength: 4000, description: 'Required with decision=return' })
  @IsOptional()
  @IsString()
  @MaxLength(4000)
  @SafeText({ multiline: true })
  reason?: string;
}

export class SubmissionResultDto {
  @ApiProperty({ enum: ['accepted'] })
  status!: 'accepted';
  @ApiProperty({ description: 'The same submission had already been accepted' })
  duplicate!: boolean;
  @ApiProperty({ format: 'uuid' })
  taskId!: string;
}

export class ReassignDto {
  @ApiPropertyOptional({ description: 'Target reader; the next eligible reader when absent' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @SafeText()
  toReaderId?: string;
}

export class ReassignResultDto {
  @ApiProperty({ format: 'uuid' })
  newTaskId!: string;
  @ApiProperty()
  readerId!: string;
  @ApiProperty({ format: 'date-time' })
  dueAt!: string;
}

export class ExtendDto {
  @ApiProperty({ format: 'date-time', description: 'New deadline (in the future)' })
  @IsISO8601({ strict: true })
  dueAt!: string;
}

export class TaskViewDto extends TaskSlotDto {
  @ApiPropertyOptional({ format: 'date-time' })
  submittedAt?: string;
  @ApiProperty()
  overdue!: boolean;
}

export class ImageQuery {
  @ApiPropertyOptional({ enum: ['dicom', 'png'], default: 'dicom' })
  @IsOptional()
  @IsIn(['dicom', 'png'])
  format?: 'dicom' | 'png';

  @ApiPropertyOptional({
    description: 'PNG only: window width in modality units (after rescale). Default: the file’s first VOI window, else the pixel range.',
    minimum: RENDER_LIMITS.minWindow,
    maximum: RENDER_LIMITS.maxAbs,
    example: 1500,
  })
  @IsOptional()
  @Type(() => Number)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(RENDER_LIMITS.minWindow)
  @Max(RENDER_LIMITS.maxAbs)
  window?: number;

  @ApiPropertyOptional({
    description: 'PNG only: window level (center) in modality units. Default: as `window`.',
    minimum: -RENDER_LIMITS.maxAbs,
    maximum: RENDER_LIMITS.maxAbs,
    example: -600,
  })
  @IsOptional()
  @Type(() => Number)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(-RENDER_LIMITS.maxAbs)
  @Max(RENDER_LIMITS.maxAbs)
  level?: number;

  @ApiPropertyOptional({
    description: 'PNG only: longest side in pixels; the image is downscaled (area average), never enlarged. Default: full resolution.',
    minimum: RENDER_LIMITS.minSize,
    maximum: RENDER_LIMITS.maxSize,
    example: 1024,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(RENDER_LIMITS.minSize)
  @Max(RENDER_LIMITS.maxSize)
  size?: number;
}
