/**
 * Crash recovery: the worker runs in a child process and is killed with SIGKILL while scans are mid-reading: three
 * submissions are accepted into history and their projection writes are in progress — held on row locks the test
 * takes on their task rows, so the kill lands before they commit, which the test checks — and a new worker process takes
 * over; every scan completes exactly once, with the fused result the readings determine.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { WorkflowHandle } from '@temporalio/client';
import { WorkflowUpdateStage } from '@temporalio/client';

import type { PolicyName } from '../../src/domain';
import { DEFAULT_POLICIES, fuseReadings, VINDR_CXR_TAXONOMY } from '../../src/domain';
import type { ScanLifecycleResult } from '../../src/workflows/scan-lifecycle.messages';
import { submitReadingUpdate } from '../../src/workflows/scan-lifecycle.messages';
import { testServices } from '../support/services';
import {
  DEID_SECRET,
  dicomVariant,
  NIH_CXR,
  openTasks,
  readFixture,
  readScanToRelease,
  simulatedReading,
  spawnChildWorker,
  startScan,
  startWorkflowRig,
  status,
  uniqueTag,
  waitForStatus,
  writeBundle,
} from '../support/workflow-harness';
import type { ChildWorker, WorkflowRig } from '../support/workflow-harness';
import { recordHistory } from '../support/workflow-histories';

const POLICIES: PolicyName[] = ['independent-3', 'consensus-5', 'independent-5', 'independent-3', 'consensus-5', 'independent-5'];

describe('crash recovery', () => {
  let rig: WorkflowRig;
  let tmp: string;
  let bundlePath: string;
  const workers: ChildWorker[] = [];

  beforeAll(async () => {
    // No worker in this process: the test runs its workers in child processes it kills.
    rig = await startWorkflowRig({ activities: false });
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'readflow-crash-'));
    bundlePath = await writeBundle(rig.bundle, tmp);
  });

  afterAll(async () => {
    for (const w of workers) await w.kill('SIGKILL');
    await rig?.close();
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  });

  const spawnWorker = async (): Promise<ChildWorker> => {
    const s = testServices();
    const w = await spawnChildWorker({
      address: s.temporalAddress,
      namespace: s.namespace,
      taskQueue: rig.taskQueue,
      databaseUrl: s.databaseUrl,
      storeDir: rig.storeDir,
      deidSecret: DEID_SECRET,
      bundlePath,
    });
    workers.push(w);
    return w;
  };

  it('completes every scan exactly once after the worker process is SIGKILLed mid-reading', async () => {
    const first = await spawnWorker();
    const nih = readFixture(NIH_CXR);
    const tag = uniqueTag();
    const handles: WorkflowHandle[] = [];
    for (const [i, name] of POLICIES.entries()) {
      const input = await rig.stage(dicomVariant(nih, tag, i), { policy: DEFAULT_POLICIES[name], split: name === 'consensus-5' ? 'test' : 'train' });
      handles.push(await startScan(rig.client, rig.taskQueue, input));
    }
    // Every scan reaches reading; all but one reader of each answers.
    for (const h of handles) {
      const s = await waitForStatus(h, (x) => x.stage === 'reading' && openTasks(x).length > 0);
      for (const t of openTasks(s).slice(1)) {
        await h.executeUpdate(submitReadingUpdate, { args: [{ taskId: t.taskId, readerId: t.readerId, reading: simulatedReading(t.slot) }] });
      }
    }
    // The last readers of half the scans submit; the updates are accepted into history, then the worker dies while
    // their readings are being written: the test holds row locks on those task rows, so each projection write (one
    // transaction: scan, task, reading) waits on them, and the kill happens while all three wait.
    const inFlight = [];
    const inFlightTasks: string[] = [];
    const locks = rig.ds.createQueryRunner();
    await locks.connect();
    try {
      await locks.startTransaction();
      for (const h of handles.slice(0, 3)) inFlightTasks.push(openTasks(await status(h))[0].taskId);
      await locks.query(`SELECT id FROM tasks WHERE id = ANY($1) FOR UPDATE`, [inFlightTasks]);
      const [{ pid }] = await locks.query(`SELECT pg_backend_pid() AS pid`);
      // All three at once: a write that is a local activity (lean-scan-history) holds its workflow task open, and the
      // update is accepted into history when that task completes (past the local attempt, its regular activity waits on
      // the lock too); one after another, the first scans' retried writes would take the worker's few connections.
      const open: ReturnType<typeof openTasks> = [];
      for (const h of handles.slice(0, 3)) open.push(openTasks(await status(h))[0]);
      inFlight.push(
        ...(await Promise.all(
          handles.slice(0, 3).map((h, i) =>
            h.startUpdate(submitReadingUpdate, {
              args: [{ taskId: open[i].taskId, readerId: open[i].readerId, reading: simulatedReading(open[i].slot) }],
              waitForStage: WorkflowUpdateStage.ACCEPTED,
            }),
          ),
        )),
      );
      // The three writes are in progress (blocked by our locks) before the kill…
      const blocked = async (): Promise<number> =>
        (await locks.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, [pid]))[0].n;
      // (Generous wait: on a loaded machine the worker may take long to pick the three activity tasks up. Timed-out
      // attempts are retried and block too, hence at least three.)
      const until = Date.now() + 120_000;
      while ((await blocked()) < inFlight.length && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
      expect(await blocked()).toBeGreaterThanOrEqual(inFlight.length);
      await first.kill('SIGKILL');
      // …and none of them committed: the readings of the in-flight tasks are not in Postgres, the tasks still open.
      const written = await locks.query(`SELECT task_id FROM readings WHERE task_id = ANY($1)`, [inFlightTasks]);
      expect(written).toEqual([]);
      const stillOpen = await locks.query(`SELECT id FROM tasks WHERE id = ANY($1) AND status = 'open'`, [inFlightTasks]);
      expect(stillOpen).toHaveLength(inFlightTasks.length);
      // Releasing the locks lets the dead worker's statements finish; their transactions never get a COMMIT.
    } finally {
      if (locks.isTransactionActive) await locks.rollbackTransaction();
      await locks.release();
    }

    await spawnWorker();
    for (const u of inFlight) expect(await u.result()).toMatchObject({ status: 'accepted', duplicate: false });
    const results: ScanLifecycleResult[] = [];
    for (const h of handles) results.push(await readScanToRelease(h, 90_000));

    for (const [i, h] of handles.entries()) {
      const result = results[i];
      const policy = DEFAULT_POLICIES[POLICIES[i]];
      const s = await status(h);
      expect(result.stage).toBe('released');
      // The same fused result as a run without the crash: the fusion of the readings that were submitted.
      const readerTasks = s.tasks.filter((t) => t.role === 'reader');
      expect(readerTasks.every((t) => t.status === 'submitted')).toBe(true);
      const expected = fuseReadings(
        readerTasks.map((t) => ({ readerId: t.readerId, reading: simulatedReading(t.slot) })),
        policy.fusion,
        { rows: 1024, columns: 1024 },
        VINDR_CXR_TAXONOMY,
      );
      expect(result.fused).toEqual(expected);

      // Exactly once in Postgres: one task row per task, one reading per task, one result, one release.
      const tasks = await rig.ds.query(`SELECT id, status FROM tasks WHERE scan_id = $1`, [s.scanId]);
      expect(tasks).toHaveLength(policy.readers + policy.reviewers);
      expect(tasks.every((t: { status: string }) => t.status === 'submitted')).toBe(true);
      const [{ readings }] = await rig.ds.query(`SELECT count(*)::int AS readings FROM readings WHERE scan_id = $1`, [s.scanId]);
      expect(readings).toBe(policy.readers + policy.reviewers);
      const [result_] = await rig.ds.query(`SELECT final_boxes FROM scan_results WHERE scan_id = $1`, [s.scanId]);
      expect(result_.final_boxes).toEqual(result.final!.boxes);
      const stages = (await rig.ds.query(`SELECT action FROM audit_events WHERE scan_id = $1 AND action LIKE 'stage:%' ORDER BY id`, [s.scanId])).map(
        (r: { action: string }) => r.action,
      );
      expect(stages.filter((a: string) => a === 'stage:released')).toHaveLength(1);
      expect(new Set(stages).size).toBe(stages.length);
      // One run per scan: the workflow completed once.
      const history = await h.fetchHistory();
      expect(history.events?.filter((e) => e.workflowExecutionCompletedEventAttributes)).toHaveLength(1);
    }
    await recordHistory(handles[0], 'independent-3-worker-crash');
    await recordHistory(handles[1], 'consensus-5-worker-crash');
    await recordHistory(handles[0], 'independent-3-worker-crash-lean');
    await recordHistory(handles[1], 'consensus-5-worker-crash-lean');
    await recordHistory(handles[0], 'independent-3-worker-crash-batched');
    await recordHistory(handles[1], 'consensus-5-worker-crash-batched');
  }, 360_000);
});
