import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { LimitParam } from '../common/page-query';
import { PageOf } from '../common/page.dto';

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

  @LimitParam({ default: 100, max: 500 })
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

export class AuditPageDto extends PageOf(AuditEventDto) {}
