/**
 * Reader capacity through the API (issue #12), on a database of its own with a roster of three radiologists:
 * - raising readers' caps (PATCH /readers/{id}) wakes the waiting scans the new capacity can serve at once, not at their
 *   10-minute backstop timer;
 * - `priority` on upload and batch ingest (validated: 422 naming the field) orders the queue for readers, the test
 *   split first by default.
 * Real API, real worker, real dev server and Postgres.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

import { DEFAULT_PRIORITY_BY_SPLIT } from '../../src/domain';
import { eventually, freshCxr, startApiHarness } from '../support/api-harness';
import type { ApiHarness } from '../support/api-harness';

const READERS = ['r1', 'r2', 'r3'];

describe('reader capacity through the API: cap changes wake waiting scans, uploads carry a priority', () => {
  let h: ApiHarness;
  let manager: string;
  const tokens = new Map<string, string>();

  const readingOf = (slot: number) => ({
    boxes: [{ label: 'Cardiomegaly', x_min: 300 + slot * 6, y_min: 500 + slot * 6, x_max: 700 + slot * 6, y_max: 800 - slot * 6 }],
    globalLabels: ['Other diseases'],
  });

  async function upload(fields: Record<string, string>, expectStatus = 202): Promise<string> {
    let req = h.http().post('/api/v1/scans').set(h.bearer(manager));
    for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
    const res = await req.attach('file', freshCxr(), 'cxr.dcm').expect(expectStatus);
    return res.body.scanId as string;
  }

  async function stageOf(scanId: string): Promise<string | undefined> {
    const [row] = await h.ds.query(`SELECT stage FROM scans WHERE id = $1`, [scanId]);
    return row?.stage;
  }

  function reaches(scanId: string, stage: string, timeoutMs = 90_000): Promise<string> {
    return eventually(async () => ((await stageOf(scanId)) === stage ? stage : undefined), timeoutMs, `${scanId} in ${stage}`);
  }

  /** Every reader submits their open tasks of `scanId` through the API (instant readers). */
  async function readScan(scanId: string): Promise<void> {
    const rows: { id: string; reader_id: string; slot: number }[] = await eventually(async () => {
      const r: { id: string; reader_id: string; slot: number }[] = await h.ds.query(
        `SELECT id, reader_id, slot FROM tasks WHERE scan_id = $1 AND status = 'open'`,
        [scanId],
      );
      return r.length === 3 ? r : undefined;
    }, 60_000, `three open tasks of ${scanId}`);
    for (const t of rows) {
      await h.http().post(`/api/v1/tasks/${t.id}/submission`).set(h.bearer(tokens.get(t.reader_id) as string)).send(readingOf(t.slot)).expect(200);
    }
  }

  async function setCaps(cap: number): Promise<void> {
    for (const id of READERS) {
      await h.http().patch(`/api/v1/readers/${id}`).set(h.bearer(manager)).send({ openTaskCap: cap }).expect(200);
    }
  }

  async function waitlist(): Promise<{ scan_id: string; priority: number }[]> {
    return h.ds.query(`SELECT scan_id, priority FROM reader_waitlist ORDER BY priority DESC, enqueued_at`);
  }

  beforeAll(async () => {
    h = await startApiHarness({ worker: true, ownDatabase: true, env: { READFLOW_TASK_DEADLINE: '1h' } });
    manager = await h.addReader('mgr', 'manager');
    for (const id of READERS) tokens.set(id, await h.addReader(id, 'radiologist', { openTaskCap: 1 }));
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  });

  it('refuses a priority that is not an integer in range with a 422 naming the field (upload and batch)', async () => {
    for (const bad of ['high', '2.5', '100000']) {
      const res = await h
        .http()
        .post('/api/v1/scans')
        .set(h.bearer(manager))
        .field('split', 'train')
        .field('priority', bad)
        .attach('file', freshCxr(), 'cxr.dcm')
        .expect(422);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['priority']);
    }
    const res = await h.http().post('/api/v1/batches').set(h.bearer(manager)).send({ split: 'train', directory: '.', priority: 1.5 }).expect(422);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['priority']);
  });

  it('wakes a waiting scan as soon as the readers’ caps are raised through the API', async () => {
    const first = await upload({ split: 'train' });
    await reaches(first, 'reading');
    const waiting = await upload({ split: 'train' });
    await reaches(waiting, 'waiting-for-readers');
    // Raising the caps adds the capacity: the scan is served at once, not at its 10-minute backstop.
    const raisedAt = Date.now();
    await setCaps(2);
    await reaches(waiting, 'reading', 60_000);
    expect(Date.now() - raisedAt).toBeLessThan(60_000);
    expect(await waitlist()).toEqual([]);
    await readScan(first);
    await readScan(waiting);
    await reaches(first, 'released');
    await reaches(waiting, 'released');
  }, 300_000);

  it('serves waiting scans by priority: the test split first by default, then a given priority, then first come', async () => {
    await setCaps(1);
    const holder = await upload({ split: 'train' });
    await reaches(holder, 'reading');
    // Uploaded in this order, all waiting: a train scan (priority 0), a train scan given priority 5, a test scan
    // (default priority 10, read here by 3 independent readers).
    const plain = await upload({ split: 'train' });
    await reaches(plain, 'waiting-for-readers');
    const urgent = await upload({ split: 'train', priority: '5' });
    await reaches(urgent, 'waiting-for-readers');
    const test = await upload({ split: 'test', policy: 'independent-3' });
    await reaches(test, 'waiting-for-readers');
    expect(await waitlist()).toEqual([
      { scan_id: test, priority: DEFAULT_PRIORITY_BY_SPLIT.test },
      { scan_id: urgent, priority: 5 },
      { scan_id: plain, priority: 0 },
    ]);

    // A batch carries its priority to every scan it starts (overriding the split's default).
    await fsp.writeFile(path.join(h.importDir, 'batch-cxr.dcm'), freshCxr());
    const batch = await h.http().post('/api/v1/batches').set(h.bearer(manager)).send({ split: 'test', policy: 'independent-3', files: ['batch-cxr.dcm'], priority: -3 }).expect(202);
    expect(batch.body.batchId).toBeDefined();
    const fromBatch = await eventually(async () => (await waitlist()).find((w) => w.priority === -3)?.scan_id, 90_000, 'the batch scan waiting');

    // Each release of the one scan reading serves the next in priority order.
    const order = [test, urgent, plain, fromBatch];
    let reading = holder;
    for (const next of order) {
      await readScan(reading);
      await reaches(next, 'reading');
      for (const later of order.slice(order.indexOf(next) + 1)) expect(await stageOf(later)).toBe('waiting-for-readers');
      reading = next;
    }
    await readScan(reading);
    for (const id of [holder, ...order]) await reaches(id, 'released');
  }, 600_000);
});
