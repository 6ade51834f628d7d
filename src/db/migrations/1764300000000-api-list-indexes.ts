import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes behind the API's keyset-paginated lists (issue #6):
 * - `GET /api/v1/scans?split=` (newest first) → ix_scans_split_created (split, created_at, id)
 * - the exports' page-by-page walk of released scans of a split → ix_scans_split_stage_id (split, stage, id)
 */
export class ApiListIndexes1764300000000 implements MigrationInterface {
  name = 'ApiListIndexes1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS ix_scans_split_created ON scans (split, created_at, id)`);
    await q.query(`CREATE INDEX IF NOT EXISTS ix_scans_split_stage_id ON scans (split, stage, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS ix_scans_split_stage_id`);
    await q.query(`DROP INDEX IF EXISTS ix_scans_split_created`);
  }
}
