import { Injectable } from '@nestjs/common';

import { QuarantinedInputsRepository } from '../../db/repositories';
import { decodeCursor, pageOf } from '../common/cursor';
import type { Page } from '../common/cursor';
import { QuarantinedInputDto, QuarantineQuery } from './quarantine.dto';

/** The inputs refused at ingest, page by page. */
@Injectable()
export class QuarantineService {
  constructor(private readonly inputs: QuarantinedInputsRepository) {}

  /** Newest first, keyset over (created_at, id) on ix_quarantined_inputs_created. */
  async list(q: QuarantineQuery): Promise<Page<QuarantinedInputDto>> {
    const limit = q.limit ?? 50;
    const after = decodeCursor(q.cursor, 2, ['timestamp', 'uuid']);
    const rows = await this.inputs.page({ limit, after: after ? [String(after[0]), String(after[1])] : undefined });
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
