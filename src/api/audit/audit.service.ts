import { Injectable } from '@nestjs/common';

import { AuditEventsRepository } from '../../db/repositories';
import type { AuditEventRecord } from '../../db/repositories';
import { decodeCursor, pageOf } from '../common/cursor';
import type { Page } from '../common/cursor';
import { AuditEventDto, AuditQuery } from './audit.dto';

/** The append-only audit trail, page by page. */
@Injectable()
export class AuditService {
  constructor(private readonly events: AuditEventsRepository) {}

  /**
   * Oldest first. With `scanId`: keyset over (at, id) on ix_audit_events_scan_at; without: over the identity key.
   */
  async list(q: AuditQuery): Promise<Page<AuditEventDto>> {
    const limit = q.limit ?? 100;
    if (q.scanId) {
      const after = decodeCursor(q.cursor, 2, ['timestamp', 'integer']);
      const rows = await this.events.ofScan(q.scanId, { limit, after: after ? [String(after[0]), String(after[1])] : undefined });
      return pageOf(rows, limit, (r) => [r.at_key, String(r.id)], toDto);
    }
    const after = decodeCursor(q.cursor, 1, ['integer']);
    const rows = await this.events.all({ limit, afterId: after ? String(after[0]) : undefined });
    return pageOf(rows, limit, (r) => [String(r.id)], toDto);
  }
}

function toDto(r: AuditEventRecord): AuditEventDto {
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
