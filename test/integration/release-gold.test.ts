/**
 * Gold scans never enter a dataset release (issue #16), on the real services: a campaign of released training and test
 * scans plus two gold scans — one as gold scans are (in `reading`, with a submitted gold reading), one whose row was
 * marked `released` with readings and a result (a defect or a hand edit: the release must still leave it out) — is
 * published by the `releaseDataset` workflow on a real Temporal worker. The release has the ordinary images only: no
 * DICOM of a gold image, no CSV row, no line of SHA256SUMS, the manifest or the README naming it.
 *
 * Own database (migrated here), as test/integration/release.test.ts, so other files' scans do not enter the release.
 */
import { randomUUID } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { parse } from 'csv-parse/sync';
import type { DataSource } from 'typeorm';

import { createActivities } from '../../src/activities';
import { createIngestActivities } from '../../src/activities/ingest.activities';
import { createDataSource } from '../../src/db/data-source';
import { GoldRepository } from '../../src/db/repositories';
import { stageIncoming } from '../../src/ingest/stage-incoming';
import { LocalBlobStore } from '../../src/storage/blob-store';
import { createReadflowWorker } from '../../src/temporal/worker';
import type { ReleaseDatasetInput, ReleaseDatasetResult } from '../../src/workflows/release-dataset.messages';
import { connectTemporal, ensureTestDatabase, testDataConverter, testServices } from '../support/services';
import { bundleWorkflows, CXR_DIR, DEID_SECRET, dicomVariant, seedTestRoster, uniqueTag } from '../support/workflow-harness';

const COVID = path.join(CXR_DIR, '1.3.6.1.4.1.11129.5.5.110503645592756492463169821050252582267888.dcm');
const HEART = { label: 'Cardiomegaly', x_min: 300, y_min: 500, x_max: 700, y_max: 800 };

jest.setTimeout(600_000);

describe('a release of a campaign with gold scans', () => {
  let ds: DataSource;
  let temporal: Awaited<ReturnType<typeof connectTemporal>>;
  let bundle: WorkflowBundleWithSourceMap;
  let storeDir: string;
  let store: LocalBlobStore;
  let worker: { stop: () => Promise<void> } | undefined;
  const tag = uniqueTag();
  const dbName = `readflow_release_gold_${tag}`;
  const taskQueue = `release-gold-${tag}`;
  const readers = ['rad04', 'rad05', 'rad06'];
  let n = 0;

  /** One real film, validated and de-identified (its DICOM in the store), as a `scans` row in `stage`. */
  async function ingested(split: 'train' | 'test', stage: 'released' | 'reading'): Promise<{ scanId: string; imageId: string }> {
    const ingest = createIngestActivities({ dataSource: ds, store, deidSecret: DEID_SECRET, maxDicomBytes: 64 * 1024 * 1024 });
    const staged = await stageIncoming({ store, deidSecret: DEID_SECRET, maxDicomBytes: 64 * 1024 * 1024 }, dicomVariant(readFileSync(COVID), tag, n++));
    await ingest.validateScan({ scanId: staged.scanId, sourceKey: staged.sourceKey });
    const d = await ingest.deidentifyScan({ scanId: staged.scanId, sourceKey: staged.sourceKey });
    await ds.query(
      `INSERT INTO scans (id, image_id, split, policy, stage, rows, columns, deidentified_key, released_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [staged.scanId, d.imageId, split, split === 'test' ? 'consensus-5' : 'independent-3', stage, d.image.rows, d.image.columns, d.deidentifiedKey, stage === 'released' ? new Date() : null],
    );
    return { scanId: staged.scanId, imageId: d.imageId };
  }

  /** A submitted reading of `readerId` on the scan (a task and its reading row). */
  async function reading(scanId: string, readerId: string, slot: number): Promise<void> {
    const task = randomUUID();
    await ds.query(
      `INSERT INTO tasks (id, scan_id, reader_id, role, slot, status, assigned_at, due_at, submitted_at) VALUES ($1, $2, $3, 'reader', $4, 'submitted', now(), now(), now())`,
      [task, scanId, readerId, slot],
    );
    await ds.query(
      `INSERT INTO readings (task_id, scan_id, reader_id, role, boxes, global_labels, submitted_at) VALUES ($1, $2, $3, 'reader', $4, $5, now())`,
      [task, scanId, readerId, JSON.stringify([HEART]), JSON.stringify(['Other diseases'])],
    );
  }

  async function result(scanId: string): Promise<void> {
    await ds.query(
      `INSERT INTO scan_results (scan_id, method, fused_boxes, fused_global_labels, final_boxes, final_global_labels, agreement, released_at)
       VALUES ($1, 'wbf', '[]', '[]', $2, $3, $4, now())`,
      [scanId, JSON.stringify([HEART]), JSON.stringify(['Other diseases']), JSON.stringify({ overall: 1, flagged: false })],
    );
  }

  async function releasedScan(split: 'train' | 'test'): Promise<{ scanId: string; imageId: string }> {
    const s = await ingested(split, 'released');
    for (const [slot, r] of readers.entries()) await reading(s.scanId, r, slot);
    await result(s.scanId);
    return s;
  }

  beforeAll(async () => {
    const base = new URL(testServices().databaseUrl);
    base.pathname = `/${dbName}`;
    await ensureTestDatabase(base.toString());
    ds = createDataSource(base.toString(), { poolSize: 4 });
    await ds.initialize();
    await ds.runMigrations();
    await seedTestRoster(ds);
    temporal = await connectTemporal();
    bundle = await bundleWorkflows();
    storeDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'readflow-release-gold-'));
    store = new LocalBlobStore(storeDir);
    const w = await createReadflowWorker({
      connection: temporal.nativeConnection,
      namespace: testServices().namespace,
      taskQueue,
      activities: createActivities({ dataSource: ds, store, deidSecret: DEID_SECRET, maxDicomBytes: 64 * 1024 * 1024 }),
      workflowBundle: bundle,
      dataConverter: testDataConverter(),
    });
    const running = w.run();
    worker = {
      stop: async () => {
        w.shutdown();
        await running;
      },
    };
  });

  afterAll(async () => {
    await worker?.stop();
    await temporal?.close();
    if (ds?.isInitialized) await ds.destroy();
    const admin = createDataSource(testServices().databaseUrl, { poolSize: 1 });
    await admin.initialize();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.destroy();
    if (storeDir) await fsp.rm(storeDir, { recursive: true, force: true });
  });

  it('publishes the ordinary scans only: no gold DICOM, no gold CSV row, nothing naming a gold image', async () => {
    const ordinary = [await releasedScan('train'), await releasedScan('train'), await releasedScan('test')];
    const gold = new GoldRepository(ds);
    // A gold scan as it is: in `reading`, with a reader's submitted gold reading.
    const reading1 = await ingested('train', 'reading');
    await gold.insert({ scanId: reading1.scanId, boxes: [HEART], globalLabels: ['Other diseases'], createdBy: 'manager' });
    await reading(reading1.scanId, 'rad07', 0);
    // A gold scan whose row says `released`, with readings and a result: still gold, still never released.
    const marked = await ingested('train', 'released');
    await gold.insert({ scanId: marked.scanId, boxes: [HEART], globalLabels: ['Other diseases'], createdBy: 'manager' });
    for (const [slot, r] of readers.entries()) await reading(marked.scanId, r, slot);
    await result(marked.scanId);
    const goldImages = [reading1.imageId, marked.imageId];

    const input: ReleaseDatasetInput = { version: '1.0.0', splits: ['train', 'test'], previousVersion: null, requestedBy: 'manager', chunk: 2 };
    const r: ReleaseDatasetResult = await temporal.client.workflow.execute('releaseDataset', { workflowId: `release-gold-${tag}`, taskQueue, args: [input] });
    expect(r).toMatchObject({ status: 'published', images: ordinary.length });

    const dir = path.join(storeDir, 'releases', '1.0.0');
    const images = [...(await fsp.readdir(path.join(dir, 'train'))), ...(await fsp.readdir(path.join(dir, 'test')))].sort();
    expect(images).toEqual(ordinary.map((s) => `${s.imageId}.dicom`).sort());
    for (const id of goldImages) expect(images.join('\n')).not.toContain(id);

    const annotations = await fsp.readdir(path.join(dir, 'annotations'));
    expect(annotations.sort()).toEqual(['annotations_test.csv', 'annotations_train.csv', 'image_labels_test.csv', 'image_labels_train.csv']);
    for (const f of annotations) {
      const text = readFileSync(path.join(dir, 'annotations', f), 'utf8');
      const rows = parse(text, { columns: true }) as { image_id: string }[];
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) expect(goldImages).not.toContain(row.image_id);
      for (const id of goldImages) expect(text).not.toContain(id);
    }
    // The train annotations hold every ordinary training image (so the check above is not vacuous).
    const train = parse(readFileSync(path.join(dir, 'annotations', 'annotations_train.csv')), { columns: true }) as { image_id: string }[];
    expect([...new Set(train.map((row) => row.image_id))].sort()).toEqual(ordinary.slice(0, 2).map((s) => s.imageId).sort());
    for (const f of ['SHA256SUMS', 'manifest.json', 'README.md']) {
      const text = readFileSync(path.join(dir, f), 'utf8');
      for (const id of goldImages) expect(text).not.toContain(id);
    }
    const row = (await ds.query(`SELECT status, image_count FROM releases WHERE version = '1.0.0'`))[0];
    expect(row).toMatchObject({ status: 'published', image_count: ordinary.length });
  });
});
