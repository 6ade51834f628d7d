import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * CHECK constraints for the value lists of the projection (issue #9): the scan's stage and split, a reading's role
 * and review decision. The lists are written out here as they stood (a migration never changes); a test compares
 * every CHECK with the lists of src/domain, so a list that grows needs a migration.
 */
export class ValueListChecks1764400000000 implements MigrationInterface {
  name = 'ValueListChecks1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE scans ADD CONSTRAINT ck_scans_stage CHECK (stage IN (
        'ingesting', 'deidentifying', 'assigning', 'reading', 'reviewing', 'fusing', 'released', 'quarantined', 'needs-attention', 'cancelled'))`);
    await q.query(`ALTER TABLE scans ADD CONSTRAINT ck_scans_split CHECK (split IN ('train', 'test'))`);
    await q.query(`ALTER TABLE readings ADD CONSTRAINT ck_readings_role CHECK (role IN ('reader', 'reviewer'))`);
    await q.query(`ALTER TABLE readings ADD CONSTRAINT ck_readings_decision CHECK (decision IN ('submit', 'confirm', 'return'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE readings DROP CONSTRAINT ck_readings_decision`);
    await q.query(`ALTER TABLE readings DROP CONSTRAINT ck_readings_role`);
    await q.query(`ALTER TABLE scans DROP CONSTRAINT ck_scans_split`);
    await q.query(`ALTER TABLE scans DROP CONSTRAINT ck_scans_stage`);
  }
}
