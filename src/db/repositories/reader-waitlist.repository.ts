import type { ReaderRequest } from '../../domain/capacity';
import type { Db } from './sql';

/** A scan waiting for readers: its request and its place in the queue. */
export interface WaitlistEntry {
  scanId: string;
  priority: number;
  /** ISO-8601, the workflow's time when the scan first waited (first come, first served). */
  enqueuedAt: string;
  request: ReaderRequest;
  /** The workflow run that queued it (absent: not recorded). */
  runId?: string;
}

/**
 * Key of the transaction-scoped advisory lock that makes the `reserveReaders` activity the one owner of reader
 * capacity: every open task is inserted under it, after counting the readers' open tasks.
 */
const CAPACITY_LOCK_KEY = 0x52464341; // 'RFCA'

/** Data access of `reader_waitlist` (scans waiting for readers, issue #12) and the capacity lock. */
export class ReaderWaitlistRepository {
  constructor(private readonly db: Db) {}

  /** Takes the capacity lock for the current transaction (released at commit or rollback). */
  async lockCapacity(): Promise<void> {
    await this.db.query(`SELECT pg_advisory_xact_lock($1)`, [CAPACITY_LOCK_KEY]);
  }

  /** Every waiting scan in queue order: a higher priority first, then first come, first served. */
  async ordered(): Promise<WaitlistEntry[]> {
    const rows: { scan_id: string; priority: number; enqueued_at: Date; request: ReaderRequest }[] = await this.db.query(
      `SELECT scan_id, priority, enqueued_at, request FROM reader_waitlist ORDER BY priority DESC, enqueued_at, scan_id`,
    );
    return rows.map((r) => ({ scanId: r.scan_id, priority: r.priority, enqueuedAt: new Date(r.enqueued_at).toISOString(), request: r.request }));
  }

  /** True when some scan waits (cheap: lets writes that free capacity skip the wake-up check). */
  async any(): Promise<boolean> {
    const rows: unknown[] = await this.db.query(`SELECT 1 FROM reader_waitlist LIMIT 1`);
    return rows.length > 0;
  }

  /** Puts a scan on the list, or updates its request; a scan already waiting keeps its place. */
  async upsert(e: WaitlistEntry): Promise<void> {
    await this.db.query(
      `INSERT INTO reader_waitlist (scan_id, role, priority, enqueued_at, request, run_id) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (scan_id) DO UPDATE SET role = EXCLUDED.role, priority = EXCLUDED.priority, request = EXCLUDED.request,
         run_id = COALESCE(EXCLUDED.run_id, reader_waitlist.run_id), updated_at = now()`,
      [e.scanId, e.request.role, e.priority, e.enqueuedAt, JSON.stringify(e.request), e.runId ?? null],
    );
  }

  /**
   * After a re-run of a scan: its entry queued by another run than `currentRunId` becomes the current run's when that
   * run waits (a reset run waiting where its earlier run did), else leaves the list. True when it was removed.
   */
  async releaseEarlierRun(scanId: string, currentRunId: string, currentWaits: boolean): Promise<boolean> {
    if (currentWaits) {
      await this.db.query(`UPDATE reader_waitlist SET run_id = $2 WHERE scan_id = $1 AND run_id IS NOT NULL AND run_id <> $2`, [scanId, currentRunId]);
      return false;
    }
    const rows: unknown[] = await this.db.query(`DELETE FROM reader_waitlist WHERE scan_id = $1 AND run_id IS NOT NULL AND run_id <> $2 RETURNING scan_id`, [
      scanId,
      currentRunId,
    ]);
    return rows.length > 0;
  }

  async remove(scanId: string): Promise<void> {
    await this.db.query(`DELETE FROM reader_waitlist WHERE scan_id = $1`, [scanId]);
  }
}
