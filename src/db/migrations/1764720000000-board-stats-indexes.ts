import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes behind the manager board's aggregates (issue #14):
 * - `GET /api/v1/stats/throughput` (scans released per hour/day in a window) → ix_scans_released_at (released_at)
 * - `GET /api/v1/stats/readers` (per-reader open/overdue/submitted counts and median read time, one GROUP BY over
 *   tasks) → ix_tasks_reader_status_due already; the calibration's join of readings to their task uses the tasks
 *   primary key. The readings' role filter → ix_readings_role_scan (role, scan_id).
 */
export class BoardStatsIndexes1764720000000 implements MigrationInterface {
  name = 'BoardStatsIndexes1764720000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS ix_scans_released_at ON scans (released_at)`);
    await q.query(`CREATE INDEX IF NOT EXISTS ix_readings_role_scan ON readings (role, scan_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS ix_readings_role_scan`);
    await q.query(`DROP INDEX IF EXISTS ix_scans_released_at`);
  }
}
