/**
 * Release memory: peak RSS of building a release (snapshot, image copy + gate check, CSVs, gate, README/manifest/
 * checksums, publish — the `releaseDataset` activities run in this process, without Temporal) for a baseline of
 * BASE scans and for N scans (default 200 and 2,000), same run. A flat profile gives a ratio near 1.
 *
 * Synthetic campaign: one real film (test/fixtures/dicom/cxr, 1 MB) is validated and de-identified once; N released
 * scans (3 readers each, boxes and image labels; 1 in 5 in the test split with consensus labels) point to it, each
 * with its own de-identification record, so every scan is copied, checked and hashed like a real one.
 *
 * Run: `npm run bench:release` (Postgres at DATABASE_URL, default postgres://postgres@127.0.0.1:5432; a scratch
 * database is created and dropped). Env: BENCH_SCANS (2000), BENCH_BASE (200).
 *
 * Recorded 2026-12-01 (2 shared cores, node 20.20.2, `node --expose-gc dist/bench/release.js`):
 *   baseline  200 images  peak RSS 123.9 MiB   33.3 s
 *   large    2000 images  peak RSS 127.6 MiB  168.6 s   → ratio 1.03 for 10× the images (memory flat)
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

import { createIngestActivities } from '../src/activities/ingest.activities';
import { createDataSource, ensureDatabase } from '../src/db/data-source';
import { seedRoster } from '../src/db/seed';
import { stageIncoming } from '../src/ingest/stage-incoming';
import { ReleaseBuilder } from '../src/releases/builder';
import { LocalBlobStore } from '../src/storage/blob-store';

const N = Number(process.env.BENCH_SCANS ?? 2000);
const BASE = Number(process.env.BENCH_BASE ?? 200);
const SECRET = 'bench-secret-bench-secret-bench-secret-0001';
const READERS = ['rad04', 'rad05', 'rad06'];

function repoRoot(): string {
  let d = __dirname;
  while (!existsSync(path.join(d, 'package.json'))) d = path.dirname(d);
  return d;
}

async function main(): Promise<void> {
  const base = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const dbName = `readflow_bench_release_${process.pid}`;
  base.pathname = `/${dbName}`;
  await ensureDatabase(base.toString());
  const ds = createDataSource(base.toString(), { poolSize: 4 });
  await ds.initialize();
  await ds.runMigrations();
  await seedRoster(ds, { seed: true });
  const work = mkdtempSync(path.join(tmpdir(), 'bench-release-'));
  const store = new LocalBlobStore(path.join(work, 'store'));
  try {
    const film = readFileSync(path.join(repoRoot(), 'test/fixtures/dicom/cxr/1.3.6.1.4.1.11129.5.5.110503645592756492463169821050252582267888.dcm'));
    const ingest = createIngestActivities({ dataSource: ds, store, deidSecret: SECRET, maxDicomBytes: 64 << 20 });
    const staged = await stageIncoming({ store, deidSecret: SECRET, maxDicomBytes: 64 << 20 }, film);
    await ingest.validateScan({ scanId: staged.scanId, sourceKey: staged.sourceKey });
    const d = await ingest.deidentifyScan({ scanId: staged.scanId, sourceKey: staged.sourceKey });
    const sidecar = JSON.parse((await store.get('originals', `${staged.scanId}.uids.json`)).toString()) as Record<string, unknown>;

    let made = 0;
    async function addScans(upTo: number): Promise<void> {
      for (; made < upTo; made++) {
        const scanId = `scan-bench-${String(made).padStart(8, '0')}`;
        const imageId = randomBytes(16).toString('hex');
        const split = made % 5 === 4 ? 'test' : 'train';
        await store.putJson('originals', `${scanId}.uids.json`, { ...sidecar, scanId, imageId });
        await ds.query(
          `INSERT INTO scans (id, image_id, split, policy, stage, rows, columns, deidentified_key, released_at) VALUES ($1, $2, $3, $4, 'released', $5, $6, $7, now())`,
          [scanId, imageId, split, split === 'test' ? 'consensus-5' : 'independent-3', d.image.rows, d.image.columns, d.deidentifiedKey],
        );
        for (const [slot, reader] of READERS.entries()) {
          const task = randomUUID();
          await ds.query(
            `INSERT INTO tasks (id, scan_id, reader_id, role, slot, status, assigned_at, due_at, submitted_at) VALUES ($1, $2, $3, 'reader', $4, 'submitted', now(), now(), now())`,
            [task, scanId, reader, slot],
          );
          const boxes = [{ label: 'Cardiomegaly', x_min: 100.5 + slot, y_min: 200.25, x_max: 592.6066666666667, y_max: 700 }];
          await ds.query(`INSERT INTO readings (task_id, scan_id, reader_id, role, boxes, global_labels, submitted_at) VALUES ($1, $2, $3, 'reader', $4, '["COPD"]', now())`, [
            task,
            scanId,
            reader,
            JSON.stringify(boxes),
          ]);
        }
        await ds.query(
          `INSERT INTO scan_results (scan_id, method, fused_boxes, fused_global_labels, final_boxes, final_global_labels, agreement, released_at)
           VALUES ($1, 'wbf', '[]', '[]', $2, '["COPD"]', '{"overall": 0.8, "flagged": false}', now())`,
          [scanId, JSON.stringify([{ label: 'Cardiomegaly', x_min: 101, y_min: 200, x_max: 592.61, y_max: 700 }])],
        );
      }
    }

    async function measure(version: string): Promise<{ peakMiB: number; seconds: number; images: number }> {
      global.gc?.();
      let peak = process.memoryUsage().rss;
      const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
      const t0 = performance.now();
      const b = new ReleaseBuilder({ dataSource: ds, store, releasesDir: path.join(work, 'releases') });
      const snap = await b.prepare(version, ['train', 'test']);
      for (let from = 0; from < snap.total; from += 200) await b.copyImages(version, from, 200);
      await b.writeLabels(version);
      const gate = await b.gate(version, null);
      if (!gate.ok) throw new Error(`gate refused the bench release: ${JSON.stringify(gate.problems.slice(0, 3))}`);
      await b.publish(version, null);
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage().rss);
      const seconds = (performance.now() - t0) / 1000;
      rmSync(path.join(work, 'releases', version), { recursive: true, force: true });
      return { peakMiB: peak / 2 ** 20, seconds, images: snap.total };
    }

    await addScans(BASE);
    const small = await measure('0.0.1');
    await addScans(N);
    const large = await measure('0.0.2');
    const row = (label: string, m: { peakMiB: number; seconds: number; images: number }): string =>
      `${label.padEnd(10)} ${String(m.images).padStart(6)} images  peak RSS ${m.peakMiB.toFixed(1).padStart(7)} MiB  ${m.seconds.toFixed(1).padStart(6)} s  ${(m.images / m.seconds).toFixed(1)} images/s`;
    process.stdout.write(`Release build, film of ${(film.length / 2 ** 20).toFixed(2)} MiB per scan, node ${process.version}\n`);
    process.stdout.write(`${row('baseline', small)}\n${row('large', large)}\n`);
    process.stdout.write(`peak RSS ratio large/baseline: ${(large.peakMiB / small.peakMiB).toFixed(2)} for ${(large.images / small.images).toFixed(1)}× the images\n`);
  } finally {
    await ds.destroy();
    const admin = createDataSource(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', { poolSize: 1 });
    await admin.initialize();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
