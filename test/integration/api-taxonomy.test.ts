import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { parse } from 'csv-parse/sync';

import type { INestApplication } from '@nestjs/common';
import pino from 'pino';
import request from 'supertest';

import { createApiApp } from '../../src/api/bootstrap';
import { VINDR_CXR_TAXONOMY } from '../../src/domain';
import type { ApiHarness, ScanTask } from '../support/api-harness';
import { eventually, freshCxr, startReadingApp } from '../support/api-harness';
import { recordHistory } from '../support/workflow-histories';


/** A pediatric label set (after VinDr-PCXR): none of VinDr-CXR's box labels. */
const PEDIATRIC = {
  version: 'test-pediatric-cxr-1.0',
  localLabels: ['Bronchial thickening', 'Reticulonodular opacity', 'Boot-shaped heart'],
  globalLabels: ['Bronchiolitis', 'Broncho-pneumonia', 'Other disease', 'No finding'],
};

/**
 * A project's own taxonomy (READFLOW_TAXONOMY_FILE) end to end through the real app, a real worker and the run's
 * Temporal and Postgres: the task response lists its labels (the page takes them from there), the scan's workflow
 * validates submissions against it (it came in the scan's input), and exports and releases are written with it; under
 * VinDr-CXR's labels both refuse its released scan (409). On a database of its own: another file's export or release
 * with VinDr-CXR's labels would meet this file's released scan and be refused (409).
 */
describe('a project taxonomy from READFLOW_TAXONOMY_FILE', () => {
  let h: ApiHarness;
  let manager: string;
  let scanId: string;
  let readers: (ScanTask & { token: string })[];

  const readingOf = (slot: number) => ({
    boxes: [{ label: 'Boot-shaped heart', x_min: 300 + slot * 4, y_min: 500, x_max: 700, y_max: 800 - slot * 4 }],
    globalLabels: ['Broncho-pneumonia'],
  });

  beforeAll(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'readflow-taxonomy-'));
    const file = path.join(dir, 'taxonomy.json');
    writeFileSync(file, JSON.stringify(PEDIATRIC));
    // A database of its own: a project's taxonomy is the whole project's, and the other files' exports (VinDr-CXR)
    // would be refused for this file's scan, labelled with another label set (the test below).
    ({ h, manager } = await startReadingApp({ ownDatabase: true, env: { READFLOW_TASK_DEADLINE: '1h', READFLOW_TAXONOMY_FILE: file } }));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a new scan reaches reading; its task response lists the project labels, not VinDr-CXR’s', async () => {
    const up = await h.http().post('/api/v1/scans').set(h.bearer(manager)).field('split', 'train').field('policy', 'independent-3').attach('file', freshCxr(), 'cxr.dcm').expect(202);
    scanId = up.body.scanId;
    const detail = await eventually(async () => {
      const res = await h.http().get(`/api/v1/scans/${scanId}`).set(h.bearer(manager));
      return res.status === 200 && res.body.stage === 'reading' && res.body.tasks.filter((t: ScanTask) => t.status === 'open').length === 3 ? res.body : undefined;
    }, 90_000, 'the scan to reach reading');
    readers = [];
    for (const t of detail.tasks as ScanTask[]) readers.push({ ...t, token: await h.tokenFor(t.readerId) });
    readers.sort((a, b) => a.slot - b.slot);

    const task = await h.http().get(`/api/v1/tasks/${readers[0].taskId}`).set(h.bearer(readers[0].token)).expect(200);
    expect(task.body.taxonomy).toEqual({
      version: PEDIATRIC.version,
      noFinding: 'No finding',
      labels: [
        ...PEDIATRIC.localLabels.map((name, i) => ({ id: i, name, kind: 'local' })),
        ...PEDIATRIC.globalLabels.map((name, i) => ({ id: PEDIATRIC.localLabels.length + i, name, kind: 'global' })),
      ],
    });
  });

  it('a label outside the project taxonomy is a 422 naming the field (checked by the scan’s workflow)', async () => {
    const a = readers[0];
    const res = await h
      .http()
      .post(`/api/v1/tasks/${a.taskId}/submission`)
      .set(h.bearer(a.token))
      .send({ boxes: [{ label: 'Cardiomegaly', x_min: 300, y_min: 500, x_max: 700, y_max: 800 }], globalLabels: ['Pneumonia'] })
      .expect(422);
    expect(res.body.type).toBe('https://readflow.dev/problems/invalid-submission');
    expect(res.body.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'boxes[0].label', message: expect.stringContaining('Cardiomegaly') }),
        expect.objectContaining({ path: 'globalLabels[0]', message: expect.stringContaining('Pneumonia') }),
      ]),
    );
    const still = await h.http().get(`/api/v1/tasks/${a.taskId}`).set(h.bearer(a.token)).expect(200);
    expect(still.body.task.status).toBe('open');
  });

  it('labels inside it are accepted; the scan is released with them and exported under the project columns', async () => {
    for (const r of readers) {
      const ok = await h.http().post(`/api/v1/tasks/${r.taskId}/submission`).set(h.bearer(r.token)).send(readingOf(r.slot)).expect(200);
      expect(ok.body).toMatchObject({ status: 'accepted', duplicate: false });
    }
    const labels = await eventually(async () => {
      const res = await h.http().get(`/api/v1/scans/${scanId}/labels`).set(h.bearer(manager));
      return res.status === 200 ? res.body : undefined;
    }, 90_000, 'the released labels');
    expect(JSON.stringify(labels)).toContain('Boot-shaped heart');
    expect(JSON.stringify(labels)).toContain('Broncho-pneumonia');

    const csv = await h.http().get('/api/v1/exports/image_labels.csv?split=train&labels=readers').set(h.bearer(manager)).expect(200);
    const [header] = parse(csv.text, { to_line: 1 }) as string[][];
    expect(header).toEqual(expect.arrayContaining([...PEDIATRIC.localLabels, ...PEDIATRIC.globalLabels]));
    expect(header).not.toContain('Cardiomegaly');

    const handle = h.temporal.client.workflow.getHandle(scanId);
    expect(await handle.result()).toMatchObject({ stage: 'released' });
    await recordHistory(handle, 'independent-3-project-taxonomy');
  });

  /** The same database served by an app configured with VinDr-CXR's labels instead of the project's. */
  const vindrApp = (): Promise<INestApplication> =>
    createApiApp({
      config: { ...h.config, taxonomy: VINDR_CXR_TAXONOMY },
      dataSource: h.ds,
      temporalClient: h.temporal.client,
      store: h.store,
      logger: pino({ level: 'silent' }),
    });

  it('an export under another taxonomy refuses before its first byte: a 409 problem naming the scan and its labels', async () => {
    // The same database served by an app configured with VinDr-CXR's labels (the project's file taken away): the
    // released scan's labels are outside it. Before: COCO cut the response mid-stream ('aborted'), the CSVs left the
    // labels out (image_labels, kaggle) or wrote names outside the taxonomy (annotations) with a 200.
    const vindr = await vindrApp();
    try {
      const exports = [
        '/api/v1/exports/coco.json?split=train',
        '/api/v1/exports/annotations.csv?split=train',
        '/api/v1/exports/image_labels.csv?split=train',
        '/api/v1/exports/kaggle.csv?split=train',
        '/api/v1/exports/annotations.csv?split=train&labels=final',
        '/api/v1/exports/image_labels.csv?split=train&labels=final',
      ];
      for (const url of exports) {
        const res = await request(vindr.getHttpServer()).get(url).set(h.bearer(manager));
        expect({ url, status: res.status }).toEqual({ url, status: 409 });
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(res.headers['content-disposition']).toBeUndefined();
        expect(res.body).toMatchObject({
          type: 'https://readflow.dev/problems/labels-outside-taxonomy',
          status: 409,
          taxonomy: VINDR_CXR_TAXONOMY.version,
          scanCount: 1,
          scans: [{ scanId, labels: ['Boot-shaped heart', 'Broncho-pneumonia'] }],
        });
        expect(res.body.detail).toContain(scanId);
        expect(res.body.detail).toContain('Boot-shaped heart');
      }
    } finally {
      await vindr.close();
    }
    // The project's own taxonomy still exports the same scan.
    await h.http().get('/api/v1/exports/coco.json?split=train').set(h.bearer(manager)).expect(200);
  });

  it('a release under another taxonomy is refused before it starts: a 409 naming the scan and its labels; the project’s own releases it', async () => {
    // Before: the release started (202) and its image_labels_train.csv would have left these labels out.
    const vindr = await vindrApp();
    try {
      const res = await request(vindr.getHttpServer()).post('/api/v1/releases').set(h.bearer(manager)).send({ version: '1.0.0' });
      expect(res.status).toBe(409);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({
        type: 'https://readflow.dev/problems/labels-outside-taxonomy',
        status: 409,
        version: '1.0.0',
        taxonomy: VINDR_CXR_TAXONOMY.version,
        scanCount: 1,
        scans: [{ scanId, split: 'train', labels: ['Boot-shaped heart', 'Broncho-pneumonia'] }],
      });
      expect(res.body.detail).toContain(scanId);
      expect(res.body.detail).toContain('Boot-shaped heart');
      // Nothing was claimed: the version is free.
      await request(vindr.getHttpServer()).get('/api/v1/releases/1.0.0').set(h.bearer(manager)).expect(404);
    } finally {
      await vindr.close();
    }
    // The project's own taxonomy releases the same scan, under its own columns.
    await h.http().post('/api/v1/releases').set(h.bearer(manager)).send({ version: '1.0.0', splits: ['train'] }).expect(202);
    const published = await eventually(async () => {
      const res = await h.http().get('/api/v1/releases/1.0.0').set(h.bearer(manager)).expect(200);
      return res.body.status === 'running' ? undefined : res.body;
    }, 120_000, 'the release to settle');
    expect(published).toMatchObject({ status: 'published', imageCount: 1 });
    const csv = await h.http().get('/api/v1/releases/1.0.0/files/annotations/image_labels_train.csv').set(h.bearer(manager)).buffer(true).expect(200);
    const rows = parse(csv.text, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0])).toEqual(['image_id', 'rad_id', ...PEDIATRIC.localLabels, ...PEDIATRIC.globalLabels]);
    expect(rows).toHaveLength(3);
    for (const r of rows) expect([r['Boot-shaped heart'], r['Broncho-pneumonia']]).toEqual(['1', '1']);
  });

  it('a batch hands the project taxonomy to each scan it starts', async () => {
    const dir = mkdtempSync(path.join(h.importDir, 'batch-'));
    const file = path.join(dir, 'cxr.dcm');
    writeFileSync(file, freshCxr());
    const started = await h.http().post('/api/v1/batches').set(h.bearer(manager)).send({ files: [file], split: 'train', policy: 'independent-3' }).expect(202);
    const batchScan = await eventually(async () => {
      const rows: { id: string }[] = await h.ds.query(`SELECT id FROM scans WHERE batch_id = $1`, [started.body.batchId]);
      return rows[0]?.id;
    }, 90_000, 'the batch’s scan');
    const task = await eventually(async () => {
      const res = await h.http().get(`/api/v1/scans/${batchScan}`).set(h.bearer(manager));
      return res.status === 200 && res.body.stage === 'reading' ? (res.body.tasks as ScanTask[]).find((t) => t.status === 'open') : undefined;
    }, 90_000, 'the batch’s scan to reach reading');
    const token = await h.tokenFor(task.readerId);
    const refused = await h
      .http()
      .post(`/api/v1/tasks/${task.taskId}/submission`)
      .set(h.bearer(token))
      .send({ boxes: [{ label: 'Cardiomegaly', x_min: 300, y_min: 500, x_max: 700, y_max: 800 }], globalLabels: [] })
      .expect(422);
    expect(refused.body.errors).toEqual([expect.objectContaining({ path: 'boxes[0].label' })]);
    await h.http().post(`/api/v1/tasks/${task.taskId}/submission`).set(h.bearer(token)).send(readingOf(task.slot)).expect(200);
    await h.http().post(`/api/v1/scans/${batchScan}/cancel`).set(h.bearer(manager)).send({}).expect(200);
  });
});
