/**
 * The readers' assignment counters (issue #12, `bench:reservation`): the roster every reservation reads under the
 * capacity lock takes each reader's assignments so far and last assignment from `reader_task_counts`, kept by the
 * database in the same transaction as every task insert or delete, instead of aggregating the whole `tasks` table. Its
 * open-task count stays a live count of the `reserved`/`open` rows (an index scan of the open work, never stale).
 * Checked against the full aggregate after the real write paths (reservation, projection upserts, the sweep's
 * cancel, a scan deleted), and the migration's backfill of a database that already has tasks.
 */
import { randomUUID } from 'node:crypto';

import type { DataSource } from 'typeorm';

import { reserveReaders } from '../../src/activities/capacity.activities';
import { releaseClosedScan } from '../../src/db/capacity-queue';
import { dropDatabase, openDatabase } from '../../src/db/data-source';
import { ReaderTaskCounts1765300000000 } from '../../src/db/migrations/1765300000000-reader-task-counts';
import { repositories } from '../../src/db/repositories';
import { testServices } from '../support/services';

const READERS = ['cnt01', 'cnt02', 'cnt03', 'cnt04'];

describe('reader_task_counts', () => {
  let dbUrl: string;
  let ds: DataSource;
  let n = 0;

  /** What the roster used to aggregate from the whole tasks table: the oracle. */
  async function fullAggregate(): Promise<{ readerId: string; openTasks: number; assignedCount: number; lastAssignedAt?: number }[]> {
    const rows: { id: string; open_tasks: number; assigned_count: number; last: Date | null }[] = await ds.query(
      `SELECT r.id, COALESCE(t.open_tasks, 0)::int AS open_tasks, COALESCE(t.assigned_count, 0)::int AS assigned_count, t.last
         FROM readers r
         LEFT JOIN (SELECT reader_id, count(*) FILTER (WHERE status IN ('open', 'reserved')) AS open_tasks, count(*) AS assigned_count,
                           max(assigned_at) AS last FROM tasks GROUP BY reader_id) t ON t.reader_id = r.id
        WHERE r.role = 'radiologist' ORDER BY r.id`,
    );
    return rows.map((r) => ({ readerId: r.id, openTasks: r.open_tasks, assignedCount: r.assigned_count, ...(r.last ? { lastAssignedAt: new Date(r.last).getTime() } : {}) }));
  }

  async function roster(): Promise<{ readerId: string; openTasks: number; assignedCount: number; lastAssignedAt?: number }[]> {
    return (await repositories(ds).readers.roster()).map((e) => ({
      readerId: e.readerId,
      openTasks: e.openTasks,
      assignedCount: e.assignedCount ?? 0,
      ...(e.lastAssignedAt !== undefined ? { lastAssignedAt: e.lastAssignedAt } : {}),
    }));
  }

  async function newScan(): Promise<string> {
    const id = `scan-cnt-${++n}`;
    await ds.query(`INSERT INTO scans (id, split, policy, stage) VALUES ($1, 'train', 'independent-3', 'assigning')`, [id]);
    return id;
  }

  async function reserve(scanId: string, at: Date): Promise<string[]> {
    const tasks = [0, 1, 2].map((slot) => ({ id: randomUUID(), slot, round: 0, assignedAt: at.toISOString(), dueAt: new Date(at.getTime() + 3_600_000).toISOString() }));
    const r = await reserveReaders(ds, { scanId, role: 'reader', tasks, excludedReaderIds: [], priority: 0, enqueuedAt: at.toISOString(), queue: true });
    expect(r.granted).toBe(true);
    return tasks.map((t) => t.id);
  }

  beforeAll(async () => {
    const url = new URL(testServices().databaseUrl);
    url.pathname = `/readflow_counts_${randomUUID().slice(0, 8)}`;
    dbUrl = url.toString();
    ds = await openDatabase(dbUrl, { poolSize: 4 });
    for (const id of READERS) {
      await ds.query(`INSERT INTO readers (id, display_name, role, senior, active, open_task_cap) VALUES ($1, $1, 'radiologist', false, true, 10)`, [id]);
    }
  });

  afterAll(async () => {
    await ds?.destroy();
    if (dbUrl) await dropDatabase(dbUrl);
  });

  it('agrees with the full aggregate of the tasks table through every write path', async () => {
    expect(await roster()).toEqual(await fullAggregate());
    // Reservations (inserted `reserved` under the capacity lock), then the projection opening and closing them.
    const a = await newScan();
    const aTasks = await reserve(a, new Date('2026-12-01T10:00:00Z'));
    const b = await newScan();
    await reserve(b, new Date('2026-12-01T11:00:00Z'));
    expect(await roster()).toEqual(await fullAggregate());
    const rows: { id: string; reader_id: string; slot: number; assigned_at: Date; due_at: Date }[] = await ds.query(
      `SELECT id, reader_id, slot, assigned_at, due_at FROM tasks WHERE scan_id = $1 ORDER BY slot`,
      [a],
    );
    const tasks = repositories(ds).tasks;
    for (const r of rows) {
      await tasks.upsert({ id: r.id, scanId: a, readerId: r.reader_id, role: 'reader', slot: r.slot, round: 0, status: 'open', assignedAt: r.assigned_at.toISOString(), dueAt: r.due_at.toISOString() });
    }
    const [first] = rows;
    await tasks.upsert({
      id: first.id,
      scanId: a,
      readerId: first.reader_id,
      role: 'reader',
      slot: 0,
      round: 0,
      status: 'submitted',
      assignedAt: first.assigned_at.toISOString(),
      dueAt: first.due_at.toISOString(),
      submittedAt: new Date().toISOString(),
      closedAt: new Date().toISOString(),
    });
    expect(aTasks).toContain(first.id);
    // A projection write inserting an open task directly (scans started before the capacity owner), a later time.
    const c = await newScan();
    await tasks.upsert({ id: randomUUID(), scanId: c, readerId: 'cnt04', role: 'reader', slot: 0, round: 0, status: 'open', assignedAt: '2026-12-01T12:00:00.000Z', dueAt: '2026-12-01T13:00:00.000Z' });
    expect(await roster()).toEqual(await fullAggregate());
    // The sweep's cancel of a closed scan's held tasks, then a scan deleted with its tasks.
    await releaseClosedScan(ds, b, 'TERMINATED', 'sweep');
    expect(await roster()).toEqual(await fullAggregate());
    await ds.query(`DELETE FROM scans WHERE id = $1`, [c]);
    const after = await roster();
    expect(after).toEqual(await fullAggregate());
    expect(after.reduce((s, e) => s + e.assignedCount, 0)).toBe(6);
  });

  it('a truncated tasks table leaves no counts behind', async () => {
    await ds.query(`CREATE TABLE tasks_saved AS SELECT * FROM tasks`);
    try {
      await ds.query(`TRUNCATE tasks CASCADE`);
      expect(await roster()).toEqual(await fullAggregate());
      expect((await roster()).every((e) => e.assignedCount === 0 && e.lastAssignedAt === undefined)).toBe(true);
    } finally {
      await ds.query(`INSERT INTO tasks SELECT * FROM tasks_saved`);
      await ds.query(`DROP TABLE tasks_saved`);
    }
    expect(await roster()).toEqual(await fullAggregate());
    expect((await roster()).reduce((s, e) => s + e.assignedCount, 0)).toBe(6);
  });

  it('the migration fills the counters of a database that already has tasks, and goes down cleanly', async () => {
    const migration = new ReaderTaskCounts1765300000000();
    const qr = ds.createQueryRunner();
    try {
      // As the migration runner does (`transaction: 'each'`): each in a transaction of its own.
      await qr.startTransaction();
      await migration.down(qr);
      await qr.commitTransaction();
      expect(await ds.query(`SELECT to_regclass('reader_task_counts') AS t`)).toEqual([{ t: null }]);
      // Tasks written while the table is absent (the database before the migration).
      const d = await newScan();
      for (const [slot, readerId] of ['cnt01', 'cnt02', 'cnt03'].entries()) {
        await repositories(ds).tasks.upsert({ id: randomUUID(), scanId: d, readerId, role: 'reader', slot, round: 0, status: 'open', assignedAt: `2026-12-01T14:0${slot}:00.000Z`, dueAt: '2026-12-01T15:00:00.000Z' });
      }
      await qr.startTransaction();
      await migration.up(qr);
      await qr.commitTransaction();
    } finally {
      await qr.release();
    }
    expect(await roster()).toEqual(await fullAggregate());
    expect((await roster()).reduce((s, e) => s + e.assignedCount, 0)).toBe(9);
  });
});
