import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The readers' assignment counters (issue #12): every reservation reads the roster under the capacity lock, and the
 * roster aggregated the whole `tasks` table for each reader's assignments so far and last assignment, a cost that grew
 * with the campaign (`npm run bench:reservation`: 4× the reservation's time at 60,000 tasks, 12× at 200,000, all of
 * it while every other assigning scan waits on the lock). `reader_task_counts` keeps them per reader, maintained by a
 * trigger in the same transaction as every task insert, delete (or truncate) or change of reader, so no write path can forget it
 * (the projection's upserts, the reservation, old scans' `recordTasks`, SQL by hand). Open tasks are still counted
 * live (an index scan of the `reserved`/`open` rows, bounded by the caps, never stale). Filled from the existing rows.
 */
export class ReaderTaskCounts1765300000000 implements MigrationInterface {
  name = 'ReaderTaskCounts1765300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE reader_task_counts (
        reader_id text NOT NULL,
        assigned_count integer NOT NULL,
        last_assigned_at timestamptz,
        CONSTRAINT pk_reader_task_counts PRIMARY KEY (reader_id),
        CONSTRAINT fk_reader_task_counts_reader FOREIGN KEY (reader_id) REFERENCES readers (id) ON DELETE CASCADE,
        CONSTRAINT ck_reader_task_counts_assigned CHECK (assigned_count >= 0)
      )`);
    await q.query(`
      CREATE FUNCTION reader_task_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'TRUNCATE' THEN
          DELETE FROM reader_task_counts;
          RETURN NULL;
        END IF;
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
          UPDATE reader_task_counts c
             SET assigned_count = c.assigned_count - 1,
                 last_assigned_at = (SELECT max(t.assigned_at) FROM tasks t WHERE t.reader_id = OLD.reader_id)
           WHERE c.reader_id = OLD.reader_id;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
          INSERT INTO reader_task_counts AS c (reader_id, assigned_count, last_assigned_at) VALUES (NEW.reader_id, 1, NEW.assigned_at)
          ON CONFLICT (reader_id) DO UPDATE
             SET assigned_count = c.assigned_count + 1, last_assigned_at = GREATEST(c.last_assigned_at, EXCLUDED.last_assigned_at);
        END IF;
        RETURN NULL;
      END $$`);
    // Serialized with the data it counts: a table lock for the backfill, the triggers before it is released.
    await q.query(`LOCK TABLE tasks IN SHARE ROW EXCLUSIVE MODE`);
    await q.query(`CREATE TRIGGER tr_tasks_reader_task_counts_insert AFTER INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION reader_task_counts_follow()`);
    await q.query(`CREATE TRIGGER tr_tasks_reader_task_counts_delete AFTER DELETE ON tasks FOR EACH ROW EXECUTE FUNCTION reader_task_counts_follow()`);
    await q.query(`CREATE TRIGGER tr_tasks_reader_task_counts_truncate AFTER TRUNCATE ON tasks FOR EACH STATEMENT EXECUTE FUNCTION reader_task_counts_follow()`);
    await q.query(`
      CREATE TRIGGER tr_tasks_reader_task_counts_update AFTER UPDATE OF reader_id, assigned_at ON tasks FOR EACH ROW
        WHEN (OLD.reader_id IS DISTINCT FROM NEW.reader_id OR OLD.assigned_at IS DISTINCT FROM NEW.assigned_at)
        EXECUTE FUNCTION reader_task_counts_follow()`);
    await q.query(`
      INSERT INTO reader_task_counts (reader_id, assigned_count, last_assigned_at)
      SELECT reader_id, count(*), max(assigned_at) FROM tasks GROUP BY reader_id`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER IF EXISTS tr_tasks_reader_task_counts_update ON tasks`);
    await q.query(`DROP TRIGGER IF EXISTS tr_tasks_reader_task_counts_truncate ON tasks`);
    await q.query(`DROP TRIGGER IF EXISTS tr_tasks_reader_task_counts_delete ON tasks`);
    await q.query(`DROP TRIGGER IF EXISTS tr_tasks_reader_task_counts_insert ON tasks`);
    await q.query(`DROP FUNCTION IF EXISTS reader_task_counts_follow()`);
    await q.query(`DROP TABLE IF EXISTS reader_task_counts`);
  }
}
