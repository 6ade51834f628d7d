import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Hidden gold scans (issue #16): `gold_scans` marks a scan as gold with the manager's reference reading. A gold scan
 * runs the `goldScan` workflow (never fused, exported or released); its tasks and readings are ordinary `tasks` and
 * `readings` rows, told apart only by this table (never by anything a reader sees).
 */
export class GoldScans1764700000000 implements MigrationInterface {
  name = 'GoldScans1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE gold_scans (
        scan_id text NOT NULL,
        reference_boxes jsonb NOT NULL,
        reference_global_labels jsonb NOT NULL,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_gold_scans PRIMARY KEY (scan_id),
        CONSTRAINT ck_gold_scans_boxes CHECK (jsonb_typeof(reference_boxes) = 'array'),
        CONSTRAINT ck_gold_scans_labels CHECK (jsonb_typeof(reference_global_labels) = 'array')
      )`);
    await q.query(`CREATE INDEX ix_gold_scans_created ON gold_scans (created_at, scan_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ix_gold_scans_created`);
    await q.query(`DROP TABLE gold_scans`);
  }
}
