import { randomUUID } from 'node:crypto';

import type { Db } from './sql';
import { timestampKey } from './sql';

/** One audit event as stored. */
export interface AuditEventRecord {
  id: string;
  scan_id: string | null;
  task_id: string | null;
  actor: string;
  action: string;
  detail: Record<string, unknown>;
  at: Date;
  /** The keyset sort key (`at` at full precision; `''` when paging by id). */
  at_key: string;
}

/** One audit event written by the scan workflow's projection; `key` is deterministic, so a retry inserts nothing new. */
export interface AuditEventWrite {
  key: string;
  scanId: string;
  taskId?: string;
  /** A reader id, `system` or `workflow`. */
  actor: string;
  action: string;
  detail?: Record<string, unknown>;
  /** ISO-8601, the workflow's time of the event. */
  at: string;
}

/** Data access of `audit_events`, the append-only trail (the database refuses updates and deletes). */
export class AuditEventsRepository {
  constructor(private readonly db: Db) {}

  /** A scan's events, oldest first: keyset over (at, id) on ix_audit_events_scan_at (`limit + 1` rows). */
  ofScan(scanId: string, page: { limit: number; after?: [string, string] }): Promise<AuditEventRecord[]> {
    return this.db.query(
      `SELECT id, scan_id, task_id, actor, action, detail, at, ${timestampKey('at')} AS at_key
         FROM audit_events
        WHERE scan_id = $1 ${page.after ? `AND (at, id) > ($3::timestamptz, $4::bigint)` : ''}
        ORDER BY at, id LIMIT $2`,
      page.after ? [scanId, page.limit + 1, ...page.after] : [scanId, page.limit + 1],
    );
  }

  /** Every event in insertion order: keyset over the identity key (`limit + 1` rows). */
  all(page: { limit: number; afterId?: string }): Promise<AuditEventRecord[]> {
    return this.db.query(
      `SELECT id, scan_id, task_id, actor, action, detail, at, '' AS at_key FROM audit_events
        ${page.afterId !== undefined ? 'WHERE id > $2::bigint' : ''} ORDER BY id LIMIT $1`,
      page.afterId !== undefined ? [page.limit + 1, page.afterId] : [page.limit + 1],
    );
  }

  /** The latest event of one action on a scan (e.g. `stage:cancelled`). */
  async latest(scanId: string, action: string): Promise<Pick<AuditEventRecord, 'actor' | 'detail'> | undefined> {
    const rows: Pick<AuditEventRecord, 'actor' | 'detail'>[] = await this.db.query(
      `SELECT actor, detail FROM audit_events WHERE scan_id = $1 AND action = $2 ORDER BY at DESC, id DESC LIMIT 1`,
      [scanId, action],
    );
    return rows[0];
  }

  /** The projection's write: events keyed by the workflow, each inserted once. */
  async insert(events: readonly AuditEventWrite[]): Promise<void> {
    for (const e of events) {
      await this.db.query(
        `INSERT INTO audit_events (event_key, scan_id, task_id, actor, action, detail, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (event_key) DO NOTHING`,
        [e.key, e.scanId, e.taskId ?? null, e.actor, e.action, JSON.stringify(e.detail ?? {}), e.at],
      );
    }
  }

  /** An event of the API itself (roster changes: no scan), now, under a fresh key. */
  async record(actor: string, action: string, detail: Record<string, unknown>): Promise<void> {
    await this.db.query(`INSERT INTO audit_events (event_key, actor, action, detail, at) VALUES ($1, $2, $3, $4, now())`, [
      `api:${randomUUID()}`,
      actor,
      action,
      detail,
    ]);
  }
}
