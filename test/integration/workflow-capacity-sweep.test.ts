/**
 * Issue #12, "capacity is never leaked": the capacity sweeper (`capacitySweeper`) on a database of its own, with a roster
 * of three readers with a cap of one open task each (one independent-3 scan fills it). A scan whose workflow an operator
 * terminates or cancels in the Temporal UI never runs its own code again: its open tasks would hold the readers for
 * ever and the scans waiting behind it would wait for ever (their backstop only asks again, it frees nothing). The
 * sweeper, started the way every worker starts it (`ensureCapacitySweeper`) with the test's short interval, closes the
 * dead scan's tasks (audited), takes its queue entry away and wakes the waiting scan, which gets the readers. A sweep
 * the database refuses is reported (`sweepStatus`) and the next one catches up: the sweeper never fails. A scan re-run
 * under its scan id (same workflow id, a new run) while its earlier run's tasks are open has them released (the workflow
 * id alone says "running"), while a run reset to its last workflow task keeps the tasks it took over.
 * Real dev server, real Postgres, real ingest on a chest radiograph.
 */
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';

import type { WorkflowHandle } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import type { DataSource } from 'typeorm';

import { visibilityRunning } from '../../src/activities/capacity.activities';
import { createDataSource, dropDatabase, openDatabase } from '../../src/db/data-source';
import { DEFAULT_POLICIES } from '../../src/domain';
import { ensureCapacitySweeper } from '../../src/temporal/capacity-sweeper';
import { sweepStatusQuery } from '../../src/workflows/capacity-sweeper.messages';
import type { ScanLifecycleResult } from '../../src/workflows/scan-lifecycle.messages';
import { scanStartMetadata } from '../../src/workflows/scan-ui.messages';
import { readersAvailableSignal, submitReadingUpdate } from '../../src/workflows/scan-lifecycle.messages';
import { eventually } from '../support/api-harness';
import { postgresProxy } from '../support/postgres-proxy';
import { connectTemporal, testServices } from '../support/services';
import {
  bundleWorkflows,
  createScanRig,
  dicomVariant,
  NIH_CXR,
  openTasks,
  readFixture,
  realActivities,
  simulatedReading,
  startScan,
  startWorker,
  status,
  waitForStatus,
  uniqueTag,
} from '../support/workflow-harness';
import type { ScanRig } from '../support/workflow-harness';
import { recordHistory } from '../support/workflow-histories';

const READERS = ['swp01', 'swp02', 'swp03'];
/** The test's sweep interval (READFLOW_CAPACITY_SWEEP_INTERVAL; 1 minute by default). */
const INTERVAL_MS = 1500;

describe('capacity sweeper', () => {
  let dbUrl: string;
  let ds: DataSource;
  let temporal: Awaited<ReturnType<typeof connectTemporal>>;
  let rig: ScanRig;
  let worker: { stop: () => Promise<void> } | undefined;
  let sweeper: WorkflowHandle | undefined;
  let nih: Buffer;
  const tag = uniqueTag();
  let n = 0;

  async function newScan(): Promise<WorkflowHandle> {
    const input = await rig.stage(dicomVariant(nih, tag, ++n), { policy: DEFAULT_POLICIES['independent-3'] });
    return startScan(temporal.client, rig.taskQueue, input);
  }

  async function reading(h: WorkflowHandle): Promise<void> {
    await waitForStatus(h, (x) => x.stage === 'reading' && openTasks(x).length === 3, 60_000);
  }

  async function taskStatuses(scanId: string): Promise<string[]> {
    const rows: { status: string }[] = await ds.query(`SELECT status FROM tasks WHERE scan_id = $1 ORDER BY slot`, [scanId]);
    return rows.map((r) => r.status);
  }

  async function stage(scanId: string): Promise<string | undefined> {
    const [row] = await ds.query(`SELECT stage FROM scans WHERE id = $1`, [scanId]);
    return row?.stage;
  }

  async function onWaitlist(scanId: string): Promise<boolean> {
    return (await ds.query(`SELECT 1 FROM reader_waitlist WHERE scan_id = $1`, [scanId])).length > 0;
  }

  beforeAll(async () => {
    const url = new URL(testServices().databaseUrl);
    url.pathname = `/readflow_sweep_${randomUUID().slice(0, 8)}`;
    dbUrl = url.toString();
    ds = await openDatabase(dbUrl, { poolSize: 4 });
    for (const id of READERS) {
      await ds.query(`INSERT INTO readers (id, display_name, role, senior, active, open_task_cap) VALUES ($1, $1, 'radiologist', false, true, 1)`, [id]);
    }
    temporal = await connectTemporal();
    nih = readFixture(NIH_CXR);
    rig = await createScanRig(temporal.client);
    worker = await startWorker({
      rig,
      nativeConnection: temporal.nativeConnection,
      namespace: testServices().namespace,
      workflowBundle: await bundleWorkflows(),
      activities: realActivities(ds, rig.store),
    });
  });

  afterAll(async () => {
    await sweeper?.terminate('test over').catch(() => undefined);
    await worker?.stop();
    await ds?.destroy();
    await temporal?.close();
    if (rig) await fsp.rm(rig.storeDir, { recursive: true, force: true });
    if (dbUrl) await dropDatabase(dbUrl);
  });

  it('frees the readers of scans terminated or cancelled from outside, and the waiting scans get them, within the interval', async () => {
    // A holds every reader; B waits for them.
    const a = await newScan();
    await reading(a);
    const b = await newScan();
    await waitForStatus(b, (x) => x.stage === 'waiting-for-readers', 60_000);
    expect(await taskStatuses(a.workflowId)).toEqual(['open', 'open', 'open']);

    // An operator terminates A in the Temporal UI: its own code never runs again. Without a sweeper nothing frees
    // its readers: B keeps waiting (its backstop is minutes away and would free nothing either).
    await a.terminate('terminated by an operator (test)');
    await new Promise((r) => setTimeout(r, 2 * INTERVAL_MS));
    expect((await status(b)).stage).toBe('waiting-for-readers');
    expect(await taskStatuses(a.workflowId)).toEqual(['open', 'open', 'open']);

    // Every worker starts the task queue's sweeper; the test starts it the same way with its short interval.
    const startedAt = Date.now();
    const id = await ensureCapacitySweeper(temporal.client, { taskQueue: rig.taskQueue, intervalMs: INTERVAL_MS });
    sweeper = temporal.client.workflow.getHandle(id);
    await reading(b);
    const freedAfterMs = Date.now() - startedAt;
    expect(await taskStatuses(a.workflowId)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(await stage(a.workflowId)).toBe('cancelled');
    const events: { action: string; actor: string; detail: Record<string, unknown> }[] = await ds.query(
      `SELECT action, actor, detail FROM audit_events WHERE scan_id = $1 AND actor = 'system' ORDER BY id`,
      [a.workflowId],
    );
    expect(events.map((e) => e.action).sort()).toEqual(['stage:cancelled', 'task:cancelled', 'task:cancelled', 'task:cancelled']);
    for (const e of events) {
      expect(e.detail).toMatchObject({ reason: 'workflow terminated outside ReadFlow', workflowStatus: 'TERMINATED', foundBy: 'sweep' });
    }
    expect(events.filter((e) => e.action === 'task:cancelled').map((e) => e.detail.readerId).sort()).toEqual(READERS);

    // Now the periodic rounds: B is cancelled by an operator (a cancellation request: the workflow closes CANCELLED,
    // its tasks still open) while C waits, and D, waiting behind C, is terminated.
    const c = await newScan();
    await waitForStatus(c, (x) => x.stage === 'waiting-for-readers', 60_000);
    const d = await newScan();
    await waitForStatus(d, (x) => x.stage === 'waiting-for-readers', 60_000);
    await d.terminate('terminated by an operator (test)');
    const cancelledAt = Date.now();
    await b.cancel();
    await reading(c);
    const servedAfterMs = Date.now() - cancelledAt;
    expect(await taskStatuses(b.workflowId)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    const [bEvent] = await ds.query(`SELECT detail FROM audit_events WHERE scan_id = $1 AND action = 'stage:cancelled' AND actor = 'system'`, [
      b.workflowId,
    ]);
    expect(bEvent.detail).toMatchObject({ from: 'reading', workflowStatus: 'CANCELLED', foundBy: 'sweep' });
    // D held no readers, only its place in the queue: gone too, its row cancelled.
    await eventually(async () => ((await onWaitlist(d.workflowId)) ? undefined : true), 10 * INTERVAL_MS, 'D off the waitlist');
    await eventually(async () => ((await stage(d.workflowId)) === 'cancelled' ? true : undefined), 10 * INTERVAL_MS, 'D cancelled');
    console.log(`capacity sweep: readers of a terminated scan served the waiting one ${freedAfterMs} ms after the sweeper started; a cancelled scan's ${servedAfterMs} ms after the cancel (interval ${INTERVAL_MS} ms)`);
    expect(servedAfterMs).toBeLessThan(INTERVAL_MS + 15_000);

    // The sweep describes only what visibility does not list as running (one list call per hundred scans): the query
    // it sends works on this server, listing C and not the terminated A.
    const listed = await eventually(async () => {
      const r = await visibilityRunning(temporal.client)([a.workflowId, c.workflowId]);
      return r.has(c.workflowId) ? r : undefined;
    }, 15_000, 'visibility listing C as running');
    expect(listed.has(a.workflowId)).toBe(false);

    const h = sweeper;
    const s = await eventually(async () => {
      const x = await h.query(sweepStatusQuery);
      return x.released >= 3 ? x : undefined;
    }, 30_000, 'the sweeper counting A, B and D');
    expect(s.intervalMs).toBe(INTERVAL_MS);
    expect(s.released).toBeGreaterThanOrEqual(3);
    expect(s.rounds).toBeGreaterThanOrEqual(2);

    // C finishes normally: nothing is held afterwards, nobody waits.
    const rows: { id: string; reader_id: string; slot: number }[] = await eventually(async () => {
      const r: { id: string; reader_id: string; slot: number }[] = await ds.query(`SELECT id, reader_id, slot FROM tasks WHERE scan_id = $1 AND status = 'open'`, [
        c.workflowId,
      ]);
      return r.length === 3 ? r : undefined;
    }, 30_000, "C's open tasks");
    for (const t of rows) {
      await c.executeUpdate(submitReadingUpdate, { args: [{ taskId: t.id, readerId: t.reader_id, reading: simulatedReading(t.slot) }] });
    }
    expect(((await c.result()) as ScanLifecycleResult).stage).toBe('released');
    expect(await ds.query(`SELECT id FROM tasks WHERE status IN ('open', 'reserved')`)).toEqual([]);
    expect(await ds.query(`SELECT scan_id FROM reader_waitlist`)).toEqual([]);
    await recordHistory(sweeper, 'capacity-sweeper-released');
    await sweeper.terminate('next test');
  }, 300_000);

  it("frees the readers an earlier run of a re-run scan holds, and leaves a reset run's own tasks alone", async () => {
    // A worker and sweeper of their own (the readers are free again after the first test).
    const rerunRig = await createScanRig(temporal.client);
    const rerunWorker = await startWorker({
      rig: rerunRig,
      nativeConnection: temporal.nativeConnection,
      namespace: testServices().namespace,
      workflowBundle: await bundleWorkflows(),
      activities: realActivities(ds, rerunRig.store),
    });
    let handle: WorkflowHandle | undefined;
    try {
      const input = await rerunRig.stage(dicomVariant(nih, tag, ++n), { policy: DEFAULT_POLICIES['independent-3'] });
      const first = await startScan(temporal.client, rerunRig.taskQueue, input);
      await reading(first);
      // The status query answers from the workflow's memory, which can be a write ahead of the projection.
      const firstTasks: { id: string; reader_id: string }[] = await eventually(async () => {
        const r: { id: string; reader_id: string }[] = await ds.query(`SELECT id, reader_id FROM tasks WHERE scan_id = $1 AND status = 'open' ORDER BY id`, [
          input.scanId,
        ]);
        return r.length === 3 ? r : undefined;
      }, 30_000, "the first run's open tasks");
      expect(firstTasks).toHaveLength(3);
      handle = temporal.client.workflow.getHandle(await ensureCapacitySweeper(temporal.client, { taskQueue: rerunRig.taskQueue, intervalMs: INTERVAL_MS }));
      const h = handle;
      const roundsAfter = async (min: number): Promise<void> => {
        await eventually(async () => ((await h.query(sweepStatusQuery)).rounds >= min ? true : undefined), 30_000, `sweep round ${min}`);
      };

      // An operator resets the scan to its last workflow task (`temporal workflow reset --type LastWorkflowTask`): a new
      // run that replays the first one's history and carries on with the same three tasks. They are its own: kept.
      // (A wake-up first, so the last workflow task comes after the one that took the readers: a reset drops the
      // commands of the task it resets to, and a reset to before the reservation reserves anew.)
      await first.signal(readersAvailableSignal);
      await eventually(async () => {
        const events = (await first.fetchHistory()).events ?? [];
        const last = events[events.length - 1];
        return events.some((e) => e.eventType === proto.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) &&
          last?.eventType !== proto.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED &&
          last?.eventType !== proto.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
          ? true
          : undefined;
      }, 30_000, 'the wake-up handled');
      const history = await temporal.client.workflow.getHandle(input.scanId, first.firstExecutionRunId).fetchHistory();
      const completed = (history.events ?? []).filter((e) => e.eventType === proto.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
      const reset = await temporal.client.workflowService.resetWorkflowExecution({
        namespace: testServices().namespace,
        workflowExecution: { workflowId: input.scanId, runId: first.firstExecutionRunId },
        reason: 'reset by an operator (test)',
        workflowTaskFinishEventId: completed[completed.length - 1].eventId,
        requestId: randomUUID(),
      });
      expect(reset.runId).not.toBe(first.firstExecutionRunId);
      const latest = temporal.client.workflow.getHandle(input.scanId);
      await waitForStatus(latest, (x) => x.stage === 'reading' && openTasks(x).length === 3, 60_000);
      await roundsAfter((await h.query(sweepStatusQuery)).rounds + 3);
      expect(await taskStatuses(input.scanId)).toEqual(['open', 'open', 'open']);
      expect(openTasks(await status(latest)).map((t) => t.taskId).sort()).toEqual(firstTasks.map((t) => t.id));

      // Then the scan is terminated and started again under its scan id (one call: TERMINATE_EXISTING). The new run
      // knows nothing of the tasks before it, yet they hold every reader: it waits, and the sweep must free them.
      const rerun = await temporal.client.workflow.start('scanLifecycle', {
        taskQueue: rerunRig.taskQueue,
        workflowId: input.scanId,
        args: [input],
        workflowIdConflictPolicy: 'TERMINATE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        ...scanStartMetadata(input),
      });
      const rerunAt = Date.now();
      const served = await waitForStatus(rerun, (x) => x.stage === 'reading' && openTasks(x).length === 3, 60_000);
      console.log(`capacity sweep: a re-run scan got the readers its earlier run held ${Date.now() - rerunAt} ms after the restart (interval ${INTERVAL_MS} ms)`);
      const newIds = openTasks(served).map((t) => t.taskId);
      expect(newIds.filter((id) => firstTasks.some((t) => t.id === id))).toEqual([]);
      const rows: { id: string; status: string }[] = await ds.query(`SELECT id, status FROM tasks WHERE id = ANY($1::uuid[]) ORDER BY id`, [
        firstTasks.map((t) => t.id),
      ]);
      expect(rows.map((r) => r.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
      const events: { task_id: string; detail: Record<string, unknown> }[] = await ds.query(
        `SELECT task_id, detail FROM audit_events WHERE scan_id = $1 AND actor = 'system' AND action = 'task:cancelled' ORDER BY task_id`,
        [input.scanId],
      );
      expect(events.map((e) => e.task_id)).toEqual(firstTasks.map((t) => t.id));
      for (const e of events) expect(e.detail).toMatchObject({ foundBy: 'sweep', currentRunId: rerun.firstExecutionRunId });
      // The scan itself runs on: its row is the new run's, never cancelled by the sweep.
      expect(await stage(input.scanId)).toBe('reading');

      // The new run finishes normally; nothing is held afterwards.
      for (const t of openTasks(served)) {
        await rerun.executeUpdate(submitReadingUpdate, { args: [{ taskId: t.taskId, readerId: t.readerId, reading: simulatedReading(t.slot) }] });
      }
      expect(((await rerun.result()) as ScanLifecycleResult).stage).toBe('released');
      expect(await ds.query(`SELECT id FROM tasks WHERE status IN ('open', 'reserved')`)).toEqual([]);
      expect(await ds.query(`SELECT scan_id FROM reader_waitlist`)).toEqual([]);
    } finally {
      await handle?.terminate('test over').catch(() => undefined);
      await rerunWorker.stop();
      await fsp.rm(rerunRig.storeDir, { recursive: true, force: true });
    }
  }, 300_000);

  it('reports a sweep the database refused, goes on, and releases what a vanished workflow held once the database is back', async () => {
    // A worker whose activities reach Postgres through a proxy the test cuts, and its task queue's sweeper with a
    // short retry budget (a sweep fails after two attempts).
    const proxy = await postgresProxy();
    const proxied = createDataSource(proxy.url(new URL(dbUrl).pathname.slice(1)), { poolSize: 2 });
    await proxied.initialize();
    const outageRig = await createScanRig(temporal.client);
    const outageWorker = await startWorker({
      rig: outageRig,
      nativeConnection: temporal.nativeConnection,
      namespace: testServices().namespace,
      workflowBundle: await bundleWorkflows(),
      activities: realActivities(proxied, outageRig.store),
    });
    let handle: WorkflowHandle | undefined;
    try {
      const id = await ensureCapacitySweeper(temporal.client, {
        taskQueue: outageRig.taskQueue,
        intervalMs: 500,
        retry: { maximumAttempts: 2, maximumIntervalMs: 200 },
      });
      handle = temporal.client.workflow.getHandle(id);
      const h = handle;
      await eventually(async () => ((await h.query(sweepStatusQuery)).last?.failure === undefined && (await h.query(sweepStatusQuery)).rounds >= 1 ? true : undefined), 30_000, 'a first sweep');

      await proxy.cut();
      try {
        const failed = await eventually(async () => {
          const st = await h.query(sweepStatusQuery);
          return st.last?.failure ? st : undefined;
        }, 30_000, 'a failed sweep');
        expect(failed.last).toMatchObject({ checked: 0, released: [] });
        // Meanwhile a scan whose workflow Temporal no longer knows (deleted after the namespace's retention, or
        // never started) holds a reader: written straight to the database, behind the sweeper's back.
        await ds.query(`INSERT INTO scans (id, split, policy, stage) VALUES ('scan-vanished-sweep', 'train', 'independent-3', 'reading')`);
        await ds.query(
          `INSERT INTO tasks (id, scan_id, reader_id, role, slot, round, status, assigned_at, due_at)
           VALUES ($1, 'scan-vanished-sweep', 'swp01', 'reader', 0, 0, 'open', now(), now() + interval '1 hour')`,
          [randomUUID()],
        );
        await new Promise((r) => setTimeout(r, 1500));
        expect((await h.describe()).status.name).toBe('RUNNING');
      } finally {
        await proxy.restore();
      }
      await eventually(async () => ((await taskStatuses('scan-vanished-sweep'))[0] === 'cancelled' ? true : undefined), 30_000, 'the vanished scan released');
      // The rows are committed by the sweep's activity before the sweeper has its answer.
      const st = await eventually(async () => {
        const x = await h.query(sweepStatusQuery);
        return x.released >= 1 ? x : undefined;
      }, 30_000, 'the sweeper counting the release');
      expect(st.released).toBe(1);
      const [event] = await ds.query(`SELECT detail FROM audit_events WHERE scan_id = 'scan-vanished-sweep' AND action = 'stage:cancelled'`);
      expect(event.detail).toMatchObject({ from: 'reading', workflowStatus: 'NOT_FOUND', foundBy: 'sweep' });
      await eventually(async () => ((await h.query(sweepStatusQuery)).last?.failure === undefined ? true : undefined), 30_000, 'a clean sweep');
      await recordHistory(h, 'capacity-sweeper-outage');
    } finally {
      await handle?.terminate('test over').catch(() => undefined);
      await outageWorker.stop();
      await proxied.destroy().catch(() => undefined);
      await proxy.close();
      await fsp.rm(outageRig.storeDir, { recursive: true, force: true });
    }
  }, 300_000);
});
