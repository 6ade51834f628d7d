/**
 * Reservation benchmark (issue #12): what one `reserveReaders` transaction costs as the `tasks` table grows. Every
 * reservation holds the capacity lock while it counts each reader's open tasks (`readers.roster()`: a `count(*)`
 * grouped by reader over the tasks table), so its time is also the time every other scan assigning at that moment
 * waits: the lock's hold time caps assignments per second for the whole campaign.
 *
 * One run, one fresh database (migrated schema), 17 radiologists with a cap of 50. The baseline is the same
 * reservation on a tasks table holding only the few open tasks of the moment; then the table is filled with closed
 * tasks of a campaign (VinDr-CXR: 18,000 scans, about 60,000 tasks; and beyond) and the same reservations are timed
 * again. Each reservation grants an independent-3 scan's three readers; its tasks are closed after it (untimed), so
 * the readers never fill up. Also timed alone: the roster query, and beside it the roster's query before
 * `reader_task_counts` (a whole-table aggregate), the reference of what the counters save.
 *
 * Run: `npm run bench:reservation [-- <reservations per size> [--sizes 60000,200000]]` (builds, then
 * `node dist/bench/reservation.js`). Needs Postgres: DATABASE_URL, else postgres://postgres@127.0.0.1:5432.
 */
import { randomUUID } from 'node:crypto';

import { reserveReaders } from '../src/activities/capacity.activities';
import type { ReserveReadersInput } from '../src/activities/capacity.activities';
import { dropDatabase, openDatabase } from '../src/db/data-source';
import { repositories } from '../src/db/repositories';

const READERS = 17;
const CAP = 50;
/** Open tasks held while measuring (a busy moment of the campaign: most readers have some open work). */
const OPEN_TASKS = 400;
const args = process.argv.slice(2);
const RESERVATIONS = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--sizes') ?? 300);
const sizesAt = args.indexOf('--sizes');
const SIZES = (sizesAt >= 0 ? args[sizesAt + 1] : '60000,200000').split(',').map(Number);

/**
 * The roster's query before `reader_task_counts` (1765300000000): every reader's counts aggregated from the whole tasks
 * table. Timed beside the roster in each row, as the reference of what the counters saved.
 */
const AGGREGATE_SQL = `SELECT r.id, r.active, r.senior, r.open_task_cap,
       COALESCE(t.open_tasks, 0) AS open_tasks, COALESCE(t.assigned_count, 0) AS assigned_count, t.last_assigned_at
  FROM readers r
  LEFT JOIN (SELECT reader_id, count(*) FILTER (WHERE status IN ('open', 'reserved')) AS open_tasks, count(*) AS assigned_count,
                    max(assigned_at) AS last_assigned_at FROM tasks GROUP BY reader_id) t ON t.reader_id = r.id
 WHERE r.role = 'radiologist' ORDER BY r.id`;

function stats(ms: number[]): { mean: number; p50: number; p95: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { mean: s.reduce((a, b) => a + b, 0) / s.length, p50: s[Math.floor(s.length / 2)], p95: s[Math.floor(s.length * 0.95)] };
}

const fmt = (x: number): string => x.toFixed(2).padStart(8);

async function main(): Promise<void> {
  const base = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  base.pathname = `/readflow_bench_reservation_${process.pid}`;
  const dbUrl = base.toString();
  const ds = await openDatabase(dbUrl, { poolSize: 4 });
  let scanNo = 0;
  try {
    for (let r = 0; r < READERS; r++) {
      await ds.query(`INSERT INTO readers (id, display_name, role, senior, active, open_task_cap) VALUES ($1, $1, 'radiologist', $2, true, $3)`, [
        `rad${String(r + 1).padStart(2, '0')}`,
        r < 3,
        CAP,
      ]);
    }

    /** Closed tasks of `scans` more scans (three readers each), as a campaign leaves them. */
    const fillClosed = async (tasks: number): Promise<void> => {
      const scans = Math.ceil(tasks / 3);
      const from = scanNo;
      scanNo += scans;
      await ds.query(
        `INSERT INTO scans (id, split, policy, stage) SELECT 'scan-hist-' || g, 'train', 'independent-3', 'released' FROM generate_series($1::int, $2::int) g`,
        [from, scanNo - 1],
      );
      await ds.query(
        `INSERT INTO tasks (id, scan_id, reader_id, role, slot, round, status, assigned_at, due_at, submitted_at, closed_at)
         SELECT gen_random_uuid(), 'scan-hist-' || g, 'rad' || lpad((((g * 3 + k) % ${READERS}) + 1)::text, 2, '0'), 'reader', k, 0, 'submitted',
                now() - interval '1 day', now(), now(), now()
           FROM generate_series($1::int, $2::int) g, generate_series(0, 2) k`,
        [from, scanNo - 1],
      );
    };
    /** The open tasks of the moment (OPEN_TASKS, spread over the readers). */
    const openNow = async (): Promise<void> => {
      const scans = Math.ceil(OPEN_TASKS / 3);
      const from = scanNo;
      scanNo += scans;
      await ds.query(
        `INSERT INTO scans (id, split, policy, stage) SELECT 'scan-open-' || g, 'train', 'independent-3', 'reading' FROM generate_series($1::int, $2::int) g`,
        [from, scanNo - 1],
      );
      await ds.query(
        `INSERT INTO tasks (id, scan_id, reader_id, role, slot, round, status, assigned_at, due_at)
         SELECT gen_random_uuid(), 'scan-open-' || g, 'rad' || lpad((((g * 3 + k) % ${READERS}) + 1)::text, 2, '0'), 'reader', k, 0, 'open', now(), now() + interval '1 day'
           FROM generate_series($1::int, $2::int) g, generate_series(0, 2) k`,
        [from, scanNo - 1],
      );
    };

    const measure = async (): Promise<{ total: number; reserve: ReturnType<typeof stats>; roster: ReturnType<typeof stats>; aggregate: ReturnType<typeof stats> }> => {
      await ds.query(`ANALYZE tasks`);
      const reserve: number[] = [];
      const roster: number[] = [];
      const aggregate: number[] = [];
      for (let i = 0; i < RESERVATIONS; i++) {
        const scanId = `scan-bench-${scanNo++}`;
        await ds.query(`INSERT INTO scans (id, split, policy, stage) VALUES ($1, 'train', 'independent-3', 'assigning')`, [scanId]);
        const now = new Date();
        const input: ReserveReadersInput = {
          scanId,
          role: 'reader',
          tasks: [0, 1, 2].map((slot) => ({ id: randomUUID(), slot, round: 0, assignedAt: now.toISOString(), dueAt: new Date(now.getTime() + 86_400_000).toISOString() })),
          excludedReaderIds: [],
          spareSeniors: true,
          priority: 0,
          enqueuedAt: now.toISOString(),
          queue: true,
        };
        const t0 = process.hrtime.bigint();
        const r = await reserveReaders(ds, input);
        reserve.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (!r.granted) throw new Error(`reservation ${i} not granted: ${JSON.stringify(r)}`);
        // The scan's readers submit (untimed): capacity stays as it was.
        await ds.query(`UPDATE tasks SET status = 'submitted', submitted_at = now(), closed_at = now() WHERE scan_id = $1`, [scanId]);
        const t1 = process.hrtime.bigint();
        await repositories(ds).readers.roster();
        roster.push(Number(process.hrtime.bigint() - t1) / 1e6);
        const t2 = process.hrtime.bigint();
        await ds.query(AGGREGATE_SQL);
        aggregate.push(Number(process.hrtime.bigint() - t2) / 1e6);
      }
      const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM tasks`);
      return { total: n, reserve: stats(reserve), roster: stats(roster), aggregate: stats(aggregate) };
    };

    await openNow();
    // Warm-up (plans, connections), not reported.
    await measure();
    const rows: { label: string; m: Awaited<ReturnType<typeof measure>> }[] = [];
    rows.push({ label: 'baseline (open tasks only)', m: await measure() });
    let filled = 0;
    for (const size of SIZES) {
      await fillClosed(size - filled);
      filled = size;
      rows.push({ label: `+${size.toLocaleString('en')} closed tasks`, m: await measure() });
    }

    const b = rows[0].m;
    console.log(`reserveReaders, ${RESERVATIONS} reservations per row (independent-3, 17 readers, cap ${CAP}, ${OPEN_TASKS} open tasks); ms`);
    console.log(
      `${'tasks table'.padEnd(30)} ${'rows'.padStart(8)} | reserve mean      p50      p95  ratio | roster mean      p50  ratio | whole-table aggregate mean  ×roster`,
    );
    for (const { label, m } of rows) {
      console.log(
        `${label.padEnd(30)} ${String(m.total).padStart(8)} | ${fmt(m.reserve.mean)} ${fmt(m.reserve.p50)} ${fmt(m.reserve.p95)} ${(m.reserve.mean / b.reserve.mean).toFixed(2).padStart(6)}` +
          ` | ${fmt(m.roster.mean)} ${fmt(m.roster.p50)} ${(m.roster.mean / b.roster.mean).toFixed(2).padStart(6)}` +
          ` | ${fmt(m.aggregate.mean).padStart(26)} ${(m.aggregate.mean / m.roster.mean).toFixed(1).padStart(8)}`,
      );
    }
    const last = rows[rows.length - 1].m;
    console.log(
      `capacity lock: at most ~${Math.floor(1000 / b.reserve.mean)} reservations/s at baseline, ~${Math.floor(1000 / last.reserve.mean)} at ${last.total.toLocaleString('en')} tasks (one reservation at a time)`,
    );
  } finally {
    await ds.destroy();
    await dropDatabase(dbUrl);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
