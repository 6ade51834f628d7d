/**
 * Issue #12 under load and faults, on a database of its own (a roster of five readers with a cap of two open tasks
 * each, nobody else's scans):
 * - assignment waits for capacity (`waiting-for-readers`) instead of escalating, and the one owner of reader capacity
 *   never lets a reader exceed the cap, checked from the `tasks` table with the database's own clock;
 * - waiting scans are served by priority, then first come, first served, and woken by signals (no polling);
 * - a Postgres outage longer than the projection retry budget delays a scan, never fails it;
 * - a projection write Postgres refuses for its data holds the scan in `needs-attention` until a manager resumes it.
 * Real dev server, real Postgres, real ingest on a chest radiograph.
 */
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';

import type { Client, WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import type { DataSource } from 'typeorm';

import { createDataSource, dropDatabase, openDatabase } from '../../src/db/data-source';
import { repositories } from '../../src/db/repositories';
import type { Reading, ReadingPolicy } from '../../src/domain';
import { DEFAULT_POLICIES } from '../../src/domain';
import type { ScanLifecycleInput, ScanLifecycleResult } from '../../src/workflows/scan-lifecycle.messages';
import { resumeScanUpdate, reviewContextQuery, submitReadingUpdate } from '../../src/workflows/scan-lifecycle.messages';
import { MAX_LOCAL_WRITES_PER_TASK } from '../../src/workflows/scan-projection';
import { eventually } from '../support/api-harness';
import { postgresProxy } from '../support/postgres-proxy';
import type { PostgresProxy } from '../support/postgres-proxy';
import { connectTemporal, testDataConverter, testServices } from '../support/services';
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
  uniqueTag,
  waitForStatus,
} from '../support/workflow-harness';
import type { ScanRig } from '../support/workflow-harness';
import { recordHistory } from '../support/workflow-histories';

/** Local-activity markers recorded with each workflow task's completion (the commands after its `WorkflowTaskCompleted`). */
function localMarkersPerWorkflowTask(events: temporal.api.history.v1.IHistoryEvent[]): number[] {
  const out: number[] = [];
  for (const e of events) {
    if (e.workflowTaskCompletedEventAttributes) out.push(0);
    else if (e.markerRecordedEventAttributes?.markerName === 'core_local_activity' && out.length > 0) out[out.length - 1] += 1;
  }
  return out;
}

const CAP = 2;
/** Three readers and two seniors (consensus reviews), each with a cap of two open tasks. */
const ROSTER = [
  { id: 'cap01', senior: false },
  { id: 'cap02', senior: false },
  { id: 'cap03', senior: false },
  { id: 'cap04', senior: true },
  { id: 'cap05', senior: true },
];
const LOAD_SCANS = 105;

interface OpenTaskRow {
  id: string;
  scan_id: string;
  reader_id: string;
  role: 'reader' | 'reviewer';
  slot: number;
}

describe('reader capacity under load, and projection writes that never fail a scan', () => {
  let dbUrl: string;
  let ds: DataSource;
  let temporal: Awaited<ReturnType<typeof connectTemporal>>;
  let bundle: WorkflowBundleWithSourceMap;
  let rig: ScanRig;
  const workers: { stop: () => Promise<void> }[] = [];
  let nih: Buffer;
  const tag = uniqueTag();
  let n = 0;
  /** `reserveReaders` calls per scan (the worker's activities are wrapped to count them). */
  const reserveCalls = new Map<string, number>();
  /**
   * Holds one scan's next `reserveReaders` answer after the grant committed, as a worker that dies before reporting
   * it does: `reached` resolves with the granted task ids, the answer goes back to the workflow on `release()`.
   */
  let hold: { scanId: string; reached: (taskIds: string[]) => void; released: Promise<void> } | undefined;

  function counting(activities: object): object {
    const a = activities as { reserveReaders: (input: { scanId: string; tasks: { id: string }[] }) => Promise<{ granted: boolean }> };
    return {
      ...activities,
      async reserveReaders(input: { scanId: string; tasks: { id: string }[] }) {
        reserveCalls.set(input.scanId, (reserveCalls.get(input.scanId) ?? 0) + 1);
        const out = await a.reserveReaders(input);
        const h = hold;
        if (h && h.scanId === input.scanId && out.granted) {
          hold = undefined;
          h.reached(input.tasks.map((t) => t.id));
          await h.released;
        }
        return out;
      },
    };
  }

  async function newScan(r: ScanRig, policy: ReadingPolicy, extra: Partial<ScanLifecycleInput> = {}): Promise<WorkflowHandle> {
    const input = await r.stage(dicomVariant(nih, tag, ++n), { policy });
    return startScan(temporal.client, r.taskQueue, { ...input, ...extra });
  }

  /** Answers one open task like an instant reader (reviewers accept the fused proposal). False when not yet possible. */
  async function answer(client: Client, t: OpenTaskRow): Promise<boolean> {
    const h = client.workflow.getHandle(t.scan_id);
    try {
      if (t.role === 'reader') {
        await h.executeUpdate(submitReadingUpdate, { args: [{ taskId: t.id, readerId: t.reader_id, reading: simulatedReading(t.slot) }] });
      } else if (t.slot === 0) {
        const ctx = await h.query(reviewContextQuery, t.id);
        const reading: Reading = {
          boxes: ctx.fused.boxes.map(({ label, x_min, y_min, x_max, y_max }) => ({ label, x_min, y_min, x_max, y_max })),
          globalLabels: ctx.fused.globalLabels,
        };
        await h.executeUpdate(submitReadingUpdate, { args: [{ taskId: t.id, readerId: t.reader_id, reading, decision: 'submit' }] });
      } else {
        await h.executeUpdate(submitReadingUpdate, { args: [{ taskId: t.id, readerId: t.reader_id, decision: 'confirm' }] });
      }
      return true;
    } catch {
      // The workflow has not taken up the granted task yet (or it closed meanwhile): try again on the next pass.
      return false;
    }
  }

  /** Instant readers: answer every open task of `scanIds` (all scans when omitted) until `stop()` resolves. */
  async function readUntil(stop: Promise<unknown>, scanIds?: Set<string>): Promise<void> {
    let stopped = false;
    void stop.finally(() => (stopped = true)).catch(() => undefined);
    const answered = new Set<string>();
    while (!stopped) {
      const rows: OpenTaskRow[] = await ds.query(`SELECT id, scan_id, reader_id, role, slot FROM tasks WHERE status = 'open'`);
      const todo = rows.filter((r) => !answered.has(r.id) && (!scanIds || scanIds.has(r.scan_id)));
      await Promise.all(
        todo.map(async (r) => {
          if (await answer(temporal.client, r)) answered.add(r.id);
        }),
      );
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function answerScan(handle: WorkflowHandle): Promise<void> {
    // The workflow's open tasks, once its projection write has opened them in the inboxes.
    const open = openTasks(await status(handle), 'reader').length + openTasks(await status(handle), 'reviewer').length;
    const rows: OpenTaskRow[] = await eventually(async () => {
      const r: OpenTaskRow[] = await ds.query(`SELECT id, scan_id, reader_id, role, slot FROM tasks WHERE status = 'open' AND scan_id = $1`, [handle.workflowId]);
      return r.length >= open ? r : undefined;
    }, 30_000, `the open tasks of ${handle.workflowId}`);
    for (const r of rows) {
      const until = Date.now() + 30_000;
      while (!(await answer(temporal.client, r))) {
        if (Date.now() > until) throw new Error(`task ${r.id} could not be answered`);
        await new Promise((x) => setTimeout(x, 200));
      }
    }
  }

  /** The most tasks each reader ever held open at once, by the database's clock (a sweep over open/close times). */
  async function maxOpenPerReader(): Promise<Map<string, number>> {
    const rows: { reader_id: string; opened: Date; closed: Date | null }[] = await ds.query(
      `SELECT reader_id, db_opened_at AS opened, db_closed_at AS closed FROM tasks`,
    );
    const events = new Map<string, { at: number; delta: number }[]>();
    for (const r of rows) {
      const list = events.get(r.reader_id) ?? [];
      list.push({ at: new Date(r.opened).getTime(), delta: 1 });
      if (r.closed) list.push({ at: new Date(r.closed).getTime(), delta: -1 });
      events.set(r.reader_id, list);
    }
    const max = new Map<string, number>();
    for (const [reader, list] of events) {
      // At equal times a close comes first (the row closed before the other opened: both are microsecond clocks).
      list.sort((a, b) => a.at - b.at || a.delta - b.delta);
      let open = 0;
      let most = 0;
      for (const e of list) {
        open += e.delta;
        most = Math.max(most, open);
      }
      max.set(reader, most);
    }
    return max;
  }

  async function auditActions(scanId: string): Promise<string[]> {
    const rows: { action: string }[] = await ds.query(`SELECT action FROM audit_events WHERE scan_id = $1 ORDER BY id`, [scanId]);
    return rows.map((r) => r.action);
  }

  beforeAll(async () => {
    const url = new URL(testServices().databaseUrl);
    url.pathname = `/readflow_capacity_${randomUUID().slice(0, 8)}`;
    dbUrl = url.toString();
    ds = await openDatabase(dbUrl, { poolSize: 8 });
    for (const r of ROSTER) {
      await ds.query(`INSERT INTO readers (id, display_name, role, senior, active, open_task_cap) VALUES ($1, $1, 'radiologist', $2, true, $3)`, [
        r.id,
        r.senior,
        CAP,
      ]);
    }
    // The database's clock of when each task opened and closed (this database only): the cap check's evidence.
    await ds.query(`ALTER TABLE tasks ADD COLUMN db_opened_at timestamptz NOT NULL DEFAULT clock_timestamp(), ADD COLUMN db_closed_at timestamptz`);
    await ds.query(`
      CREATE FUNCTION test_task_closed_at() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF OLD.status IN ('open', 'reserved') AND NEW.status NOT IN ('open', 'reserved') THEN NEW.db_closed_at := clock_timestamp(); END IF;
        RETURN NEW;
      END $$`);
    await ds.query(`CREATE TRIGGER tr_test_task_closed_at BEFORE UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION test_task_closed_at()`);
    temporal = await connectTemporal();
    nih = readFixture(NIH_CXR);
    bundle = await bundleWorkflows();
    rig = await createScanRig(temporal.client);
    workers.push(
      await startWorker({
        rig,
        nativeConnection: temporal.nativeConnection,
        namespace: testServices().namespace,
        workflowBundle: bundle,
        activities: counting(realActivities(ds, rig.store)),
      }),
    );
  });

  afterAll(async () => {
    for (const w of workers) await w.stop();
    await ds?.destroy();
    await temporal?.close();
    if (rig) await fsp.rm(rig.storeDir, { recursive: true, force: true });
    if (dbUrl) await dropDatabase(dbUrl);
  });

  it(`assigns ${LOAD_SCANS} concurrent scans as capacity frees, never past a reader's cap and never escalating for a full queue`, async () => {
    const policy = DEFAULT_POLICIES['independent-3'];
    const handles: WorkflowHandle[] = [];
    for (let i = 0; i < LOAD_SCANS; i++) handles.push(await newScan(rig, policy));
    const results = Promise.all(handles.map((h) => h.result() as Promise<ScanLifecycleResult>));
    await readUntil(results);
    const done = await results;
    expect(done.map((r) => r.stage)).toEqual(handles.map(() => 'released'));

    const max = await maxOpenPerReader();
    expect([...max.keys()].sort()).toEqual(ROSTER.map((r) => r.id));
    for (const [, most] of max) expect(most).toBeLessThanOrEqual(CAP);
    // The cap was reached (the test loads the readers), and most scans had to wait for readers.
    expect(Math.max(...max.values())).toBe(CAP);
    const [{ waited }] = await ds.query(`SELECT count(DISTINCT scan_id)::int AS waited FROM audit_events WHERE action = 'stage:waiting-for-readers'`);
    expect(waited).toBeGreaterThan(LOAD_SCANS / 2);
    const [{ escalated }] = await ds.query(`SELECT count(*)::int AS escalated FROM audit_events WHERE action = 'stage:needs-attention'`);
    expect(escalated).toBe(0);
    const [{ tasks, open }] = await ds.query(`SELECT count(*)::int AS tasks, count(*) FILTER (WHERE status = 'open')::int AS open FROM tasks`);
    expect({ tasks, open }).toEqual({ tasks: LOAD_SCANS * 3, open: 0 });
    expect(await ds.query(`SELECT scan_id FROM reader_waitlist`)).toEqual([]);
    // Woken by signals, not polling: a handful of reservations per scan, whatever the time it waited.
    const calls = handles.map((h) => reserveCalls.get(h.workflowId) ?? 0);
    const total = calls.reduce((a, b) => a + b, 0);
    console.log(`capacity test: ${waited}/${LOAD_SCANS} scans waited; reserveReaders calls: total ${total}, max per scan ${Math.max(...calls)}`);
    expect(total).toBeLessThan(LOAD_SCANS * 4);
  }, 900_000);

  it('serves waiting scans by priority, then first come, first served, waking only the scans the freed readers can serve', async () => {
    const policy = DEFAULT_POLICIES['independent-3'];
    // Three scans take 9 of the 10 slots; the next ones wait.
    const fill = [await newScan(rig, policy), await newScan(rig, policy), await newScan(rig, policy)];
    for (const f of fill) await waitForStatus(f, (x) => x.stage === 'reading' && openTasks(x).length === 3, 60_000);
    const a = await newScan(rig, policy);
    await waitForStatus(a, (x) => x.stage === 'waiting-for-readers', 60_000);
    const b = await newScan(rig, policy);
    await waitForStatus(b, (x) => x.stage === 'waiting-for-readers', 60_000);
    const c = await newScan(rig, policy, { priority: 5 });
    const waiting = await waitForStatus(c, (x) => x.stage === 'waiting-for-readers', 60_000);
    expect(waiting.waitingForReaders).toMatchObject({ role: 'reader', needed: 3 });
    // The projection follows the workflow's state.
    await eventually(async () => {
      const [row] = await ds.query(`SELECT stage FROM scans WHERE id = $1`, [c.workflowId]);
      expect(row.stage).toBe('waiting-for-readers');
      return true;
    });

    const stages = async (): Promise<string[]> => Promise.all([a, b, c].map(async (h) => (await status(h)).stage));
    const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 2500));
    // One scan's readers free up: the priority scan goes first, though it came last.
    await answerScan(fill[0]);
    await waitForStatus(c, (x) => x.stage === 'reading', 60_000);
    await settle();
    expect(await stages()).toEqual(['waiting-for-readers', 'waiting-for-readers', 'reading']);
    // Then first come, first served.
    await answerScan(fill[1]);
    await waitForStatus(a, (x) => x.stage === 'reading', 60_000);
    await settle();
    expect(await stages()).toEqual(['reading', 'waiting-for-readers', 'reading']);
    await answerScan(fill[2]);
    await waitForStatus(b, (x) => x.stage === 'reading', 60_000);

    // A and B waited through releases that could not serve them, without asking again each time.
    expect(reserveCalls.get(a.workflowId)).toBeLessThanOrEqual(3);
    expect(reserveCalls.get(b.workflowId)).toBeLessThanOrEqual(4);
    const all = [...fill, a, b, c];
    const results = Promise.all(all.map((h) => h.result() as Promise<ScanLifecycleResult>));
    await readUntil(results, new Set(all.map((h) => h.workflowId)));
    expect((await results).map((r) => r.stage)).toEqual(all.map(() => 'released'));
    const actions = await auditActions(a.workflowId);
    expect(actions.filter((x) => x.startsWith('stage:'))).toEqual([
      'stage:ingesting',
      'stage:deidentifying',
      'stage:assigning',
      'stage:waiting-for-readers',
      'stage:reading',
      'stage:fusing',
      'stage:released',
    ]);
    await recordHistory(a, 'independent-3-waited-for-readers');
    await recordHistory(a, 'independent-3-waited-for-readers-merged-steps');
    await recordHistory(a, 'independent-3-waited-for-readers-lean');
    await recordHistory(a, 'independent-3-waited-for-readers-batched');
  }, 600_000);

  it('serves the next scans when a waiting scan is terminated from outside (its queue entry does not hold capacity)', async () => {
    const policy = DEFAULT_POLICIES['independent-3'];
    const fill = [await newScan(rig, policy), await newScan(rig, policy), await newScan(rig, policy)];
    for (const f of fill) await waitForStatus(f, (x) => x.stage === 'reading' && openTasks(x).length === 3, 60_000);
    const dead = await newScan(rig, policy);
    await waitForStatus(dead, (x) => x.stage === 'waiting-for-readers', 60_000);
    const next = await newScan(rig, policy);
    await waitForStatus(next, (x) => x.stage === 'waiting-for-readers', 60_000);
    // An operator terminates the first waiting scan in the Temporal UI: its own code never runs again.
    await temporal.client.workflow.getHandle(dead.workflowId).terminate('terminated by an operator (test)');
    expect(await ds.query(`SELECT scan_id FROM reader_waitlist WHERE scan_id = $1`, [dead.workflowId])).toHaveLength(1);
    // One scan's readers free up: the dead scan would be first in the queue; the next one is served instead.
    await answerScan(fill[0]);
    await waitForStatus(next, (x) => x.stage === 'reading' && openTasks(x).length === 3, 90_000);
    expect(await ds.query(`SELECT scan_id FROM reader_waitlist WHERE scan_id = $1`, [dead.workflowId])).toEqual([]);
    const [row] = await ds.query(`SELECT stage FROM scans WHERE id = $1`, [dead.workflowId]);
    expect(row.stage).toBe('cancelled');
    const [event] = await ds.query(`SELECT actor, detail FROM audit_events WHERE scan_id = $1 AND action = 'stage:cancelled'`, [dead.workflowId]);
    expect(event).toMatchObject({ actor: 'system', detail: { from: 'waiting-for-readers', to: 'cancelled', workflowStatus: 'TERMINATED' } });
    const all = [...fill, next];
    const results = Promise.all(all.map((h) => h.result() as Promise<ScanLifecycleResult>));
    await readUntil(results, new Set(all.map((h) => h.workflowId)));
    expect((await results).map((r) => r.stage)).toEqual(all.map(() => 'released'));
    expect(await ds.query(`SELECT id FROM tasks WHERE status IN ('open', 'reserved')`)).toEqual([]);
    await recordHistory(next, 'independent-3-woken-past-terminated');
    await recordHistory(next, 'independent-3-woken-past-terminated-lean');
  }, 600_000);

  it('reviews a consensus scan with readers and reviewers granted by the capacity owner', async () => {
    const handle = await newScan(rig, DEFAULT_POLICIES['consensus-5']);
    const result = handle.result() as Promise<ScanLifecycleResult>;
    await readUntil(result, new Set([handle.workflowId]));
    const r = await result;
    expect(r.stage).toBe('released');
    const rows: { reader_id: string; role: string }[] = await ds.query(`SELECT reader_id, role FROM tasks WHERE scan_id = $1 ORDER BY assigned_at`, [
      handle.workflowId,
    ]);
    // Readers from the non-seniors, reviewers the two seniors.
    expect(rows.filter((x) => x.role === 'reader').map((x) => x.reader_id).sort()).toEqual(['cap01', 'cap02', 'cap03']);
    expect([...new Set(rows.filter((x) => x.role === 'reviewer').map((x) => x.reader_id))].sort()).toEqual(['cap04', 'cap05']);
    await recordHistory(handle, 'consensus-5-reserved-reviewers');
    await recordHistory(handle, 'consensus-5-reserved-reviewers-merged-steps');
    await recordHistory(handle, 'consensus-5-reserved-reviewers-lean');
    await recordHistory(handle, 'consensus-5-reserved-reviewers-batched');
  }, 300_000);

  it('keeps granted tasks out of inboxes until the scan has taken them up, while they count against the cap', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const reached = new Promise<string[]>((r) => {
      hold = { scanId: '', reached: r, released };
    });
    const input = await rig.stage(dicomVariant(nih, tag, ++n), { policy: DEFAULT_POLICIES['independent-3'] });
    (hold as unknown as { scanId: string }).scanId = input.scanId;
    const handle = await startScan(temporal.client, rig.taskQueue, input);
    try {
      const ids = await reached;
      // Committed by the capacity owner, not yet known to the workflow: a reader who submitted now would be told
      // the task does not exist. It is in no inbox, yet it holds the reader's capacity.
      const rows: { id: string; reader_id: string; status: string }[] = await ds.query(`SELECT id, reader_id, status FROM tasks WHERE id = ANY($1::uuid[])`, [ids]);
      expect(rows.map((r) => r.status)).toEqual(ids.map(() => 'reserved'));
      const tasksRepo = repositories(ds).tasks;
      for (const r of rows) {
        expect((await tasksRepo.inbox(r.reader_id, 'open', { limit: 100 })).map((t) => t.id)).not.toContain(r.id);
      }
      const roster = await repositories(ds).readers.roster();
      for (const r of rows) expect(roster.find((x) => x.readerId === r.reader_id)?.openTasks).toBeGreaterThanOrEqual(1);
    } finally {
      release();
    }
    // Once the workflow has them, they are open in the inboxes, and a submission is accepted.
    await waitForStatus(handle, (x) => x.stage === 'reading' && openTasks(x).length === 3, 60_000);
    const open: OpenTaskRow[] = await eventually(async () => {
      const r: OpenTaskRow[] = await ds.query(`SELECT id, scan_id, reader_id, role, slot FROM tasks WHERE scan_id = $1 AND status = 'open'`, [handle.workflowId]);
      expect(r).toHaveLength(3);
      return r;
    });
    for (const t of open) {
      expect((await repositories(ds).tasks.inbox(t.reader_id, 'open', { limit: 100 })).map((x) => x.id)).toContain(t.id);
    }
    await answerScan(handle);
    expect(((await handle.result()) as ScanLifecycleResult).stage).toBe('released');
  }, 300_000);

  it('holds a scan whose projection write Postgres refuses for its data in needs-attention, and a manager resumes it', async () => {
    const handle = await newScan(rig, DEFAULT_POLICIES['independent-3']);
    const scanId = handle.workflowId;
    await waitForStatus(handle, (x) => x.stage === 'reading' && openTasks(x).length === 3, 60_000);
    // Postgres refuses this scan's result row (as it would refuse data no validator caught).
    await ds.query(`ALTER TABLE scan_results ADD CONSTRAINT ck_test_refuse_one CHECK (scan_id <> '${scanId}') NOT VALID`);
    try {
      await answerScan(handle);
      const held = await waitForStatus(handle, (x) => x.stage === 'needs-attention', 60_000);
      expect(held.attentionReason).toBe('projection-refused');
      // The projection of the hold is written beside the blocked queue: it lands shortly after the workflow decided it.
      const row = await eventually(async () => {
        const [r] = await ds.query(`SELECT stage, attention_reason FROM scans WHERE id = $1`, [scanId]);
        return r?.stage === 'needs-attention' ? r : undefined;
      }, 30_000, 'the needs-attention row');
      expect(row).toEqual({ stage: 'needs-attention', attention_reason: 'projection-refused' });
      const [event] = await ds.query(`SELECT detail FROM audit_events WHERE scan_id = $1 AND action = 'stage:needs-attention'`, [scanId]);
      expect(event.detail).toMatchObject({ reason: 'projection-refused', activity: 'recordRelease', sqlState: '23514', constraint: 'ck_test_refuse_one' });
      expect(JSON.stringify(event.detail)).not.toContain('Cardiomegaly');
      // Still held a while later: not failed, not retried in a loop.
      await new Promise((r) => setTimeout(r, 1500));
      expect((await status(handle)).stage).toBe('needs-attention');
      const described = await handle.describe();
      expect(described.status.name).toBe('RUNNING');
    } finally {
      await ds.query(`ALTER TABLE scan_results DROP CONSTRAINT IF EXISTS ck_test_refuse_one`);
    }
    // The manager fixed the cause and resumes: the write goes through, the scan is released with nothing lost.
    const resumed = await handle.executeUpdate(resumeScanUpdate, { args: [{ by: 'manager' }] });
    expect(resumed.stage).toBe('released');
    const r = await handle.result();
    expect(r.stage).toBe('released');
    const [scan] = await ds.query(`SELECT stage, attention_reason FROM scans WHERE id = $1`, [scanId]);
    expect(scan).toEqual({ stage: 'released', attention_reason: null });
    const [{ results }] = await ds.query(`SELECT count(*)::int AS results FROM scan_results WHERE scan_id = $1`, [scanId]);
    expect(results).toBe(1);
    const actions = await auditActions(scanId);
    expect(actions.filter((x) => x === 'task:submitted')).toHaveLength(3);
    expect(actions.filter((x) => x === 'stage:released')).toHaveLength(1);
    expect(actions).toContain('projection:resumed');
    await recordHistory(handle, 'independent-3-projection-refused-resumed');
    await recordHistory(handle, 'independent-3-projection-refused-resumed-merged-steps');
    await recordHistory(handle, 'independent-3-projection-refused-resumed-lean');
    await recordHistory(handle, 'independent-3-projection-refused-resumed-batched');
  }, 300_000);

  describe('a Postgres outage longer than the projection retry budget', () => {
    let proxy: PostgresProxy;
    let proxied: DataSource;
    let outageRig: ScanRig;

    beforeAll(async () => {
      proxy = await postgresProxy();
      proxied = createDataSource(proxy.url(new URL(dbUrl).pathname.slice(1)), { poolSize: 2 });
      await proxied.initialize();
      outageRig = await createScanRig(temporal.client);
      workers.push(
        await startWorker({
          rig: outageRig,
          nativeConnection: temporal.nativeConnection,
          namespace: testServices().namespace,
          workflowBundle: bundle,
          activities: realActivities(proxied, outageRig.store),
        }),
      );
    });

    afterAll(async () => {
      await proxied?.destroy().catch(() => undefined);
      await proxy?.close();
      if (outageRig) await fsp.rm(outageRig.storeDir, { recursive: true, force: true });
    });

    it('delays the scan, shows the stalled write, and releases it with nothing lost once the database is back', async () => {
      const handle = await newScan(outageRig, DEFAULT_POLICIES['independent-3'], {
        projectionRetry: { maximumAttempts: 2, maximumIntervalMs: 200, pauseMs: 1000 },
      });
      const scanId = handle.workflowId;
      const s = await waitForStatus(handle, (x) => x.stage === 'reading' && openTasks(x).length === 3, 60_000);
      // The assignment is in Postgres: the outage hits the readers' submissions.
      for (;;) {
        const [row] = await ds.query(`SELECT stage FROM scans WHERE id = $1`, [scanId]);
        if (row?.stage === 'reading') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await proxy.cut();
      const cutAt = Date.now();
      let submissions: Promise<unknown>[] = [];
      try {
        submissions = openTasks(s).map((t) =>
          handle.executeUpdate(submitReadingUpdate, { args: [{ taskId: t.taskId, readerId: t.readerId, reading: simulatedReading(t.slot) }] }),
        );
        // The write outlives its 2 attempts, several times over: the scan shows it and keeps waiting.
        const stalled = await waitForStatus(handle, (x) => (x.projectionStalled?.pauses ?? 0) >= 3, 60_000);
        expect(stalled.projectionStalled).toMatchObject({ activity: 'recordReading' });
        // The workflow goes on in memory (the readings are in); Postgres will see each step, in order, once back.
        expect(['reading', 'fusing']).toContain(stalled.stage);
        while (Date.now() < cutAt + 6000) await new Promise((r) => setTimeout(r, 200));
        expect((await handle.describe()).status.name).toBe('RUNNING');
      } finally {
        await proxy.restore();
      }
      await Promise.all(submissions);
      const r = await handle.result();
      expect(r.stage).toBe('released');
      expect((await status(handle)).projectionStalled).toBeUndefined();
      const [{ readings }] = await ds.query(`SELECT count(*)::int AS readings FROM readings WHERE scan_id = $1`, [scanId]);
      expect(readings).toBe(3);
      const [scan] = await ds.query(`SELECT stage FROM scans WHERE id = $1`, [scanId]);
      expect(scan.stage).toBe('released');
      const actions = await auditActions(scanId);
      expect(actions.filter((x) => x === 'task:submitted')).toHaveLength(3);
      expect(actions.filter((x) => x === 'stage:released')).toHaveLength(1);
      await recordHistory(handle, 'independent-3-projection-outage');
      await recordHistory(handle, 'independent-3-projection-outage-merged-steps');
      await recordHistory(handle, 'independent-3-projection-outage-lean');
      await recordHistory(handle, 'independent-3-projection-outage-batched');
      await recordHistory(handle, 'independent-3-projection-outage-bounded');
      // No workflow task issued more local activities than the bound (BOUNDED_LOCAL_WRITES): their markers follow the
      // task's completion. Without the bound, the outage's local attempts pile up in one task past its heartbeat.
      const perTask = localMarkersPerWorkflowTask((await handle.fetchHistory()).events ?? []);
      expect(Math.max(...perTask)).toBeLessThanOrEqual(MAX_LOCAL_WRITES_PER_TASK);
      // And the whole history replays (what the status query above did on a closed workflow).
      await Worker.runReplayHistory({ workflowBundle: bundle, dataConverter: testDataConverter() }, await handle.fetchHistory());
    }, 300_000);
  });
});
