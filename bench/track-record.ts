/**
 * The adaptive decision's track record at VinDr-CXR scale: the `loadTrackRecord` activity as it is (the worker keeps
 * the window's record, src/activities/track-record.ts: per decision it reads the window's keys from an index and
 * summarises only the scans released since) against the way it was (every reader reading of the 5,000 most recently
 * released scans read and matched against their fused boxes, on every decision), same database, same run.
 *
 * Synthetic campaign: N released training scans (default 18,000, as VinDr-CXR) of the simulator's seeded truth
 * (src/simulate/calibration.ts), 3 readings each by 3 of the 17 readers of the default roster, with the simulator's
 * noise, written in bulk. Then D decisions each way; before each decision of the new way one more scan is released,
 * so every decision also summarises one scan and drops one from the window (the steady state of a campaign). The first
 * call of the new way builds the whole window (the first decision of a worker process) and is reported apart. Both ways must answer the
 * same track record, checked at the end.
 *
 * Run: `npm run bench:track-record` (Postgres at DATABASE_URL, default postgres://postgres@127.0.0.1:5432; a scratch
 * database is created and dropped, or kept with BENCH_KEEP_DB=1). Env: BENCH_SCANS (18000), BENCH_DECISIONS (30).
 *
 * Recorded 2026-12-02 (2 cores shared with other jobs, load average ~7, node 20.20.2, 18,030 scans, 30 decisions):
 *   run 1: before median 214.8 ms per decision, now 15.3 ms → 14.1×; first call of a process 431 ms; same record: yes
 *   run 2: before median 445.8 ms per decision, now 23.2 ms → 19.2×; first call of a process 597 ms; same record: yes
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { performance } from 'node:perf_hooks';

import { createScanActivities } from '../src/activities/scan.activities';
import { TRACK_RECORD_SCANS, trackRecordFromReadings } from '../src/activities/track-record';
import { createDataSource, ensureDatabase } from '../src/db/data-source';
import { ReadingsRepository } from '../src/db/repositories';
import { seedRoster } from '../src/db/seed';
import type { TrackRecord } from '../src/domain';
import { simulateCalibrationCampaign } from '../src/simulate/calibration';
import type { SimulatedScan } from '../src/simulate/calibration';
import { median } from './support';

const N = Number(process.env.BENCH_SCANS ?? 18000);
const D = Number(process.env.BENCH_DECISIONS ?? 30);
const READERS = Array.from({ length: 17 }, (_, i) => `rad${String(i + 1).padStart(2, '0')}`);
const T0 = Date.parse('2026-01-05T08:00:00Z');

/** A track record with its maps' keys sorted (the two ways add readers and labels in different orders). */
function canonical(r: TrackRecord): TrackRecord {
  const sorted = <T>(m: Record<string, T>): Record<string, T> => Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { scans: r.scans, readers: sorted(r.readers), fusedBoxesByLabel: sorted(r.fusedBoxesByLabel), unconfirmedBoxesByLabel: sorted(r.unconfirmedBoxesByLabel) };
}

function bar(done: number, total: number, what: string): void {
  const w = 30;
  const f = Math.round((done / total) * w);
  process.stderr.write(`\r${what} [${'#'.repeat(f)}${'.'.repeat(w - f)}] ${done}/${total}`);
  if (done === total) process.stderr.write('\n');
}

async function main(): Promise<void> {
  const base = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const dbName = `readflow_bench_track_${process.pid}`;
  base.pathname = `/${dbName}`;
  await ensureDatabase(base.toString());
  const ds = createDataSource(base.toString(), { poolSize: 4 });
  await ds.initialize();
  try {
    await ds.runMigrations();
    await seedRoster(ds, { seed: true });
    const { scans } = simulateCalibrationCampaign({ seed: 'bench-track-record', scans: N + D, readerIds: READERS, noiseLevel: 1 });

    /** Writes released scans (scan, tasks, readings, result) in one transaction per call. */
    const release = async (batch: SimulatedScan[]): Promise<void> => {
      const rows = batch.map((s) => {
        const id = `scan-bench-${String(s.index).padStart(6, '0')}`;
        const at = new Date(T0 + s.index * 60_000).toISOString();
        return {
          id,
          at,
          readings: s.readings.map((r, slot) => ({ task: randomUUID(), slot, reader: r.readerId, boxes: r.reading.boxes, labels: r.reading.globalLabels })),
          fused: s.fused,
        };
      });
      const tasks = rows.flatMap((r) => r.readings.map((x) => ({ id: x.task, scan_id: r.id, reader_id: x.reader, slot: x.slot, at: r.at })));
      const readings = rows.flatMap((r) => r.readings.map((x) => ({ task_id: x.task, scan_id: r.id, reader_id: x.reader, boxes: x.boxes, labels: x.labels, at: r.at })));
      await ds.transaction(async (em) => {
        await em.query(
          `INSERT INTO scans (id, split, policy, stage, rows, columns, released_at)
           SELECT x.id, 'train', 'independent-3', 'released', 2048, 2048, x.at FROM jsonb_to_recordset($1::jsonb) AS x(id text, at timestamptz)`,
          [JSON.stringify(rows.map((r) => ({ id: r.id, at: r.at })))],
        );
        await em.query(
          `INSERT INTO tasks (id, scan_id, reader_id, role, slot, status, assigned_at, due_at, submitted_at, closed_at)
           SELECT x.id, x.scan_id, x.reader_id, 'reader', x.slot, 'submitted', x.at, x.at + interval '1 day', x.at, x.at
             FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, scan_id text, reader_id text, slot integer, at timestamptz)`,
          [JSON.stringify(tasks)],
        );
        await em.query(
          `INSERT INTO readings (task_id, scan_id, reader_id, role, boxes, global_labels, submitted_at)
           SELECT x.task_id, x.scan_id, x.reader_id, 'reader', x.boxes, x.labels, x.at
             FROM jsonb_to_recordset($1::jsonb) AS x(task_id uuid, scan_id text, reader_id text, boxes jsonb, labels jsonb, at timestamptz)`,
          [JSON.stringify(readings)],
        );
        await em.query(
          `INSERT INTO scan_results (scan_id, method, fused_boxes, fused_global_labels, final_boxes, final_global_labels, agreement, released_at)
           SELECT x.id, x.method, x.boxes, x.labels, x.boxes, x.labels, '{}'::jsonb, x.at
             FROM jsonb_to_recordset($1::jsonb) AS x(id text, method text, boxes jsonb, labels jsonb, at timestamptz)`,
          [JSON.stringify(rows.map((r) => ({ id: r.id, method: r.fused.method, boxes: r.fused.boxes, labels: r.fused.globalLabels, at: r.at })))],
        );
      });
    };
    for (let i = 0; i < N; i += 1000) {
      await release(scans.slice(i, Math.min(N, i + 1000)));
      bar(Math.min(N, i + 1000), N, 'releasing scans');
    }
    await ds.query('ANALYZE');

    // The way it was: every decision reads and matches every reader reading of the window.
    const readingsRepo = new ReadingsRepository(ds);
    const before = async (): Promise<TrackRecord> => trackRecordFromReadings(await readingsRepo.forTrackRecord(TRACK_RECORD_SCANS));
    const rowsBefore = (await readingsRepo.forTrackRecord(TRACK_RECORD_SCANS)).length;
    const oldMs: number[] = [];
    for (let d = 0; d < D; d++) {
      const t = performance.now();
      await before();
      oldMs.push(performance.now() - t);
      bar(d + 1, D, 'decisions, before');
    }

    // As it is: the first call builds the window, then each decision after one more release.
    const activities = createScanActivities({ dataSource: ds });
    let t = performance.now();
    await activities.loadTrackRecord();
    const coldMs = performance.now() - t;
    const newMs: number[] = [];
    for (let d = 0; d < D; d++) {
      await release([scans[N + d]]);
      t = performance.now();
      await activities.loadTrackRecord();
      newMs.push(performance.now() - t);
      bar(d + 1, D, 'decisions, now');
    }
    const now = canonical(await activities.loadTrackRecord());
    const then = canonical(await before());
    const same = isDeepStrictEqual(now, then);

    const oldMed = median(oldMs);
    const newMed = median(newMs);
    const decisions = 9000;
    process.stdout.write(`Track record of the ${TRACK_RECORD_SCANS} most recently released of ${N + D} scans (3 readings each, 17 readers), node ${process.version}\n`);
    process.stdout.write(`before: ${rowsBefore} reading rows read and matched per decision; now: ${TRACK_RECORD_SCANS} window keys + the readings of the scans released since the last decision\n`);
    process.stdout.write(`before  median ${oldMed.toFixed(1).padStart(8)} ms per decision  (min ${Math.min(...oldMs).toFixed(1)}, max ${Math.max(...oldMs).toFixed(1)})\n`);
    process.stdout.write(`now     median ${newMed.toFixed(1).padStart(8)} ms per decision  (min ${Math.min(...newMs).toFixed(1)}, max ${Math.max(...newMs).toFixed(1)}), one scan in, one out each\n`);
    process.stdout.write(`now, first call of a worker process (builds ${TRACK_RECORD_SCANS} scans): ${coldMs.toFixed(1)} ms\n`);
    process.stdout.write(`ratio before/now: ${(oldMed / newMed).toFixed(1)}×; ${decisions} decisions ≈ ${((oldMed * decisions) / 60_000).toFixed(1)} min before, ${((newMed * decisions + coldMs) / 60_000).toFixed(2)} min now\n`);
    process.stdout.write(`same track record both ways: ${same ? 'yes' : 'NO'}\n`);
    if (!same) process.exitCode = 1;
  } finally {
    await ds.destroy();
    if (process.env.BENCH_KEEP_DB === '1') process.stderr.write(`kept database ${dbName}\n`);
    else {
      const admin = createDataSource(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', { poolSize: 1 });
      await admin.initialize();
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await admin.destroy();
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
