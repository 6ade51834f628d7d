/**
 * Dataset releases (issue #15) on the real services: a small released campaign (real de-identification, labels in
 * Postgres) published by the `releaseDataset` workflow on a real Temporal worker, read back with csv-parse and
 * `sha256sum -c`, rebuilt byte for byte, versioned with a change list, refused by the gate for a planted identifying
 * value, and completed after its worker process is SIGKILLed mid-release.
 *
 * The test uses a database of its own (migrated here), so that the scans of other test files of the run do not enter
 * its releases.
 */
import { execFileSync } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { Client } from '@temporalio/client';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { parse } from 'csv-parse/sync';
import type { DataSource } from 'typeorm';

import { createActivities } from '../../src/activities';
import { createDataSource } from '../../src/db/data-source';
import { VINDR_ANNOTATION_COLUMNS, VINDR_CXR_TAXONOMY, VINDR_TEST_ANNOTATION_COLUMNS } from '../../src/domain';
import { ReleaseBuilder } from '../../src/releases/builder';
import { LocalBlobStore } from '../../src/storage/blob-store';
import type { ReleaseDatasetInput, ReleaseDatasetResult, ReleaseProgress } from '../../src/workflows/release-dataset.messages';
import { releaseProgressQuery } from '../../src/workflows/release-dataset.messages';
import { connectTemporal, ensureTestDatabase, testServices } from '../support/services';
import type { ReleasedScan } from '../support/release-fixtures';
import { seedReleasedScan } from '../support/release-fixtures';
import { bundleWorkflows, DEID_SECRET, seedTestRoster, spawnChildWorker, startWorker, uniqueTag, writeBundle } from '../support/workflow-harness';
import { recordHistory } from '../support/workflow-histories';
/** The published VinDr-CXR headers (PhysioNet 1.0.0), written out literally. */
const PUBLISHED = {
  annotationsTrain: 'image_id,rad_id,class_name,x_min,y_min,x_max,y_max',
  annotationsTest: 'image_id,class_name,x_min,y_min,x_max,y_max',
  labelsTrainStart: 'image_id,rad_id,Aortic enlargement,Atelectasis,',
  labelsTestStart: 'image_id,Aortic enlargement,Atelectasis,',
};

jest.setTimeout(600_000);

describe('dataset releases', () => {
  let ds: DataSource;
  let dbUrl: string;
  let temporal: Awaited<ReturnType<typeof connectTemporal>>;
  let client: Client;
  let bundle: WorkflowBundleWithSourceMap;
  let storeDir: string;
  let store: LocalBlobStore;
  let worker: { stop: () => Promise<void> } | undefined;
  const tag = uniqueTag();
  const taskQueue = `release-${tag}`;
  const readers = ['rad04', 'rad05', 'rad06'];
  const scans: ReleasedScan[] = [];
  let n = 0;

  async function startInProcessWorker(): Promise<void> {
    worker = await startWorker({
      rig: { taskQueue },
      nativeConnection: temporal.nativeConnection,
      namespace: testServices().namespace,
      activities: createActivities({ dataSource: ds, store, deidSecret: DEID_SECRET, maxDicomBytes: 64 * 1024 * 1024 }),
      workflowBundle: bundle,
    });
  }

  /** A real film, ingested (validate + de-identify) and stored as a released scan with labels. */
  async function releasedScan(split: 'train' | 'test'): Promise<ReleasedScan> {
    const s = await seedReleasedScan({ ds, store, deidSecret: DEID_SECRET, tag, n: n++, split, readers });
    scans.push(s);
    return s;
  }

  /** Runs a release to its end; `history` records its history for the replay test (READFLOW_RECORD_HISTORIES=1). */
  async function release(version: string, previousVersion: string | null, opts: { chunk?: number; history?: string } = {}): Promise<ReleaseDatasetResult> {
    const input: ReleaseDatasetInput = { version, splits: ['train', 'test'], previousVersion, requestedBy: 'manager', chunk: opts.chunk ?? 2 };
    const handle = await client.workflow.start('releaseDataset', { workflowId: `release-${tag}-${version}`, taskQueue, args: [input] });
    const result = (await handle.result()) as ReleaseDatasetResult;
    if (opts.history) await recordHistory(handle, opts.history);
    return result;
  }

  const releasesDir = (): string => path.join(storeDir, 'releases');
  const csv = (version: string, file: string): Record<string, string>[] =>
    parse(readFileSync(path.join(releasesDir(), version, 'annotations', file)), { columns: true }) as Record<string, string>[];

  beforeAll(async () => {
    const base = new URL(testServices().databaseUrl);
    base.pathname = `/readflow_release_${tag}`;
    dbUrl = base.toString();
    await ensureTestDatabase(dbUrl);
    ds = createDataSource(dbUrl, { poolSize: 4 });
    await ds.initialize();
    await ds.runMigrations();
    await seedTestRoster(ds);
    temporal = await connectTemporal();
    client = temporal.client;
    bundle = await bundleWorkflows();
    storeDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'readflow-release-'));
    store = new LocalBlobStore(storeDir);
    for (const split of ['train', 'train', 'train', 'test', 'test'] as const) await releasedScan(split);
    await startInProcessWorker();
  });

  afterAll(async () => {
    await worker?.stop();
    await temporal?.close();
    if (ds?.isInitialized) {
      // The migration's down() runs cleanly.
      await ds.undoLastMigration();
      await ds.destroy();
    }
    const admin = createDataSource(testServices().databaseUrl, { poolSize: 1 });
    await admin.initialize();
    await admin.query(`DROP DATABASE IF EXISTS readflow_release_${tag} WITH (FORCE)`);
    await admin.destroy();
    if (storeDir) await fsp.rm(storeDir, { recursive: true, force: true });
  });

  it('publishes 1.0.0 in the VinDr-CXR layout: headers, pseudonyms, consensus rows, rounding, checksums, all matching Postgres', async () => {
    const r = await release('1.0.0', null, { history: 'release-dataset-published' });
    expect(r).toMatchObject({ status: 'published', images: 5 });
    const dir = path.join(releasesDir(), '1.0.0');
    const files = (await fsp.readdir(dir)).sort();
    expect(files).toEqual(['README.md', 'SHA256SUMS', 'annotations', 'manifest.json', 'test', 'train']);
    for (const s of scans) expect((await fsp.stat(path.join(dir, s.split, `${s.imageId}.dicom`))).isFile()).toBe(true);
    // Every file verifies with the standard tool.
    expect(execFileSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: dir }).toString()).not.toMatch(/FAILED/);

    const text = (f: string) => readFileSync(path.join(dir, 'annotations', f), 'utf8');
    expect(text('annotations_train.csv').split('\n')[0]).toBe(PUBLISHED.annotationsTrain);
    expect(text('annotations_train.csv').split('\n')[0]).toBe(VINDR_ANNOTATION_COLUMNS.join(','));
    expect(text('annotations_test.csv').split('\n')[0]).toBe(PUBLISHED.annotationsTest);
    expect(text('annotations_test.csv').split('\n')[0]).toBe(VINDR_TEST_ANNOTATION_COLUMNS.join(','));
    expect(text('image_labels_train.csv').startsWith(PUBLISHED.labelsTrainStart)).toBe(true);
    expect(text('image_labels_test.csv').startsWith(PUBLISHED.labelsTestStart)).toBe(true);
    expect(text('image_labels_test.csv').split('\n')[0].split(',')).toContain('Other disease');
    expect(text('image_labels_train.csv').split('\n')[0].split(',')).toContain('Other diseases');

    // Train rows are every reader's reading from Postgres, under the stable pseudonyms.
    const pseudonyms = new Map<string, string>(
      ((await ds.query(`SELECT reader_id, pseudonym FROM reader_pseudonyms`)) as { reader_id: string; pseudonym: string }[]).map((p) => [p.reader_id, p.pseudonym]),
    );
    expect(pseudonyms.get('rad01')).toBe('R1');
    expect(pseudonyms.get('rad17')).toBe('R17');
    const ann = csv('1.0.0', 'annotations_train.csv');
    const readings: { image_id: string; reader_id: string; boxes: { label: string; x_min: number; y_min: number; x_max: number; y_max: number }[]; global_labels: string[] }[] =
      await ds.query(`SELECT s.image_id, g.reader_id, g.boxes, g.global_labels FROM readings g JOIN scans s ON s.id = g.scan_id WHERE s.split = 'train'`);
    const expected = readings.flatMap((g) => [
      ...g.boxes.map((b) => `${g.image_id.trim()}|${pseudonyms.get(g.reader_id)}|${b.label}|${Number(b.x_min.toFixed(2))}|${Number(b.y_min.toFixed(2))}|${Number(b.x_max.toFixed(2))}|${Number(b.y_max.toFixed(2))}`),
      ...(g.global_labels.includes('No finding') ? [`${g.image_id.trim()}|${pseudonyms.get(g.reader_id)}|No finding||||`] : []),
    ]);
    expect(ann.map((a) => `${a.image_id}|${a.rad_id}|${a.class_name}|${a.x_min}|${a.y_min}|${a.x_max}|${a.y_max}`).sort()).toEqual(expected.sort());
    expect(ann.some((a) => a.x_max === '592.61')).toBe(true);
    expect(ann.every((a) => /^R\d+$/.test(a.rad_id))).toBe(true);
    const labelsTrain = csv('1.0.0', 'image_labels_train.csv');
    expect(labelsTrain).toHaveLength(9);
    for (const row of labelsTrain) {
      const g = readings.find((x) => x.image_id.trim() === row.image_id && pseudonyms.get(x.reader_id) === row.rad_id)!;
      expect(row['Other diseases']).toBe(g.global_labels.includes('Other diseases') ? '1' : '0');
      expect(row.Cardiomegaly).toBe(g.boxes.length > 0 ? '1' : '0');
    }

    // Test rows are the consensus per image (scan_results.final_*), no rad_id.
    const annTest = csv('1.0.0', 'annotations_test.csv');
    expect(annTest.map((a) => `${a.image_id}|${a.class_name}|${a.x_min}|${a.y_max}`).sort()).toEqual(
      scans.filter((s) => s.split === 'test').map((s) => `${s.imageId}|Cardiomegaly|100.5|700.5`).sort(),
    );
    const labelsTest = csv('1.0.0', 'image_labels_test.csv');
    expect(labelsTest.map((l) => l.image_id).sort()).toEqual(scans.filter((s) => s.split === 'test').map((s) => s.imageId).sort());
    expect(labelsTest.every((l) => l['Other disease'] === '1' && l.Cardiomegaly === '1' && l['No finding'] === '0')).toBe(true);
    expect(Object.keys(labelsTest[0])).toHaveLength(1 + VINDR_CXR_TAXONOMY.labels.length);

    const readme = readFileSync(path.join(dir, 'README.md'), 'utf8');
    expect(readme).toContain('version 1.0.0');
    expect(readme).toContain(`Taxonomy \`${VINDR_CXR_TAXONOMY.version}\``);
    expect(readme).toMatch(/\| Cardiomegaly \| local \| 3 \| 2 \|/);
    expect(readme).toContain('3 readers: 3 scans');
    expect(readme).toContain('consensus-5: 2');
    expect(readme).not.toMatch(/rad0\d/);
    const row = (await ds.query(`SELECT status, image_count, pseudonyms FROM releases WHERE version = '1.0.0'`))[0];
    expect(row).toMatchObject({ status: 'published', image_count: 5 });
    expect(row.pseudonyms.rad04).toBe(pseudonyms.get('rad04'));
    // Never published twice: the same version again is refused, nothing is touched.
    await expect(release('1.0.0', null)).rejects.toThrow();
    expect(execFileSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: dir }).toString()).not.toMatch(/FAILED/);
  });

  it('is reproducible: the same scans rebuilt elsewhere give byte-identical files', async () => {
    const other = await fsp.mkdtemp(path.join(os.tmpdir(), 'readflow-release-again-'));
    try {
      const b = new ReleaseBuilder({ dataSource: ds, store, releasesDir: other });
      const snap = await b.prepare('1.0.0', ['train', 'test']);
      for (let from = 0; from < snap.total; from += 3) await b.copyImages('1.0.0', from, 3);
      await b.writeLabels('1.0.0');
      expect((await b.gate('1.0.0', null)).ok).toBe(true);
      await b.publish('1.0.0', null);
      for (const f of ['SHA256SUMS', 'README.md', 'manifest.json', 'annotations/annotations_train.csv', 'annotations/image_labels_train.csv', 'annotations/annotations_test.csv', 'annotations/image_labels_test.csv']) {
        expect(readFileSync(path.join(other, '1.0.0', f)).equals(readFileSync(path.join(releasesDir(), '1.0.0', f)))).toBe(true);
      }
    } finally {
      await fsp.rm(other, { recursive: true, force: true });
    }
  });

  it('a copy that outlives its attempt records nothing once a new attempt has prepared the version again', async () => {
    const other = await fsp.mkdtemp(path.join(os.tmpdir(), 'readflow-release-attempts-'));
    try {
      const b = new ReleaseBuilder({ dataSource: ds, store, releasesDir: other });
      expect((await b.prepare('9.0.0', ['train', 'test'], 'run-a')).total).toBe(5);
      // While run A's copy is under way, its workflow is gone and run B prepares the version anew.
      let first = true;
      const straggler = b.copyImages('9.0.0', 0, 2, async () => {
        if (!first) return;
        first = false;
        await b.prepare('9.0.0', ['train', 'test'], 'run-b');
      });
      await expect(straggler).rejects.toThrow(/prepared again by another attempt/);
      const chunks = path.join(other, '.staging', '9.0.0', '.work', 'chunks');
      expect(await fsp.readdir(chunks).catch(() => [])).toEqual([]);
      // Run B's own copy records its chunk; run B preparing again (a retried step) keeps it.
      expect(await b.copyImages('9.0.0', 0, 2)).toEqual({ images: 2, problems: 0 });
      await b.prepare('9.0.0', ['train', 'test'], 'run-b');
      expect(await fsp.readdir(chunks)).toEqual(['000000000.json']);
    } finally {
      await fsp.rm(other, { recursive: true, force: true });
    }
  });

  it('a second version states what changed: image added, image removed, labels changed; pseudonyms unchanged', async () => {
    const added = await releasedScan('train');
    const removed = scans[1];
    const changed = scans[2];
    await ds.query(`UPDATE scans SET stage = 'needs-attention' WHERE id = $1`, [removed.scanId]);
    await ds.query(`UPDATE readings SET global_labels = '["COPD"]' WHERE scan_id = $1 AND reader_id = 'rad04'`, [changed.scanId]);
    const r = await release('1.1.0', '1.0.0');
    expect(r).toMatchObject({ status: 'published', images: 5, changes: { previousVersion: '1.0.0', imagesAdded: 1, imagesRemoved: 1, labelsChanged: 1 } });
    const manifest = JSON.parse(readFileSync(path.join(releasesDir(), '1.1.0', 'manifest.json'), 'utf8'));
    expect(manifest.changes).toEqual({ images_added: [added.imageId], images_removed: [removed.imageId], labels_changed: [changed.imageId], split_changed: [] });
    expect(readFileSync(path.join(releasesDir(), '1.1.0', 'README.md'), 'utf8')).toContain('Since 1.0.0');
    const before = new Set(csv('1.0.0', 'annotations_train.csv').map((a) => `${a.image_id}|${a.rad_id}`));
    const after = csv('1.1.0', 'annotations_train.csv').filter((a) => before.has(`${a.image_id}|${a.rad_id}`));
    expect(after.length).toBeGreaterThan(0); // the same readers carry the same pseudonyms
    // 1.0.0 is untouched.
    expect(execFileSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: path.join(releasesDir(), '1.0.0') }).toString()).not.toMatch(/FAILED/);
  });

  it('the gate refuses a planted identifying value: nothing is published and the failure names it', async () => {
    const victim = scans[0];
    const sidecar = JSON.parse((await store.get('originals', `${victim.scanId}.uids.json`)).toString()) as { sourceKey: string; deidentifiedKey: string };
    const good = await store.get('deidentified', sidecar.deidentifiedKey);
    // The source, with its patient's name and UIDs, where the de-identified file should be.
    await store.put('deidentified', await store.get('originals', sidecar.sourceKey), { key: sidecar.deidentifiedKey });
    try {
      const r = await release('1.2.0', '1.1.0', { history: 'release-dataset-gate-refused' });
      expect(r.status).toBe('failed');
      if (r.status !== 'failed') return;
      const mine = r.problems.filter((p) => p.imageId === victim.imageId).map((p) => p.code);
      expect(mine).toEqual(expect.arrayContaining(['identifying-value', 'original-uid', 'not-deidentified-file']));
      expect(r.problems.filter((p) => p.code === 'identifying-value').map((p) => p.detail)).toEqual(expect.arrayContaining([expect.stringMatching(/Patient.s Name \(0010,0010\)/)]));
      expect(JSON.stringify(r.problems)).not.toContain('Covid0000');
      expect(await fsp.stat(path.join(releasesDir(), '1.2.0')).catch(() => null)).toBeNull();
      expect(await fsp.stat(path.join(releasesDir(), '.staging', '1.2.0')).catch(() => null)).toBeNull();
      const row = (await ds.query(`SELECT status, failures FROM releases WHERE version = '1.2.0'`))[0];
      expect(row.status).toBe('failed');
      expect(row.failures.problemCount).toBeGreaterThanOrEqual(3);
    } finally {
      await store.put('deidentified', good, { key: sidecar.deidentifiedKey });
    }
  });

  it('a worker SIGKILLed mid-release: another worker completes a verified release', async () => {
    await worker!.stop();
    worker = undefined;
    const bundleDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'readflow-release-bundle-'));
    const s = testServices();
    const child = await spawnChildWorker({
      address: s.temporalAddress,
      namespace: s.namespace,
      taskQueue,
      databaseUrl: dbUrl,
      storeDir,
      deidSecret: DEID_SECRET,
      bundlePath: await writeBundle(bundle, bundleDir),
    });
    const input: ReleaseDatasetInput = { version: '1.2.0', splits: ['train', 'test'], previousVersion: '1.1.0', requestedBy: 'manager', chunk: 1 };
    const handle = await client.workflow.start('releaseDataset', { workflowId: `release-${tag}-1.2.0-retry`, taskQueue, args: [input] });
    const deadline = Date.now() + 120_000;
    let p: ReleaseProgress | undefined;
    while (Date.now() < deadline) {
      p = await handle.query(releaseProgressQuery).catch(() => undefined);
      if (p && p.imagesDone >= 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(p?.imagesDone).toBeGreaterThanOrEqual(2);
    await child.kill('SIGKILL');
    await startInProcessWorker();
    const r = (await handle.result()) as ReleaseDatasetResult;
    expect(r).toMatchObject({ status: 'published', images: 5 });
    await recordHistory(handle, 'release-dataset-worker-killed');
    const dir = path.join(releasesDir(), '1.2.0');
    expect(execFileSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: dir }).toString()).not.toMatch(/FAILED/);
    expect((await fsp.readdir(path.join(dir, 'train'))).filter((f) => f.startsWith('.'))).toEqual([]);
    await fsp.rm(bundleDir, { recursive: true, force: true });
  });
});
