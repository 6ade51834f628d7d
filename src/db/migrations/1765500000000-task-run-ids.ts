import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The run that holds reader capacity (issue #12). A scan re-run under the same scan id (an operator resets its
 * workflow, or terminates and starts it again) has a new run while the earlier run's `reserved`/`open` tasks and its
 * `reader_waitlist` entry are still there: asked by workflow id, Temporal answers "running" for them, and they held
 * their readers for ever. `run_id` records the run of the workflow that reserved a task (or last wrote it) and that
 * queued the scan, so the capacity sweep can tell an earlier run's leftovers from what the current run holds (NULL:
 * written before this migration, judged by workflow id as before).
 *
 * The unique (scan, reader, role, round) of a task no longer counts `cancelled` rows: an earlier run's task the sweep
 * cancelled never happened for the scan, and its reader may be granted to the new run (the constraint becomes a
 * partial unique index of the same name).
 */
export class TaskRunIds1765500000000 implements MigrationInterface {
  name = 'TaskRunIds1765500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks ADD COLUMN run_id text`);
    await q.query(`ALTER TABLE reader_waitlist ADD COLUMN run_id text`);
    await q.query(`ALTER TABLE tasks DROP CONSTRAINT uq_tasks_scan_reader_role_round`);
    await q.query(`CREATE UNIQUE INDEX uq_tasks_scan_reader_role_round ON tasks (scan_id, reader_id, role, round) WHERE status <> 'cancelled'`);
  }

  async down(q: QueryRunner): Promise<void> {
    const [dup] = await q.query(
      `SELECT scan_id FROM tasks GROUP BY scan_id, reader_id, role, round HAVING count(*) > 1 LIMIT 1`,
    );
    if (dup) {
      throw new Error(
        `cannot restore uq_tasks_scan_reader_role_round: scan ${dup.scan_id} has a cancelled task of an earlier run beside its re-run's task for the same reader`,
      );
    }
    await q.query(`DROP INDEX uq_tasks_scan_reader_role_round`);
    await q.query(`ALTER TABLE tasks ADD CONSTRAINT uq_tasks_scan_reader_role_round UNIQUE (scan_id, reader_id, role, round)`);
    await q.query(`ALTER TABLE reader_waitlist DROP COLUMN run_id`);
    await q.query(`ALTER TABLE tasks DROP COLUMN run_id`);
  }
}
