import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

export class AuditQuery {
  @ApiPropertyOptional({ example: 'scan-0123456789abcdef01234567' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  scanId?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  cursor?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}

export class AuditEventDto {
  @ApiProperty()
  id!: string;
  @ApiProperty({ type: String, nullable: true })
  scanId!: string | null;
  @ApiProperty({ type: String, nullable: true })
  taskId!: string | null;
  @ApiProperty({ description: 'A reader id, `system` or `workflow`' })
  actor!: string;
  @ApiProperty({ example: 'task.assigned' })
  action!: string;
  @ApiProperty({ type: 'object', additionalProperties: true })
  detail!: Record<string, unknown>;
  @ApiProperty()
  at!: string;
}

export class AuditPageDto {
  @ApiProperty({ type: [AuditEventDto] })
  items!: AuditEventDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
