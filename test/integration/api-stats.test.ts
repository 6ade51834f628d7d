import { randomBytes } from 'node:crypto';

import { parse } from 'csv-parse/sync';

import type { ApiHarness, ScanTask } from '../support/api-harness';
import { eventually, freshCxr, startReadingApp } from '../support/api-harness';


const cardiomegaly = { label: 'Cardiomegaly', x_min: 300, y_min: 500, x_max: 700, y_max: 800 };
const nodule = { label: 'Nodule/Mass', x_min: 100, y_min: 100, x_max: 180, y_max: 170 };

/**
 * The manager board's endpoints and the reader calibration against a real worker (Temporal dev server) and a
 * Postgres database of this file's own (exact totals: other test files write the run's shared database meanwhile).
 */
describe('API stats and calibration (real worker, own database)', () => {
  let h: ApiHarness;
  let manager: string;
  let radiologist: string;
  let released: string;
  let waiting: string;
  let junk: string;
  /** The three readers of `released`: the last one also drew a nodule nobody else saw. */
  let readers: ScanTask[];

  const get = (path: string, token = manager) => h.http().get(`/api/v1${path}`).set(h.bearer(token));
  const upload = async (bytes: Buffer, name = 'scan.dcm'): Promise<string> => {
    const res = await h.http().post('/api/v1/scans').set(h.bearer(manager)).field('split', 'train').field('policy', 'independent-3').attach('file', bytes, name);
    expect([200, 202]).toContain(res.status);
    return res.body.scanId as string;
  };
  const scan = async (scanId: string): Promise<{ stage: string; tasks: ScanTask[] }> => (await get(`/scans/${scanId}`).expect(200)).body;
  const untilOpen = (scanId: string, n: number): Promise<ScanTask[]> =>
    eventually(async () => {
      const s = await scan(scanId);
      const open = s.tasks.filter((t) => t.status === 'open' && t.role === 'reader');
      return s.stage === 'reading' && open.length === n ? open.sort((a, b) => a.slot - b.slot) : undefined;
    }, 60_000, `${n} open tasks of ${scanId} in stage reading`);
  const stage = (body: { stages: { stage: string; train: number; test: number; total: number; workflowsUrl: string }[] }, name: string) => body.stages.find((s) => s.stage === name)!;

  beforeAll(async () => {
    ({ h, manager } = await startReadingApp({ ownDatabase: true, env: { READFLOW_TASK_DEADLINE: '1h', READFLOW_REVIEW_DEADLINE: '1h' } }));
    radiologist = await h.tokenFor('rad01');
  });
  afterAll(async () => {
    await h?.close();
  });

  const ENDPOINTS = ['/stats/pipeline', '/stats/throughput', '/stats/readers', '/stats/labels', '/stats/overdue', '/calibration', '/calibration.csv', '/readers/rad01/calibration'];

  it('every endpoint is for managers: 401 without a token, 403 for a radiologist', async () => {
    for (const path of ENDPOINTS) {
      await h.http().get(`/api/v1${path}`).expect(401);
      const res = await get(path, radiologist).expect(403);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it('an empty campaign: every stage at zero with its Temporal UI list, empty throughput buckets, ETag and 304', async () => {
    const res = await get('/stats/pipeline').expect(200);
    expect(res.body).toMatchObject({ total: 0, splits: { train: 0, test: 0 }, openTasks: 0, overdueTasks: 0, quarantinedInputs: 0, quarantineReasons: [] });
    expect(res.body.stages.map((s: { stage: string }) => s.stage)).toEqual((await get('/meta').expect(200)).body.stages);
    expect(stage(res.body, 'reading').workflowsUrl).toBe(`${h.config.temporal.uiUrl}/namespaces/readflow/workflows?query=Stage%3D%22reading%22`);
    expect(res.headers['cache-control']).toBe('private, no-cache');
    const etag = res.headers.etag as string;
    expect(etag).toMatch(/^W\/".+"$/);
    const again = await get('/stats/pipeline').set('If-None-Match', etag).expect(304);
    expect(again.text).toBe('');

    const t = await get('/stats/throughput').expect(200);
    expect(t.body).toMatchObject({ bucket: 'hour', total: 0 });
    expect(t.body.series).toHaveLength(48);
    expect(Date.parse(t.body.to) - Date.parse(t.body.from)).toBe(48 * 3_600_000);
    const days = await get('/stats/throughput?bucket=day&from=2026-01-01T00:00:00Z&to=2026-01-08T00:00:00Z').expect(200);
    expect(days.body.series.map((p: { start: string }) => p.start)).toEqual(Array.from({ length: 7 }, (_, i) => new Date(Date.UTC(2026, 0, 1 + i)).toISOString()));
    const bad = await get('/stats/throughput?bucket=week').expect(422);
    expect(bad.body.errors[0]).toMatchObject({ path: 'bucket' });
    const backwards = await get('/stats/throughput?from=2026-01-08T00:00:00Z&to=2026-01-01T00:00:00Z').expect(422);
    expect(backwards.body.errors[0]).toMatchObject({ path: 'from', code: 'out-of-range' });
    await get('/stats/throughput?bucket=hour&from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z').expect(422);

    const cal = await get('/calibration').expect(200);
    expect(cal.body).toMatchObject({ pool: { readers: 0, readings: 0 }, readers: [], flaggedReaders: [], method: { test: 'fisher-exact-two-sided', correction: 'holm', alpha: 0.05, iouThreshold: 0.4, tests: 0 } });
    await get('/calibration?alpha=2').expect(422);
    await get('/readers/nobody-here/calibration').expect(404);
  });

  it('counts follow the campaign: uploads, quarantine, submissions, a release', async () => {
    [released, waiting, junk] = await Promise.all([
      upload(freshCxr()),
      upload(freshCxr()),
      upload(Buffer.concat([Buffer.from('not a DICOM file '), randomBytes(64)]), `junk-${randomBytes(3).toString('hex')}.dcm`),
    ]);
    readers = await untilOpen(released, 3);
    await untilOpen(waiting, 3);
    await eventually(async () => ((await scan(junk)).stage === 'quarantined' ? true : undefined), 30_000, 'quarantine');

    const before = await get('/stats/pipeline').expect(200);
    expect(before.body).toMatchObject({ total: 3, splits: { train: 3, test: 0 }, openTasks: 6, overdueTasks: 0, quarantinedInputs: 1 });
    expect(stage(before.body, 'reading')).toMatchObject({ train: 2, test: 0, total: 2 });
    expect(stage(before.body, 'quarantined')).toMatchObject({ train: 1, total: 1 });
    expect(before.body.quarantineReasons).toEqual([{ reason: expect.any(String), count: 1 }]);

    for (const [i, t] of readers.entries()) {
      const token = await h.tokenFor(t.readerId);
      const boxes = i === 2 ? [cardiomegaly, nodule] : [{ ...cardiomegaly, x_min: cardiomegaly.x_min + i * 4 }];
      await h.http().post(`/api/v1/tasks/${t.taskId}/submission`).set(h.bearer(token)).send({ boxes, globalLabels: ['Pneumonia'] }).expect(200);
    }
    const after = await eventually(async () => {
      const res = await get('/stats/pipeline').set('If-None-Match', before.headers.etag as string);
      return res.status === 200 && stage(res.body, 'released').total === 1 ? res.body : undefined;
    }, 60_000, 'the release in the pipeline');
    expect(stage(after, 'reading')).toMatchObject({ train: 1, total: 1 });
    expect(after.openTasks).toBe(3);

    const hour = await get('/stats/throughput').expect(200);
    expect(hour.body.total).toBe(1);
    expect(hour.body.series.at(-1)).toMatchObject({ released: 1, train: 1, test: 0 });
    const day = await get('/stats/throughput?bucket=day').expect(200);
    expect(day.body.series).toHaveLength(30);
    expect(day.body.series.at(-1).released).toBe(1);
  });

  it('per reader: open and completed work, median read time, agreement with the fused labels', async () => {
    const res = await get('/stats/readers').expect(200);
    expect(res.body.items).toHaveLength(17);
    const byId = new Map<string, Record<string, unknown>>(res.body.items.map((r: { readerId: string }) => [r.readerId, r]));
    for (const [i, t] of readers.entries()) {
      const r = byId.get(t.readerId)!;
      expect(r).toMatchObject({ completedTasks: 1, agreement: { scans: 1, meanGlobalF1: 1 } });
      expect(r.medianReadSeconds).toEqual(expect.any(Number));
      // The fused labels are the Cardiomegaly box and Pneumonia: the extra nodule costs the third reader box F1 2/3.
      expect((r.agreement as { meanBoxF1: number }).meanBoxF1).toBeCloseTo(i === 2 ? 2 / 3 : 1, 4);
    }
    const open = (await scan(waiting)).tasks.filter((t) => t.status === 'open');
    for (const t of open) expect(byId.get(t.readerId)).toMatchObject({ openTasks: 1 });
    expect(res.body.items.reduce((s: number, r: { openTasks: number }) => s + r.openTasks, 0)).toBe(3);
    expect(res.body.poolMedianReadSeconds).toEqual(expect.any(Number));
  });

  it('per label: positive rate, sensitivity, precision and box F1 against the fused labels', async () => {
    const res = await get('/stats/labels').expect(200);
    expect(res.body.scans).toBe(1);
    const byLabel = new Map<string, Record<string, unknown>>(res.body.items.map((l: { label: string }) => [l.label, l]));
    expect(res.body.items).toHaveLength(28);
    expect(byLabel.get('Cardiomegaly')).toMatchObject({ kind: 'local', readings: 3, positives: 3, positiveRate: 1, referencePositives: 3, sensitivity: 1, precision: 1, boxF1: 1 });
    expect(byLabel.get('Nodule/Mass')).toMatchObject({ readings: 3, positives: 1, positiveRate: 0.333333, referencePositives: 0, sensitivity: null, precision: 0, boxF1: 0 });
    expect(byLabel.get('Pneumonia')).toMatchObject({ kind: 'global', positives: 3, sensitivity: 1, agreement: 1, boxF1: null });
  });

  it('calibration: the whole pool, one reader against it, and the CSV', async () => {
    const noduleReader = readers[2].readerId;
    const all = await get('/calibration').expect(200);
    expect(all.body.pool).toMatchObject({ readers: 3, readings: 3, scans: 1 });
    expect(all.body.readers.map((r: { readerId: string }) => r.readerId)).toEqual(readers.map((r) => r.readerId).sort());
    expect(all.body.flaggedReaders).toEqual([]);
    const etag = all.headers.etag as string;
    await get('/calibration').set('If-None-Match', etag).expect(304);

    const one = await get(`/readers/${noduleReader}/calibration`).expect(200);
    expect(one.body.reader).toMatchObject({ readerId: noduleReader, displayName: expect.any(String), readings: 1, scans: 1, flagged: false, flaggedLabels: [], gold: null });
    expect(one.body.reader.boxF1).toBeCloseTo(2 / 3, 4);
    const nod = one.body.reader.labels.find((l: { label: string }) => l.label === 'Nodule/Mass');
    expect(nod).toMatchObject({ positives: 1, positiveRate: 1, precision: 0, pool: { positives: 1, readings: 3, positiveRate: 0.333333 } });
    // 1 of 1 against 0 of 2: Fisher's exact p = 1/3 · … = 0.3333 (no evidence with one scan).
    expect(nod.test).toMatchObject({ restPositives: 0, restReadings: 2, direction: 'higher', flagged: false });
    expect(nod.test.pValue).toBeCloseTo(1 / 3, 6);

    const idle = await get('/readers/rad17/calibration').expect(200);
    if (!readers.some((r) => r.readerId === 'rad17')) expect(idle.body.reader).toMatchObject({ readings: 0, flagged: false, boxF1: null });

    const csv = await get('/calibration.csv').expect(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.headers['content-disposition']).toBe('attachment; filename="calibration.csv"');
    const rows: Record<string, string>[] = parse(csv.text, { columns: true });
    expect(rows).toHaveLength(3 * 28);
    expect(rows.find((r) => r.reader_id === noduleReader && r.label === 'Nodule/Mass')).toMatchObject({
      positives: '1',
      positive_rate: '1',
      pool_positive_rate: '0.333333',
      precision: '0',
      flagged: 'false',
      direction: 'higher',
    });
    const train = await get('/calibration.csv?split=train').expect(200);
    expect(train.headers['content-disposition']).toBe('attachment; filename="calibration_train.csv"');
    const testOnly = await get('/calibration?split=test').expect(200);
    expect(testOnly.body.pool.readings).toBe(0);
  });

  it('the overdue list names a suggested reader who never had the scan, and the scan’s workflow', async () => {
    const open = (await scan(waiting)).tasks.filter((t) => t.status === 'open');
    await h.ds.query(`UPDATE tasks SET due_at = now() - interval '30 minutes' WHERE id = $1::uuid`, [open[0].taskId]);
    const res = await get('/stats/overdue').expect(200);
    expect(res.body.total).toBe(1);
    const [item] = res.body.items;
    expect(item).toMatchObject({ taskId: open[0].taskId, scanId: waiting, readerId: open[0].readerId, role: 'reader', workflowUrl: `${h.config.temporal.uiUrl}/namespaces/readflow/workflows/${waiting}` });
    expect(item.suggestedReaderId).toEqual(expect.stringMatching(/^rad\d\d$/));
    expect(open.map((t) => t.readerId)).not.toContain(item.suggestedReaderId);
    const pipeline = await get('/stats/pipeline').expect(200);
    expect(pipeline.body.overdueTasks).toBe(1);

    // Reassigning to the suggestion through the existing action gives the task to that reader.
    const moved = await h.http().post(`/api/v1/tasks/${open[0].taskId}/reassign`).set(h.bearer(manager)).send({ toReaderId: item.suggestedReaderId }).expect(200);
    expect(moved.body.readerId).toBe(item.suggestedReaderId);
    await eventually(async () => ((await get('/stats/overdue').expect(200)).body.total === 0 ? true : undefined), 20_000, 'the overdue list to empty');
    await h.http().post(`/api/v1/scans/${waiting}/cancel`).set(h.bearer(manager)).send({}).expect(200);
  });

  it('GET /meta serves the Temporal UI base URL and namespace', async () => {
    const meta = await get('/meta').expect(200);
    expect(meta.body).toMatchObject({ temporalUiUrl: h.config.temporal.uiUrl, temporalNamespace: 'readflow' });
  });
});
