/**
 * The projection follows the workflow, including after a lost workflow task (issue #12, found by `simulate --chaos`).
 *
 * Projection writes run as local activities (patch `lean-scan-history`): the write happens while the workflow task is
 * still open, before anything of that task is in the history. When the worker dies (or the Temporal server restarts)
 * after such a write but before the task completes, the task is retried, and the retry may take another path: updates
 * that arrived meanwhile are delivered before the timer that fired, or an update the server lost never comes back. The
 * first attempt's write is then an orphan in Postgres. A chaos run showed both directions on one scan: three readings
 * accepted by the API (200) but their tasks `expired` in Postgres, with two replacement tasks left `open` on the
 * released scan. The workflow's later writes must win, and what it never knew must not outlive the scan.
 */
import { randomUUID } from 'node:crypto';

import type { DataSource } from 'typeorm';

import type { ProjectionStep, TaskRow } from '../../src/activities/scan.activities';
import { applyProjectionStep } from '../../src/activities/scan.activities';
import { dropDatabase, openDatabase } from '../../src/db/data-source';
import { testServices } from '../support/services';

const READERS = ['orph1', 'orph2', 'orph3', 'orph4', 'orph5'];
const AT = '2026-12-01T10:00:00.000Z';
const DUE = '2026-12-01T11:00:00.000Z';

describe('projection writes after a lost workflow task', () => {
  let dbUrl: string;
  let ds: DataSource;
  let n = 0;

  const task = (scanId: string, readerId: string, slot: number, status: TaskRow['status'], extra: Partial<TaskRow> = {}): TaskRow => ({
    id: randomUUID(),
    scanId,
    readerId,
    role: 'reader',
    slot,
    round: 0,
    status,
    assignedAt: AT,
    dueAt: DUE,
    ...extra,
  });
  const as = (t: TaskRow, status: TaskRow['status'], extra: Partial<TaskRow> = {}): TaskRow => ({ ...t, status, ...extra });
  const reading = (t: TaskRow): NonNullable<ProjectionStep['reading']> => ({
    taskId: t.id,
    scanId: t.scanId,
    readerId: t.readerId,
    role: 'reader',
    boxes: [],
    globalLabels: ['No finding'],
    submittedAt: '2026-12-01T10:05:00.000Z',
  });
  const statuses = async (scanId: string): Promise<Record<string, string>> => {
    const rows: { id: string; status: string }[] = await ds.query(`SELECT id, status FROM tasks WHERE scan_id = $1`, [scanId]);
    return Object.fromEntries(rows.map((r) => [r.id, r.status]));
  };
  const readingsOf = async (scanId: string): Promise<string[]> =>
    ((await ds.query(`SELECT task_id FROM readings WHERE scan_id = $1 ORDER BY task_id`, [scanId])) as { task_id: string }[]).map((r) => r.task_id);

  async function newScan(): Promise<string> {
    const id = `scan-orphan-${++n}`;
    await applyProjectionStep(ds, { scan: { id, split: 'train', policy: 'independent-3', stage: 'reading' } });
    return id;
  }

  beforeAll(async () => {
    const url = new URL(testServices().databaseUrl);
    url.pathname = `/readflow_orphans_${randomUUID().slice(0, 8)}`;
    dbUrl = url.toString();
    ds = await openDatabase(dbUrl, { poolSize: 2 });
    for (const id of READERS) {
      await ds.query(`INSERT INTO readers (id, display_name, role, senior, active, open_task_cap) VALUES ($1, $1, 'radiologist', false, true, 10)`, [id]);
    }
  });

  afterAll(async () => {
    await ds?.destroy();
    if (dbUrl) await dropDatabase(dbUrl);
  });

  it('an orphan expiry loses to the submissions the workflow accepted, and its replacement tasks close with the scan', async () => {
    const scanId = await newScan();
    const [t1, t2, t3] = [0, 1, 2].map((slot) => task(scanId, READERS[slot], slot, 'open'));
    await applyProjectionStep(ds, { tasks: [t1, t2, t3] });

    // The lost attempt: the deadline timer fired first, the three tasks expired and two were handed to other readers.
    const r4 = task(scanId, READERS[3], 0, 'open');
    const r5 = task(scanId, READERS[4], 1, 'open');
    await applyProjectionStep(ds, { tasks: [as(t1, 'expired', { closedAt: DUE }), as(t2, 'expired', { closedAt: DUE }), as(t3, 'expired', { closedAt: DUE }), r4, r5] });

    // The retry: the readers' submissions came first; the workflow never expired anything.
    for (const t of [t1, t2, t3]) {
      await applyProjectionStep(ds, { tasks: [as(t, 'submitted', { submittedAt: '2026-12-01T10:05:00.000Z', closedAt: '2026-12-01T10:05:00.000Z' })], reading: reading(t) });
    }
    expect(await statuses(scanId)).toMatchObject({ [t1.id]: 'submitted', [t2.id]: 'submitted', [t3.id]: 'submitted' });

    // Released: nothing the workflow never knew stays open (or holds a reader's capacity).
    await applyProjectionStep(ds, {
      scan: { id: scanId, split: 'train', policy: 'independent-3', stage: 'released', releasedAt: '2026-12-01T10:06:00.000Z' },
      result: {
        scanId,
        method: 'majority',
        fusedBoxes: [],
        fusedGlobalLabels: ['No finding'],
        finalBoxes: [],
        finalGlobalLabels: ['No finding'],
        agreement: {},
        releasedAt: '2026-12-01T10:06:00.000Z',
      },
    });
    expect(await statuses(scanId)).toEqual({ [t1.id]: 'submitted', [t2.id]: 'submitted', [t3.id]: 'submitted', [r4.id]: 'cancelled', [r5.id]: 'cancelled' });
    const closed: { closed_at: Date | null }[] = await ds.query(`SELECT closed_at FROM tasks WHERE id = ANY($1)`, [[r4.id, r5.id]]);
    expect(closed.every((r) => r.closed_at !== null)).toBe(true);
    expect(await readingsOf(scanId)).toEqual([t1.id, t2.id, t3.id].sort());
  });

  it('an orphan submission loses to the expiry the workflow decided: its reading goes', async () => {
    const scanId = await newScan();
    const t = task(scanId, READERS[0], 0, 'open');
    await applyProjectionStep(ds, { tasks: [t] });
    // The lost attempt accepted a submission the server then lost (a Temporal restart before the update completed).
    await applyProjectionStep(ds, { tasks: [as(t, 'submitted', { submittedAt: '2026-12-01T10:05:00.000Z', closedAt: '2026-12-01T10:05:00.000Z' })], reading: reading(t) });
    // The workflow never saw it: the task expired at its deadline and went to another reader.
    const r = task(scanId, READERS[1], 0, 'open');
    await applyProjectionStep(ds, { tasks: [as(t, 'expired', { closedAt: DUE }), r] });
    expect(await statuses(scanId)).toEqual({ [t.id]: 'expired', [r.id]: 'open' });
    expect(await readingsOf(scanId)).toEqual([]);
  });

  it('a stale write never reopens a closed task', async () => {
    const scanId = await newScan();
    const t = task(scanId, READERS[0], 0, 'open');
    await applyProjectionStep(ds, { tasks: [t] });
    await applyProjectionStep(ds, { tasks: [as(t, 'submitted', { submittedAt: '2026-12-01T10:05:00.000Z', closedAt: '2026-12-01T10:05:00.000Z' })], reading: reading(t) });
    // A local activity's attempt that outlived its 5 s budget commits after the workflow moved on.
    await applyProjectionStep(ds, { tasks: [t] });
    expect(await statuses(scanId)).toEqual({ [t.id]: 'submitted' });
    expect(await readingsOf(scanId)).toEqual([t.id]);
  });
});
