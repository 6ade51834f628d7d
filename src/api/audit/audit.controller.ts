import { Controller, Get, Inject, Injectable, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { DataSource } from 'typeorm';

import { Roles } from '../auth/principal';
import { decodeCursor, pageOf, tsKey } from '../common/cursor';
import type { Page } from '../common/cursor';
import { DATA_SOURCE } from '../deps';

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

interface AuditRow {
  id: string;
  scan_id: string | null;
  task_id: string | null;
  actor: string;
  action: string;
  detail: Record<string, unknown>;
  at: Date;
}

@Injectable()
export class AuditService {
  constructor(@Inject(DATA_SOURCE) private readonly ds: DataSource) {}

  /**
   * The append-only trail, oldest first. With `scanId`: keyset over (at, id) on ix_audit_events_scan_at;
   * without: over the identity key.
   */
  async list(q: AuditQuery): Promise<Page<AuditEventDto>> {
    const limit = q.limit ?? 100;
    let rows: (AuditRow & { at_key: string })[];
    if (q.scanId) {
      const after = decodeCursor(q.cursor, 2, ['timestamp', 'integer']);
      rows = await this.ds.query(
        `SELECT id, scan_id, task_id, actor, action, detail, at, ${tsKey('at')} AS at_key
           FROM audit_events
          WHERE scan_id = $1 ${after ? `AND (at, id) > ($3::timestamptz, $4::bigint)` : ''}
          ORDER BY at, id LIMIT $2`,
        after ? [q.scanId, limit + 1, after[0], after[1]] : [q.scanId, limit + 1],
      );
      return pageOf(rows, limit, (r) => [r.at_key, String(r.id)], toDto);
    }
    const after = decodeCursor(q.cursor, 1, ['integer']);
    rows = await this.ds.query(
      `SELECT id, scan_id, task_id, actor, action, detail, at, '' AS at_key FROM audit_events
        ${after ? 'WHERE id > $2::bigint' : ''} ORDER BY id LIMIT $1`,
      after ? [limit + 1, after[0]] : [limit + 1],
    );
    return pageOf(rows, limit, (r) => [String(r.id)], toDto);
  }
}

function toDto(r: AuditRow): AuditEventDto {
  return {
    id: String(r.id),
    scanId: r.scan_id,
    taskId: r.task_id,
    actor: r.actor,
    action: r.action,
    detail: r.detail,
    at: new Date(r.at).toISOString(),
  };
}

@ApiTags('audit')
@ApiBearerAuth()
@Roles('manager', 'admin')
@Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  /** Who did what, when: assignment, submission, reassignment, release… (append-only). */
  @Get()
  @ApiOkResponse({ type: AuditPageDto })
  list(@Query() q: AuditQuery): Promise<AuditPageDto> {
    return this.audit.list(q);
  }
}
