import { Controller, Get, Inject, Injectable, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';

import { Roles } from '../auth/principal';
import { decodeCursor, pageOf, tsKey } from '../common/cursor';
import type { Page } from '../common/cursor';
import { DATA_SOURCE } from '../deps';
import { PageQuery } from '../common/page-query';

export class QuarantineQuery extends PageQuery {}

export class QuarantinedInputDto {
  @ApiProperty()
  id!: string;
  @ApiProperty({ description: 'SHA-256 of the refused bytes (their key in the quarantine store)' })
  sha256!: string;
  @ApiProperty({ type: String, nullable: true })
  scanId!: string | null;
  @ApiProperty({ type: String, nullable: true })
  filename!: string | null;
  @ApiProperty({ example: 'not-dicom', description: 'Machine-readable reason' })
  reason!: string;
  @ApiProperty()
  detail!: string;
  @ApiProperty()
  sizeBytes!: number;
  @ApiProperty()
  createdAt!: string;
}

export class QuarantinePageDto {
  @ApiProperty({ type: [QuarantinedInputDto] })
  items!: QuarantinedInputDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}

interface Row {
  id: string;
  sha256: string;
  scan_id: string | null;
  filename: string | null;
  reason: string;
  detail: string;
  size_bytes: string;
  created_at: Date;
  created_key: string;
}

@Injectable()
export class QuarantineService {
  constructor(@Inject(DATA_SOURCE) private readonly ds: DataSource) {}

  /** Newest first, keyset over (created_at, id) on ix_quarantined_inputs_created. */
  async list(q: QuarantineQuery): Promise<Page<QuarantinedInputDto>> {
    const limit = q.limit ?? 50;
    const after = decodeCursor(q.cursor, 2, ['timestamp', 'uuid']);
    const rows: Row[] = await this.ds.query(
      `SELECT id, sha256, scan_id, filename, reason, detail, size_bytes, created_at, ${tsKey('created_at')} AS created_key
         FROM quarantined_inputs
        ${after ? 'WHERE (created_at, id) < ($2::timestamptz, $3::uuid)' : ''}
        ORDER BY created_at DESC, id DESC LIMIT $1`,
      after ? [limit + 1, after[0], after[1]] : [limit + 1],
    );
    return pageOf(
      rows,
      limit,
      (r) => [r.created_key, r.id],
      (r) => ({
        id: r.id,
        sha256: r.sha256.trim(),
        scanId: r.scan_id,
        filename: r.filename,
        reason: r.reason,
        detail: r.detail,
        sizeBytes: Number(r.size_bytes),
        createdAt: new Date(r.created_at).toISOString(),
      }),
    );
  }
}

@ApiTags('scans')
@ApiBearerAuth()
@Roles('manager', 'admin')
@Controller('quarantine')
export class QuarantineController {
  constructor(private readonly quarantine: QuarantineService) {}

  /** Inputs refused at ingest, with their reasons. */
  @Get()
  @ApiOkResponse({ type: QuarantinePageDto })
  list(@Query() q: QuarantineQuery): Promise<QuarantinePageDto> {
    return this.quarantine.list(q);
  }
}
