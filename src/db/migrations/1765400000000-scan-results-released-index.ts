import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The readers' track record (issue #16) covers the most recently released scans: every adaptive decision asks for the
 * window's keys (`scan_results` by `released_at DESC, scan_id`, see `ScanResultsRepository.latestReleased`), which
 * `ix_scan_results_released` answers from the index alone instead of sorting the table.
 */
export class ScanResultsReleasedIndex1765400000000 implements MigrationInterface {
  name = 'ScanResultsReleasedIndex1765400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS ix_scan_results_released ON scan_results (released_at DESC, scan_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS ix_scan_results_released`);
  }
}
