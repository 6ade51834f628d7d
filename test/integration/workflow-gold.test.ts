/**
 * The gold workflows on the real dev server and Postgres: `goldScheduler` gives a reader a gold task when their
 * durable counter says they are due (here every 2nd task: after each ordinary task), never the same gold scan twice,
 * never a second one while one is open; a `goldScan` task obeys deadlines and reassignment like any other.
 *
 * The worker's `goldObservation` and `loadRoster` only see this file's two readers and gold scans (the real
 * activities, filtered), so the test neither disturbs nor is disturbed by other files' readers.
 */
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';

import type { WorkflowHandle } from '@temporalio/client';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { DataSource } from 'typeorm';

import type { GoldObservation } from '../../src/activities/gold.activities';
import { GoldRepository } from '../../src/db/repositories';
import { DEFAULT_POLICIES, policyWithDeadlines } from '../../src/domain';
import type { ReadingPolicy } from '../../src/domain';
import { assignGoldSignal } from '../../src/workflows/gold.messages';
import { cancelScanUpdate, submitReadingUpdate } from '../../src/workflows/scan-lifecycle.messages';
import type { ScanStatus } from '../../src/workflows/scan-lifecycle.messages';
import { connectTemporal, openTestDataSource, testServices } from '../support/services';
import {
  bundleWorkflows,
  createScanRig,
  dicomVariant,
  NIH_CXR,
  readFixture,
  realActivities,
  startWorker,
  status,
  uniqueTag,
  waitForStatus,
  withRosterFilter,
} from '../support/workflow-harness';
import type { ScanRig } from '../support/workflow-harness';
import { recordHistory } from '../support/workflow-histories';

describe('gold scheduling on the real dev server and Postgres', () => {
  let ds: DataSource;
  let temporal: Awaited<ReturnType<typeof connectTemporal>>;
  let bundle: WorkflowBundleWithSourceMap;
  let rig: ScanRig;
  let worker: { stop: () => Promise<void> };
  const tag = uniqueTag();
  const A = `g${tag}a`;
  const B = `g${tag}b`;
  /** A reader with a cap of one open task (the capacity test). */
  const C = `g${tag}c`;
  const goldIds: string[] = [];
  let withC = false;
  const golds: WorkflowHandle[] = [];
  let scheduler: WorkflowHandle | undefined;
  let fixtures = 0;

  /** One more ordinary reading task for `readerId` (a closed fixture scan of this file: counted, never open). */
  async function ordinaryTask(readerId: string): Promise<void> {
    const scanId = `scan-fx${tag}${++fixtures}`;
    await ds.query(`INSERT INTO scans (id, split, policy, stage) VALUES ($1, 'train', 'independent-3', 'cancelled')`, [scanId]);
    await ds.query(
      `INSERT INTO tasks (id, scan_id, reader_id, role, slot, round, status, assigned_at, due_at, closed_at) VALUES ($1, $2, $3, 'reader', 0, 0, 'cancelled', now(), now(), now())`,
      [randomUUID(), scanId, readerId],
    );
  }

  const openGold = (readerId: string, statuses: ScanStatus[]) =>
    statuses.flatMap((s) => s.tasks.filter((t) => t.readerId === readerId && t.status === 'open').map((t) => ({ scanId: s.scanId, task: t })));
  const allStatus = () => Promise.all(golds.map((g) => status(g)));

  async function until<T>(f: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await f();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  beforeAll(async () => {
    ds = await openTestDataSource();
    temporal = await connectTemporal();
    for (const id of [A, B]) {
      await ds.query(`INSERT INTO readers (id, display_name, role, senior, active, open_task_cap) VALUES ($1, $1, 'radiologist', false, true, 50)`, [id]);
    }
    bundle = await bundleWorkflows();
    rig = await createScanRig(temporal.client);
    const real = realActivities(ds, rig.store) as { goldObservation: () => Promise<GoldObservation> };
    const ours = (id: string) => id === A || id === B;
    const activities = {
      // C joins the roster for the capacity test only (never a replacement reader of the first test).
      ...withRosterFilter(real, (id) => ours(id) || (id === C && withC)),
      async goldObservation(): Promise<GoldObservation> {
        const o = await real.goldObservation();
        // Ordinary tasks of this file's fixture scans only: other files' scans may assign our idle readers meanwhile.
        const counts: { reader_id: string; n: number }[] = await ds.query(
          `SELECT reader_id, count(*)::int AS n FROM tasks WHERE reader_id = ANY($1) AND role = 'reader' AND scan_id LIKE $2 GROUP BY reader_id`,
          [[A, B], `scan-fx${tag}%`],
        );
        const ordinary = (id: string) => counts.find((c) => c.reader_id === id)?.n ?? 0;
        return {
          readers: o.readers.filter((r) => ours(r.readerId)).map((r) => ({ ...r, ordinary: ordinary(r.readerId) })),
          goldScans: o.goldScans.filter((g) => goldIds.includes(g.scanId)),
        };
      },
    };
    worker = await startWorker({ rig, nativeConnection: temporal.nativeConnection, namespace: testServices().namespace, activities, workflowBundle: bundle });
  });

  afterAll(async () => {
    await scheduler?.terminate('test done').catch(() => undefined);
    for (const g of golds) await g.executeUpdate(cancelScanUpdate, { args: [{ by: 'test' }] }).catch(() => undefined);
    await worker?.stop();
    await ds?.destroy();
    await temporal?.close();
    if (rig) await fsp.rm(rig.storeDir, { recursive: true, force: true });
  });

  it('gives a due reader one gold task at a time, never the same gold scan twice; an unanswered one is reassigned', async () => {
    const policy: ReadingPolicy = { ...policyWithDeadlines(DEFAULT_POLICIES['independent-3'], { taskDeadlineMs: 6000 }), maxReassignmentsPerTask: 1 };
    const nih = readFixture(NIH_CXR);
    const repo = new GoldRepository(ds);
    for (let i = 1; i <= 2; i++) {
      const input = await rig.stage(dicomVariant(nih, tag, i), { policy, split: 'train' });
      await repo.insert({ scanId: input.scanId, boxes: [], globalLabels: ['No finding'], createdBy: 'test' });
      goldIds.push(input.scanId);
      golds.push(await temporal.client.workflow.start('goldScan', { taskQueue: rig.taskQueue, workflowId: input.scanId, args: [input] }));
    }
    for (const g of golds) await waitForStatus(g, (s) => s.stage === 'reading');
    scheduler = await temporal.client.workflow.start('goldScheduler', {
      taskQueue: rig.taskQueue,
      workflowId: `gold-scheduler-test-${tag}`,
      args: [{ every: 2, checkIntervalMs: 300 }],
    });

    // Nobody is due before their next ordinary task.
    await new Promise((r) => setTimeout(r, 1500));
    expect(openGold(A, await allStatus())).toEqual([]);

    // A reads an ordinary task: due (every 2nd task) → one gold task.
    await ordinaryTask(A);
    const first = await until(async () => openGold(A, await allStatus())[0]);
    expect(openGold(B, await allStatus())).toEqual([]);
    await golds[goldIds.indexOf(first.scanId)].executeUpdate(submitReadingUpdate, {
      args: [{ taskId: first.task.taskId, readerId: A, reading: { boxes: [], globalLabels: ['No finding'] } }],
    });

    // Another ordinary task: a gold task on the other gold scan (never the same one twice).
    await ordinaryTask(A);
    const second = await until(async () => openGold(A, await allStatus())[0]);
    expect(second.scanId).not.toBe(first.scanId);

    // A never answers it: after its deadline it expires and goes to B, who never had that scan.
    const secondHandle = golds[goldIds.indexOf(second.scanId)];
    const moved = await waitForStatus(secondHandle, (s) => s.tasks.some((t) => t.taskId === second.task.taskId && t.status === 'expired'), 30_000);
    const replacement = moved.tasks.find((t) => t.replaces === second.task.taskId)!;
    expect(replacement).toMatchObject({ readerId: B, status: 'open', slot: second.task.slot });

    // A has had both gold scans: however due, no third gold task.
    await ordinaryTask(A);
    await ordinaryTask(A);
    await new Promise((r) => setTimeout(r, 2500));
    const after = await allStatus();
    expect(openGold(A, after)).toEqual([]);
    expect(after.flatMap((s) => s.tasks.filter((t) => t.readerId === A))).toHaveLength(2);

    await secondHandle.executeUpdate(submitReadingUpdate, {
      args: [{ taskId: replacement.taskId, readerId: B, reading: { boxes: [], globalLabels: ['No finding'] } }],
    });
    for (const g of golds) await g.executeUpdate(cancelScanUpdate, { args: [{ by: 'test' }] });
    for (const g of golds) expect(((await g.result()) as { stage: string }).stage).toBe('cancelled');
    await recordHistory(secondHandle, 'gold-scan-reassigned');
    await recordHistory(scheduler, 'gold-scheduler-rounds');
  });

  it('a reader at the cap gets no gold task until a slot frees (the capacity owner grants gold tasks too)', async () => {
    await ds.query(`INSERT INTO readers (id, display_name, role, senior, active, open_task_cap) VALUES ($1, $1, 'radiologist', false, true, 1)`, [C]);
    withC = true;
    const policy = policyWithDeadlines(DEFAULT_POLICIES['independent-3'], { taskDeadlineMs: 120_000 });
    const input = await rig.stage(dicomVariant(readFixture(NIH_CXR), tag, 10), { policy, split: 'train' });
    await new GoldRepository(ds).insert({ scanId: input.scanId, boxes: [], globalLabels: ['No finding'], createdBy: 'test' });
    // Not in `goldIds`: the scheduler of the test above never offers it; the test signals it itself.
    const gold = await temporal.client.workflow.start('goldScan', { taskQueue: rig.taskQueue, workflowId: input.scanId, args: [input] });
    golds.push(gold);
    await waitForStatus(gold, (s) => s.stage === 'reading');

    // C holds one open ordinary task: at the cap (1).
    const busyScan = `scan-fx${tag}busy`;
    const busyTask = randomUUID();
    await ds.query(`INSERT INTO scans (id, split, policy, stage) VALUES ($1, 'train', 'independent-3', 'reading')`, [busyScan]);
    await ds.query(
      `INSERT INTO tasks (id, scan_id, reader_id, role, slot, round, status, assigned_at, due_at) VALUES ($1, $2, $3, 'reader', 0, 0, 'open', now(), now() + interval '1 day')`,
      [busyTask, busyScan, C],
    );
    const tasksOfC = async (): Promise<{ scan_id: string; status: string }[]> =>
      ds.query(`SELECT scan_id, status FROM tasks WHERE reader_id = $1 AND status IN ('open', 'reserved') ORDER BY scan_id`, [C]);

    await gold.signal(assignGoldSignal, { readerId: C });
    // The gold scan asked the capacity owner and was refused: nothing for C, in the workflow or in Postgres.
    const reservationsAnswered = async (): Promise<number> => {
      const events = (await gold.fetchHistory()).events ?? [];
      const scheduled = new Set(
        events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'reserveReaders').map((e) => String(e.eventId)),
      );
      return events.filter((e) => scheduled.has(String(e.activityTaskCompletedEventAttributes?.scheduledEventId))).length;
    };
    await until(async () => ((await reservationsAnswered()) === 1 ? true : undefined));
    await new Promise((r) => setTimeout(r, 1500));
    expect((await status(gold)).tasks).toEqual([]);
    expect(await tasksOfC()).toEqual([{ scan_id: busyScan, status: 'open' }]);

    // The slot frees: the next request (the scheduler asks again a few rounds later) is granted, and opened.
    await ds.query(`UPDATE tasks SET status = 'cancelled', closed_at = now() WHERE id = $1`, [busyTask]);
    await gold.signal(assignGoldSignal, { readerId: C });
    const s = await waitForStatus(gold, (x) => x.tasks.some((t) => t.readerId === C && t.status === 'open'), 30_000);
    expect(s.tasks).toHaveLength(1);
    await until(async () => ((await tasksOfC()).some((t) => t.scan_id === input.scanId && t.status === 'open') ? true : undefined));
    expect(await tasksOfC()).toEqual([{ scan_id: input.scanId, status: 'open' }]);

    // Through the one owner of reader capacity: `reserveReaders`, never a roster snapshot.
    const history = await gold.fetchHistory();
    const activities = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter((n): n is string => !!n);
    expect(activities.filter((n) => n === 'reserveReaders')).toHaveLength(2);
    expect(activities).not.toContain('loadRoster');

    await gold.executeUpdate(cancelScanUpdate, { args: [{ by: 'test' }] });
    expect(((await gold.result()) as { stage: string }).stage).toBe('cancelled');
    expect(await tasksOfC()).toEqual([]);
    await recordHistory(gold, 'gold-scan-capacity');
  });
});
