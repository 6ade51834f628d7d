import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Granted tasks wait `reserved` until their scan takes them up (issue #12): the capacity owner inserts them so, they
 * count against the reader's cap, and the scan's projection write opens them. The status lists are written out as
 * they stand (a migration never changes).
 */
export class ReservedTasks1764900000000 implements MigrationInterface {
  name = 'ReservedTasks1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks DROP CONSTRAINT ck_tasks_status`);
    await q.query(
      `ALTER TABLE tasks ADD CONSTRAINT ck_tasks_status CHECK (status IN ('reserved', 'open', 'submitted', 'expired', 'reassigned', 'cancelled'))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    // A reserved task was granted; before this migration a grant was open at once.
    await q.query(`UPDATE tasks SET status = 'open' WHERE status = 'reserved'`);
    await q.query(`ALTER TABLE tasks DROP CONSTRAINT ck_tasks_status`);
    await q.query(`ALTER TABLE tasks ADD CONSTRAINT ck_tasks_status CHECK (status IN ('open', 'submitted', 'expired', 'reassigned', 'cancelled'))`);
  }
}
