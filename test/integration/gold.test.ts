/**
 * Hidden gold scans through the API, on the real dev server and Postgres: a manager uploads a gold scan with its
 * reference; a reader's gold task cannot be told from an ordinary one through any response (inbox, task detail,
 * image, PNG preview, submission: same key sets, same value formats, same deadline); gold never appears in the
 * exports; the per-reader gold accuracy is the reading's box F1 (IoU ≥ 0.4) and label agreement with the reference.
 * Managers see which scans are gold (`gold` in the scan list and detail); no reader response ever mentions it.
 */
import type { WorkflowHandle } from '@temporalio/client';

import { boxF1, labelSetF1 } from '../../src/domain';
import type { Reading } from '../../src/domain';
import { assignGoldSignal, GOLD_SCHEDULER_ID } from '../../src/workflows/gold.messages';
import { cancelScanUpdate } from '../../src/workflows/scan-lifecycle.messages';
import type { ApiHarness } from '../support/api-harness';
import { ensureDefaultRoster, eventually, freshCxr, startApiHarness } from '../support/api-harness';

const REFERENCE: Reading = {
  boxes: [
    { label: 'Cardiomegaly', x_min: 300, y_min: 500, x_max: 700, y_max: 800 },
    { label: 'Nodule/Mass', x_min: 100, y_min: 100, x_max: 160, y_max: 170 },
  ],
  globalLabels: ['Other diseases'],
};
/** The reader finds the heart (IoU ≥ 0.4), misses the nodule and adds a wrong image-level label. */
const READER: Reading = {
  boxes: [{ label: 'Cardiomegaly', x_min: 320, y_min: 520, x_max: 700, y_max: 800 }],
  globalLabels: ['Other diseases', 'Pneumonia'],
};

/** The shape of a JSON value: key sets all the way down, and each leaf's format (never the value itself). */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.length === 0 ? [] : [shape(v[0])];
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, shape((v as Record<string, unknown>)[k])]));
  if (typeof v === 'string') {
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(v)) return 'uuid4';
    if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(v)) return 'iso-time';
    if (/^[0-9a-f]{32}$/.test(v)) return 'hex32';
    if (/^https?:\/\//.test(v)) return `url:${v.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')}`;
    return `string:${v.length > 40 ? 'long' : v}`;
  }
  return typeof v;
}

describe('hidden gold scans through the API', () => {
  let h: ApiHarness;
  let manager: string;
  let readerId: string;
  let reader: string;
  let goldScanId: string;

  beforeAll(async () => {
    // A database of its own: the test counts its reader's tasks exactly, and on the shared database other files' scans
    // assign readings to this new, idle reader and submit them (a third submitted task in a full run).
    h = await startApiHarness({ worker: true, ownDatabase: true, env: { READFLOW_TASK_DEADLINE: '1h', READFLOW_GOLD_CHECK_INTERVAL: '1h' } });
    await ensureDefaultRoster(h.ds);
    manager = await h.addReader(`${h.prefix}-mgr`, 'manager');
    readerId = `${h.prefix}-reader`;
    reader = await h.addReader(readerId, 'radiologist');
  });

  afterAll(async () => {
    if (h) {
      // Retire the gold scan and stop the scheduler: nothing gold outlives this file.
      if (goldScanId) await h.temporal.client.workflow.getHandle(goldScanId).executeUpdate(cancelScanUpdate, { args: [{ by: 'test' }] }).catch(() => undefined);
      await h.temporal.client.workflow.getHandle(GOLD_SCHEDULER_ID).terminate('test done').catch(() => undefined);
      await h.close();
    }
  });

  it('refuses a bad reference (422 naming the field) and non-managers (403)', async () => {
    const bad = await h.http().post('/api/v1/gold').set(h.bearer(manager)).field('reference', JSON.stringify({ boxes: [{ label: 'Unicorn', x_min: 1, y_min: 1, x_max: 2, y_max: 2 }], globalLabels: [] })).attach('file', freshCxr(), 'g.dcm').expect(422);
    expect(JSON.stringify(bad.body.errors)).toContain('reference.boxes[0].label');
    await h.http().post('/api/v1/gold').set(h.bearer(manager)).field('reference', '{').attach('file', freshCxr(), 'g.dcm').expect(422);
    await h.http().post('/api/v1/gold').set(h.bearer(reader)).field('reference', JSON.stringify(REFERENCE)).attach('file', freshCxr(), 'g.dcm').expect(403);
    await h.http().get('/api/v1/gold/accuracy').set(h.bearer(reader)).expect(403);
  });

  it('a gold task is indistinguishable from an ordinary one, never exported, and scored against the reference', async () => {
    // An ordinary training scan; one of its tasks is reassigned to our reader.
    const ordinaryScan = await h.http().post('/api/v1/scans').set(h.bearer(manager)).field('split', 'train').field('policy', 'independent-3').attach('file', freshCxr(), 'o.dcm').expect(202);
    const ordinaryScanId: string = ordinaryScan.body.scanId;
    const open = await eventually(async () => {
      const d = await h.http().get(`/api/v1/scans/${ordinaryScanId}`).set(h.bearer(manager)).expect(200);
      const tasks = (d.body.tasks as { taskId: string; readerId: string; status: string }[]).filter((t) => t.status === 'open');
      return tasks.length ? tasks : undefined;
    });
    // Our reader, new and idle, may have been assigned one of the readings already (least open work goes first);
    // otherwise one reading is reassigned to it.
    const held = open.find((t) => t.readerId === readerId);
    const ordinaryTaskId: string = held
      ? held.taskId
      : (await h.http().post(`/api/v1/tasks/${open[0].taskId}/reassign`).set(h.bearer(manager)).send({ toReaderId: readerId }).expect(200)).body.newTaskId;

    // The gold scan, and a gold task for our reader (as the scheduler would signal it when the reader is due).
    const gold = await h.http().post('/api/v1/gold').set(h.bearer(manager)).field('reference', JSON.stringify(REFERENCE)).attach('file', freshCxr(), 'g.dcm').expect(202);
    goldScanId = gold.body.scanId;
    expect(goldScanId).toMatch(/^scan-[0-9a-f]{24}$/);
    await eventually(async () => {
      const list = await h.http().get('/api/v1/gold').set(h.bearer(manager)).expect(200);
      return (list.body.items as { scanId: string; stage: string }[]).find((g) => g.scanId === goldScanId && g.stage === 'reading');
    });
    const handle: WorkflowHandle = h.temporal.client.workflow.getHandle(goldScanId);
    await handle.signal(assignGoldSignal, { readerId });
    const inbox = await eventually(async () => {
      const r = await h.http().get('/api/v1/me/tasks').set(h.bearer(reader)).expect(200);
      return r.body.items.length === 2 ? r.body : undefined;
    });
    const goldTaskId: string = inbox.items.find((t: { taskId: string }) => t.taskId !== ordinaryTaskId).taskId;
    const byId = (id: string) => inbox.items.find((t: { taskId: string }) => t.taskId === id);
    expect(shape(byId(goldTaskId))).toEqual(shape(byId(ordinaryTaskId)));
    const span = (t: { assignedAt: string; dueAt: string }) => Date.parse(t.dueAt) - Date.parse(t.assignedAt);
    expect(span(byId(goldTaskId))).toBe(span(byId(ordinaryTaskId)));
    // A second signal for the same reader gives nothing: never the same gold scan twice.
    await handle.signal(assignGoldSignal, { readerId });

    // Task detail, DICOM and PNG preview: same keys and formats.
    const [gd, od] = await Promise.all([goldTaskId, ordinaryTaskId].map((id) => h.http().get(`/api/v1/tasks/${id}`).set(h.bearer(reader)).expect(200)));
    expect(shape(gd.body)).toEqual(shape(od.body));
    expect(gd.body.task.round).toBe(od.body.task.round);
    expect(gd.body.task.role).toBe(od.body.task.role);
    for (const q of ['', '?format=png']) {
      const [gi, oi] = await Promise.all([goldTaskId, ordinaryTaskId].map((id) => h.http().get(`/api/v1/tasks/${id}/image${q}`).set(h.bearer(reader)).buffer(true).expect(200)));
      const headerShape = (hs: Record<string, string>) => Object.keys(hs).filter((k) => k !== 'date').sort();
      expect(headerShape(gi.headers)).toEqual(headerShape(oi.headers));
      expect(gi.headers['content-type']).toBe(oi.headers['content-type']);
      expect(gi.headers['cache-control']).toBe(oi.headers['cache-control']);
    }

    // Submissions: same answer shape.
    const [gs, os] = await Promise.all(
      [goldTaskId, ordinaryTaskId].map((id) => h.http().post(`/api/v1/tasks/${id}/submission`).set(h.bearer(reader)).send(READER).expect(200)),
    );
    expect(shape(gs.body)).toEqual(shape(os.body));
    const submitted = await h.http().get('/api/v1/me/tasks?status=submitted').set(h.bearer(reader)).expect(200);
    const items = submitted.body.items as { taskId: string }[];
    expect(items.map((t) => t.taskId).sort()).toEqual([goldTaskId, ordinaryTaskId].sort());
    expect(shape(items[0])).toEqual(shape(items[1]));
    // Only one gold task for this reader, despite the second signal.
    const list = await h.http().get('/api/v1/gold').set(h.bearer(manager)).expect(200);
    expect(list.body.items.find((g: { scanId: string }) => g.scanId === goldScanId)).toMatchObject({ tasks: 1, submitted: 1 });

    // Accuracy against the reference: box F1 at IoU ≥ 0.4 and image-level label agreement.
    const acc = await h.http().get(`/api/v1/gold/accuracy?readerId=${readerId}&period=day`).set(h.bearer(manager)).expect(200);
    expect(acc.body.iouThreshold).toBe(0.4);
    expect(acc.body.readers).toHaveLength(1);
    const mine = acc.body.readers[0];
    expect(mine).toMatchObject({ readerId, goldTasks: 1 });
    expect(mine.boxF1).toBeCloseTo(boxF1(READER.boxes, REFERENCE.boxes, 0.4));
    expect(mine.boxF1).toBeCloseTo(2 / 3);
    expect(mine.labelAgreement).toBeCloseTo(labelSetF1(READER.globalLabels, REFERENCE.globalLabels));
    expect(mine.periods).toEqual([{ period: new Date().toISOString().slice(0, 10), goldTasks: 1, boxF1: mine.boxF1, labelAgreement: mine.labelAgreement }]);

    // The ordinary scan is read to release by its other readers; gold never appears in any export.
    const ordinary = await h.http().get(`/api/v1/scans/${ordinaryScanId}`).set(h.bearer(manager)).expect(200);
    for (const t of ordinary.body.tasks as { taskId: string; readerId: string; status: string }[]) {
      if (t.status !== 'open') continue;
      const token = await h.tokenFor(t.readerId);
      await h.http().post(`/api/v1/tasks/${t.taskId}/submission`).set(h.bearer(token)).send(READER).expect(200);
    }
    await eventually(async () => ((await h.http().get(`/api/v1/scans/${ordinaryScanId}`).set(h.bearer(manager))).body.stage === 'released' ? true : undefined));
    const goldImageId: string = gd.body.image.imageId;
    const ordinaryImageId: string = od.body.image.imageId;
    for (const path of ['annotations.csv?labels=readers', 'annotations.csv', 'image_labels.csv?labels=readers', 'kaggle.csv?labels=readers', 'coco.json']) {
      const body = (await h.http().get(`/api/v1/exports/${path}${path.includes('?') ? '&' : '?'}split=train`).set(h.bearer(manager)).buffer(true).expect(200)).text;
      expect(body).toContain(ordinaryImageId);
      expect(body).not.toContain(goldImageId);
    }
    const goldDetail = await h.http().get(`/api/v1/scans/${goldScanId}`).set(h.bearer(manager)).expect(200);
    expect(goldDetail.body.stage).toBe('reading');
    await h.http().get(`/api/v1/scans/${goldScanId}/labels`).set(h.bearer(manager)).expect(409);

    // Managers see which scans are gold: `gold: true` in the scan list and detail, `false` on every other scan.
    expect(goldDetail.body.gold).toBe(true);
    expect(ordinary.body.gold).toBe(false);
    const listed = new Map<string, boolean>();
    for (const stage of ['reading', 'released']) {
      let cursor: string | null = null;
      do {
        const page: { body: { items: { scanId: string; gold: boolean }[]; nextCursor: string | null } } = await h.http().get(`/api/v1/scans?stage=${stage}&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`).set(h.bearer(manager)).expect(200);
        for (const item of page.body.items) {
          expect(typeof item.gold).toBe('boolean');
          listed.set(item.scanId, item.gold);
        }
        cursor = page.body.nextCursor;
      } while (cursor);
    }
    expect(listed.get(goldScanId)).toBe(true);
    expect(listed.get(ordinaryScanId)).toBe(false);
    // Every scan marked gold is one (other files of the run add scans meanwhile: only the marked ones are checked).
    const goldRows: { scan_id: string }[] = await h.ds.query(`SELECT scan_id FROM gold_scans`);
    for (const [scanId, flag] of listed) if (flag) expect(goldRows.map((g) => g.scan_id)).toContain(scanId);

    // Readers never: no `gold` key or value in anything they were answered, and no access to the scans API.
    const readerResponses: unknown[] = [inbox, gd.body, od.body, gs.body, os.body, submitted.body];
    readerResponses.push((await h.http().get('/api/v1/me/tasks').set(h.bearer(reader)).expect(200)).body);
    readerResponses.push((await h.http().get('/api/v1/me/tasks?status=submitted').set(h.bearer(reader)).expect(200)).body);
    for (const id of [goldTaskId, ordinaryTaskId]) readerResponses.push((await h.http().get(`/api/v1/tasks/${id}`).set(h.bearer(reader)).expect(200)).body);
    const mentionsGold = (v: unknown): boolean =>
      Array.isArray(v)
        ? v.some(mentionsGold)
        : v !== null && typeof v === 'object'
          ? Object.entries(v).some(([k, x]) => /gold/i.test(k) || mentionsGold(x))
          : typeof v === 'string' && /gold/i.test(v);
    for (const body of readerResponses) expect(mentionsGold(body)).toBe(false);
    expect(mentionsGold(goldDetail.body)).toBe(true);
    await h.http().get('/api/v1/scans').set(h.bearer(reader)).expect(403);
    await h.http().get(`/api/v1/scans/${goldScanId}`).set(h.bearer(reader)).expect(403);
    await h.http().get('/api/v1/gold').set(h.bearer(reader)).expect(403);
  });
});
