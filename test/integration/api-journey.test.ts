import { parse } from 'csv-parse/sync';

import type { ApiHarness, ScanTask } from '../support/api-harness';
import { eventually, freshCxr, startReadingApp } from '../support/api-harness';

interface InboxItem {
  taskId: string;
  imageId: string;
  role: string;
  status: string;
  dueAt: string;
  imageUrl: string;
}

/**
 * End to end through the real app, a real worker (real activities, bundled workflows), the run's Temporal dev
 * server and Postgres: three readers pull and submit one scan through to its released labels.
 */
describe('API journey: upload → three readers → released labels → exports', () => {
  let h: ApiHarness;
  let manager: string;
  let scanId: string;
  let imageId: string;
  /** The scan's three reader tasks, with a token for each reader. */
  let readers: (ScanTask & { token: string })[];

  const readingOf = (slot: number) => ({
    boxes: [{ label: 'Cardiomegaly', x_min: 300 + slot * 6, y_min: 500 + slot * 6, x_max: 700 + slot * 6, y_max: 800 - slot * 6 }],
    globalLabels: slot < 2 ? ['Pneumonia'] : ['Other diseases'],
    comment: `slot ${slot}`,
  });

  beforeAll(async () => {
    ({ h, manager } = await startReadingApp({ env: { READFLOW_TASK_DEADLINE: '1h' } }));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('uploads a chest film: 202 with a scanId, the same file again → 200 with the same scanId', async () => {
    const bytes = freshCxr();
    const first = await h.http().post('/api/v1/scans').set(h.bearer(manager)).field('split', 'test').field('policy', 'independent-3').attach('file', bytes, 'cxr.dcm').expect(202);
    expect(first.body).toMatchObject({ scanId: expect.stringMatching(/^scan-[0-9a-f]{24}$/), stage: 'ingesting' });
    expect(first.body.workflowId).toBe(first.body.scanId);
    expect(first.body.workflowUrl).toContain(`/namespaces/readflow/workflows/${first.body.scanId}`);
    scanId = first.body.scanId;
    const again = await h.http().post('/api/v1/scans').set(h.bearer(manager)).field('split', 'test').field('policy', 'independent-3').attach('file', bytes, 'cxr.dcm').expect(200);
    expect(again.body.scanId).toBe(scanId);
  });

  it('the scan reaches reading with three reader tasks (GET /scans/{id})', async () => {
    const detail = await eventually(async () => {
      const res = await h.http().get(`/api/v1/scans/${scanId}`).set(h.bearer(manager));
      return res.status === 200 && res.body.stage === 'reading' && res.body.tasks.filter((t: ScanTask) => t.status === 'open').length === 3
        ? res.body
        : undefined;
    }, 60_000, 'the scan to reach reading');
    expect(detail).toMatchObject({ scanId, split: 'test', policy: 'independent-3', image: { rows: 1024, columns: 1024 } });
    imageId = detail.imageId;
    expect(imageId).toMatch(/^[0-9a-f]{32}$/);
    readers = [];
    for (const t of detail.tasks as ScanTask[]) readers.push({ ...t, token: await h.tokenFor(t.readerId) });
    readers.sort((a, b) => a.slot - b.slot);
    expect(new Set(readers.map((r) => r.readerId)).size).toBe(3);
  });

  it('each reader finds the task in GET /me/tasks (ordered by dueAt) and GET /tasks/{id} gives image metadata and taxonomy', async () => {
    for (const r of readers) {
      const inbox = await h.http().get('/api/v1/me/tasks').set(h.bearer(r.token)).expect(200);
      const items = inbox.body.items as InboxItem[];
      const mine = items.find((i) => i.taskId === r.taskId);
      expect(mine).toMatchObject({ imageId, role: 'reader', status: 'open', imageUrl: expect.stringMatching(new RegExp(`/api/v1/tasks/${r.taskId}/image$`)) });
      const dues = items.map((i) => i.dueAt);
      expect([...dues].sort()).toEqual(dues);

      const detail = await h.http().get(`/api/v1/tasks/${r.taskId}`).set(h.bearer(r.token)).expect(200);
      expect(detail.body.task).toMatchObject({ taskId: r.taskId, role: 'reader', status: 'open' });
      expect(detail.body.task).not.toHaveProperty('readerId');
      expect(detail.body.image).toMatchObject({ imageId, rows: 1024, columns: 1024 });
      expect(detail.body.taxonomy.labels).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'Cardiomegaly', kind: 'local', id: expect.any(Number) })]));
      expect(detail.body.submission).toBeNull();
      expect(detail.body).not.toHaveProperty('review');
    }
  });

  it('serves the de-identified DICOM with ETag and Range, and a PNG preview of the uncompressed film', async () => {
    const r = readers[0];
    const full = await h.http().get(`/api/v1/tasks/${r.taskId}/image`).set(h.bearer(r.token)).buffer(true).parse(binary as never).expect(200);
    expect(full.headers['content-type']).toBe('application/dicom');
    expect((full.body as Buffer).subarray(128, 132).toString('latin1')).toBe('DICM');
    const etag = full.headers.etag as string;
    expect(etag).toMatch(/^".+"$/);
    await h.http().get(`/api/v1/tasks/${r.taskId}/image`).set(h.bearer(r.token)).set('If-None-Match', etag).expect(304);
    const part = await h.http().get(`/api/v1/tasks/${r.taskId}/image`).set(h.bearer(r.token)).set('Range', 'bytes=128-131').buffer(true).parse(binary as never).expect(206);
    expect((part.body as Buffer).toString('latin1')).toBe('DICM');
    expect(part.headers['content-range']).toBe(`bytes 128-131/${(full.body as Buffer).length}`);
    const bad = await h.http().get(`/api/v1/tasks/${r.taskId}/image`).set(h.bearer(r.token)).set('Range', 'bytes=999999999-').expect(416);
    expect(bad.body.type).toBe('https://readflow.dev/problems/range-not-satisfiable');
    // The PNG preview: an 8-bit windowed rendering (uncompressed transfer syntax).
    const png = await h.http().get(`/api/v1/tasks/${r.taskId}/image?format=png`).set(h.bearer(r.token)).buffer(true).parse(binary as never).expect(200);
    expect(png.headers['content-type']).toBe('image/png');
    const pngBytes = png.body as Buffer;
    expect(pngBytes.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect([pngBytes.readUInt32BE(16), pngBytes.readUInt32BE(20), pngBytes[24], pngBytes[25]]).toEqual([1024, 1024, 8, 0]);
    await h.http().get(`/api/v1/tasks/${r.taskId}/image?format=png`).set(h.bearer(r.token)).set('If-None-Match', png.headers.etag as string).expect(304);
    await h.http().get(`/api/v1/tasks/${r.taskId}/image?format=gif`).set(h.bearer(r.token)).expect(422);
  });

  it('blinding: reader B gets 404 on reader A’s task, its image and its submission endpoint', async () => {
    const [a, b] = readers;
    for (const path of [`/api/v1/tasks/${a.taskId}`, `/api/v1/tasks/${a.taskId}/image`]) {
      const res = await h.http().get(path).set(h.bearer(b.token)).expect(404);
      expect(res.body.type).toBe('https://readflow.dev/problems/task-not-found');
    }
    await h.http().post(`/api/v1/tasks/${a.taskId}/submission`).set(h.bearer(b.token)).send(readingOf(1)).expect(404);
    // The same answer as for a task that does not exist at all.
    await h.http().get('/api/v1/tasks/00000000-0000-4000-8000-000000000000').set(h.bearer(b.token)).expect(404);
    await h.http().get('/api/v1/tasks/not-a-uuid').set(h.bearer(b.token)).expect(404);
    // Radiologists do not reach manager routes.
    await h.http().get(`/api/v1/scans/${scanId}/labels`).set(h.bearer(b.token)).expect(403);
    await h.http().get('/api/v1/tasks').set(h.bearer(b.token)).expect(403);
  });

  it('an invalid submission is a 422 listing every problem with its JSON path (from the workflow)', async () => {
    const a = readers[0];
    const res = await h
      .http()
      .post(`/api/v1/tasks/${a.taskId}/submission`)
      .set(h.bearer(a.token))
      .send({
        boxes: [
          { label: 'Not a label', x_min: 1, y_min: 1, x_max: 5, y_max: 5 },
          { label: 'Cardiomegaly', x_min: 10, y_min: 10, x_max: 5000, y_max: 20 },
        ],
        globalLabels: ['No finding', 'Bogus'],
      })
      .expect(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.type).toBe('https://readflow.dev/problems/invalid-submission');
    const paths = (res.body.errors as { path: string }[]).map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['boxes[0].label', 'boxes[1].x_max', 'globalLabels[1]']));
    // Shape problems are reported the same way; unknown top-level fields are refused at the edge.
    const empty = await h.http().post(`/api/v1/tasks/${a.taskId}/submission`).set(h.bearer(a.token)).send({}).expect(422);
    expect((empty.body.errors as { path: string }[]).map((e) => e.path)).toEqual(expect.arrayContaining(['boxes', 'globalLabels']));
    const extra = await h.http().post(`/api/v1/tasks/${a.taskId}/submission`).set(h.bearer(a.token)).send({ ...readingOf(0), score: 1 }).expect(422);
    expect(extra.body.errors).toEqual([expect.objectContaining({ path: 'score', code: 'unknown-field' })]);
  });

  it('accepts a reading (200), accepts an identical repeat (200), refuses a different one (409)', async () => {
    const a = readers[0];
    const ok = await h.http().post(`/api/v1/tasks/${a.taskId}/submission`).set(h.bearer(a.token)).send(readingOf(0)).expect(200);
    expect(ok.body).toMatchObject({ status: 'accepted', duplicate: false });
    const again = await h.http().post(`/api/v1/tasks/${a.taskId}/submission`).set(h.bearer(a.token)).send(readingOf(0)).expect(200);
    expect(again.body).toMatchObject({ status: 'accepted', duplicate: true });
    const different = await h.http().post(`/api/v1/tasks/${a.taskId}/submission`).set(h.bearer(a.token)).send(readingOf(2)).expect(409);
    expect(different.body.type).toMatch(/^https:\/\/readflow\.dev\/problems\/(conflicting-submission|task-not-open)$/);
    const mine = await h.http().get(`/api/v1/tasks/${a.taskId}`).set(h.bearer(a.token)).expect(200);
    expect(mine.body.task.status).toBe('submitted');
    expect(mine.body.submission).toMatchObject({ globalLabels: ['Pneumonia'] });
    const submitted = await h.http().get('/api/v1/me/tasks?status=submitted').set(h.bearer(a.token)).expect(200);
    expect(submitted.body.items.map((i: InboxItem) => i.taskId)).toContain(a.taskId);
  });

  it('blinding: reader B never sees reader A’s boxes; the fused result is not out before release', async () => {
    const b = readers[1];
    const detail = await h.http().get(`/api/v1/tasks/${b.taskId}`).set(h.bearer(b.token)).expect(200);
    expect(JSON.stringify(detail.body)).not.toContain('slot 0');
    expect(detail.body.submission).toBeNull();
    const inbox = await h.http().get('/api/v1/me/tasks').set(h.bearer(b.token)).expect(200);
    expect(JSON.stringify(inbox.body)).not.toContain('Cardiomegaly');
    const labels = await h.http().get(`/api/v1/scans/${scanId}/labels`).set(h.bearer(manager)).expect(409);
    expect(labels.body.type).toBe('https://readflow.dev/problems/not-released');
  });

  it('readers B and C submit; the scan is released and GET /labels gives fused labels, readings and agreement', async () => {
    for (const r of readers.slice(1)) {
      await h.http().post(`/api/v1/tasks/${r.taskId}/submission`).set(h.bearer(r.token)).send(readingOf(r.slot)).expect(200);
    }
    const labels = await eventually(async () => {
      const res = await h.http().get(`/api/v1/scans/${scanId}/labels`).set(h.bearer(manager));
      return res.status === 200 ? res.body : undefined;
    }, 60_000, 'release');
    expect(labels).toMatchObject({ scanId, imageId });
    expect(labels.fused.boxes).toEqual([expect.objectContaining({ label: 'Cardiomegaly' })]);
    expect(labels.fused.globalLabels).toEqual(['Pneumonia']);
    expect(labels.final.globalLabels).toEqual(['Pneumonia']);
    expect(labels.readings.map((r: { readerId: string }) => r.readerId).sort()).toEqual(readers.map((r) => r.readerId).sort());
    expect(labels.agreement).toEqual(expect.objectContaining({ overall: expect.any(Number) }));
    // A late submission on a released scan is a conflict.
    await h.http().post(`/api/v1/tasks/${readers[0].taskId}/submission`).set(h.bearer(readers[0].token)).send(readingOf(2)).expect(409);
  });

  it('exports parse back with a CSV parser and match the stored labels', async () => {
    const mine = (rows: Record<string, string>[]) => rows.filter((r) => r.image_id === imageId);
    // The test split defaults to the final labels (VinDr-CXR); the readers' rows on request.
    const ann = await h.http().get('/api/v1/exports/annotations.csv?split=test&labels=readers').set(h.bearer(manager)).expect(200);
    expect(ann.headers['content-type']).toMatch(/^text\/csv/);
    expect(ann.text.split('\n')[0]).toBe('image_id,rad_id,class_name,x_min,y_min,x_max,y_max');
    const annRows = mine(parse(ann.text, { columns: true }) as Record<string, string>[]);
    expect(annRows).toHaveLength(3);
    const pseudonyms = new Map<string, string>(
      ((await h.ds.query(`SELECT reader_id, pseudonym FROM reader_pseudonyms`)) as { reader_id: string; pseudonym: string }[]).map((p) => [p.reader_id, p.pseudonym]),
    );
    for (const r of readers) {
      const box = readingOf(r.slot).boxes[0];
      expect(annRows).toContainEqual({
        image_id: imageId,
        rad_id: pseudonyms.get(r.readerId),
        x_min: String(box.x_min),
        y_min: String(box.y_min),
        x_max: String(box.x_max),
        y_max: String(box.y_max),
        class_name: 'Cardiomegaly',
      });
    }
    const finalAnn = mine(parse((await h.http().get('/api/v1/exports/annotations.csv?split=test').set(h.bearer(manager)).expect(200)).text, { columns: true }) as Record<string, string>[]);
    expect(finalAnn).toEqual([expect.objectContaining({ image_id: imageId, class_name: 'Cardiomegaly' })]);
    expect(finalAnn[0]).not.toHaveProperty('rad_id');
    const labelsCsv = await h.http().get('/api/v1/exports/image_labels.csv?split=test&labels=readers').set(h.bearer(manager)).expect(200);
    const labelRows = mine(parse(labelsCsv.text, { columns: true }) as Record<string, string>[]);
    expect(labelRows).toHaveLength(3);
    for (const row of labelRows) {
      const slot = readers.find((r) => pseudonyms.get(r.readerId) === row.rad_id)!.slot;
      expect(row.Cardiomegaly).toBe('1');
      expect(row.Pneumonia).toBe(slot < 2 ? '1' : '0');
      expect(row['Other diseases']).toBe(slot < 2 ? '0' : '1');
    }
    const kaggle = await h.http().get('/api/v1/exports/kaggle.csv?split=test&labels=readers').set(h.bearer(manager)).expect(200);
    const kaggleRows = mine(parse(kaggle.text, { columns: true }) as Record<string, string>[]);
    expect(kaggleRows.map((r) => `${r.rad_id}:${r.class_name}:${r.class_id}`).sort()).toEqual(readers.map((r) => `${pseudonyms.get(r.readerId)}:Cardiomegaly:3`).sort());
    const coco = await h.http().get('/api/v1/exports/coco.json?split=test').set(h.bearer(manager)).expect(200);
    const doc = JSON.parse(coco.text) as { images: { id: number; image_id: string; width: number }[]; annotations: { image_id: number; bbox: number[] }[] };
    const img = doc.images.find((i) => i.image_id === imageId)!;
    expect(img).toMatchObject({ width: 1024, height: 1024 });
    expect(doc.annotations.filter((a) => a.image_id === img.id)).toHaveLength(1);
    await h.http().get('/api/v1/exports/nope.csv').set(h.bearer(manager)).expect(404);
    await h.http().get('/api/v1/exports/annotations.csv?split=dev').set(h.bearer(manager)).expect(422);
    await h.http().get('/api/v1/exports/annotations.csv').set(h.bearer(readers[0].token)).expect(403);
  });

  it('managers see the audit trail, the readers’ figures and the lists', async () => {
    const audit = await h.http().get('/api/v1/audit').query({ scanId, limit: 500 }).set(h.bearer(manager)).expect(200);
    const actions = (audit.body.items as { action: string }[]).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['task:assigned', 'task:submitted', 'stage:released']));
    expect(actions.filter((a) => a === 'task:submitted')).toHaveLength(3);

    const reader = await h.http().get(`/api/v1/readers/${readers[0].readerId}`).set(h.bearer(manager)).expect(200);
    expect(reader.body.completedTasks).toBeGreaterThanOrEqual(1);
    expect(reader.body.medianReadSeconds).toEqual(expect.any(Number));
    expect(reader.body.agreement).toMatchObject({ scans: expect.any(Number), meanBoxF1: expect.any(Number) });

    const done = await h.http().get('/api/v1/tasks').query({ status: 'submitted', readerId: readers[1].readerId }).set(h.bearer(manager)).expect(200);
    expect(done.body.items.map((t: { taskId: string }) => t.taskId)).toContain(readers[1].taskId);
    const released = await h.http().get('/api/v1/scans').query({ stage: 'released', split: 'test' }).set(h.bearer(manager)).expect(200);
    expect(released.body.items.map((s: { scanId: string }) => s.scanId)).toContain(scanId);

    const metrics = await h.http().get('/metrics').expect(200);
    expect(metrics.text).toMatch(/readflow_submissions_total\{outcome="accepted"\} 3/);
    expect(metrics.text).toMatch(/readflow_submissions_total\{outcome="duplicate"\} 1/);
    expect(metrics.text).toMatch(/readflow_ingest_requests_total\{outcome="new"\} 1/);
  });
});

function binary(res: NodeJS.ReadableStream & { setEncoding(e: string): void }, cb: (err: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
}
