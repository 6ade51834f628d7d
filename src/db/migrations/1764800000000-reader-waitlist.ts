import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Assignment that waits for capacity (issue #12): the `waiting-for-readers` stage joins `ck_scans_stage`, and
 * `reader_waitlist` holds the scans waiting for readers, in the order the capacity owner (the `reserveReaders`
 * activity, under one advisory lock) serves them: a higher priority first, then first come, first served.
 * The stage lists are written out as they stand (a migration never changes).
 */
export class ReaderWaitlist1764800000000 implements MigrationInterface {
  name = 'ReaderWaitlist1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE scans DROP CONSTRAINT ck_scans_stage`);
    await q.query(`
      ALTER TABLE scans ADD CONSTRAINT ck_scans_stage CHECK (stage IN (
        'ingesting', 'deidentifying', 'assigning', 'waiting-for-readers', 'reading', 'reviewing', 'fusing', 'released', 'quarantined',
        'needs-attention', 'cancelled'))`);
    await q.query(`
      CREATE TABLE reader_waitlist (
        scan_id text NOT NULL,
        role text NOT NULL,
        priority integer NOT NULL DEFAULT 0,
        enqueued_at timestamptz NOT NULL,
        request jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_reader_waitlist PRIMARY KEY (scan_id),
        CONSTRAINT fk_reader_waitlist_scan FOREIGN KEY (scan_id) REFERENCES scans (id) ON DELETE CASCADE,
        CONSTRAINT ck_reader_waitlist_role CHECK (role IN ('reader', 'reviewer'))
      )`);
    await q.query(`CREATE INDEX ix_reader_waitlist_order ON reader_waitlist (priority DESC, enqueued_at, scan_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ix_reader_waitlist_order`);
    await q.query(`DROP TABLE reader_waitlist`);
    // Scans waiting for readers go back to `assigning` (the stage they waited in before this migration).
    await q.query(`UPDATE scans SET stage = 'assigning' WHERE stage = 'waiting-for-readers'`);
    await q.query(`ALTER TABLE scans DROP CONSTRAINT ck_scans_stage`);
    await q.query(`
      ALTER TABLE scans ADD CONSTRAINT ck_scans_stage CHECK (stage IN (
        'ingesting', 'deidentifying', 'assigning', 'reading', 'reviewing', 'fusing', 'released', 'quarantined', 'needs-attention', 'cancelled'))`);
  }
}
