/**
 * `resumeScan` on a scan stuck with several overdue tasks: one resume reassigns every overdue task at once
 * (fresh allowance for each), and its result says where the scan really is (needs-attention again when
 * nobody is eligible, not `reading`). Real dev server, real Postgres, real ingest on a chest radiograph.
 */
import type { WorkflowHandle } from '@temporalio/client';

import type { ReadingPolicy } from '../../src/domain';
import { DEFAULT_POLICIES, policyWithDeadlines } from '../../src/domain';
import { cancelScanUpdate, extendDeadlineUpdate, resumeScanUpdate } from '../../src/workflows/scan-lifecycle.messages';
import { eventually } from '../support/api-harness';
import {
  dicomVariant,
  NIH_CXR,
  openTasks,
  readFixture,
  realActivities,
  startScan,
  startWorkflowRig,
  status,
  uniqueTag,
  waitForStatus,
  withRosterFilter,
} from '../support/workflow-harness';
import type { ScanRig, WorkflowRig } from '../support/workflow-harness';
import { recordHistory } from '../support/workflow-histories';

/** A short deadline: long enough for the test to act on a loaded 2-core machine. */
const SHORT = 4000;

describe('resumeScan with several overdue tasks', () => {
  /** The whole roster. */
  let rig: WorkflowRig;
  /** Only five non-senior readers in the roster this worker sees: three read, two can replace. */
  let smallRig: ScanRig;
  let nih: Buffer;
  const tag = uniqueTag();
  let n = 0;
  const SMALL_ROSTER = new Set(['rad04', 'rad05', 'rad06', 'rad07', 'rad08']);
  /** Too few readers for independent-3 until the test adds one. */
  let tinyRig: ScanRig;
  const TINY_ROSTER = new Set(['rad09', 'rad10']);

  async function newScan(r: ScanRig, policy: ReadingPolicy): Promise<WorkflowHandle> {
    const input = await r.stage(dicomVariant(nih, tag, ++n), { policy, filename: `cxr-${n}.dcm` });
    return startScan(rig.client, r.taskQueue, input);
  }

  async function auditActions(scanId: string): Promise<string[]> {
    const rows: { action: string }[] = await rig.ds.query(`SELECT action FROM audit_events WHERE scan_id = $1 ORDER BY id`, [scanId]);
    return rows.map((r) => r.action);
  }

  beforeAll(async () => {
    nih = readFixture(NIH_CXR);
    rig = await startWorkflowRig();
    smallRig = await rig.addQueue((ds, store) => withRosterFilter(realActivities(ds, store), (id) => SMALL_ROSTER.has(id)));
    tinyRig = await rig.addQueue((ds, store) => withRosterFilter(realActivities(ds, store), (id) => TINY_ROSTER.has(id)));
  });

  afterAll(async () => {
    await rig?.close();
  });

  it('one resume reassigns every overdue task, including one that went overdue while the scan waited', async () => {
    // As reported: each slot used its reassignments, then the scan went to needs-attention (task-overdue).
    const policy = { ...policyWithDeadlines(DEFAULT_POLICIES['consensus-5'], { taskDeadlineMs: SHORT }), maxReassignmentsPerTask: 1 };
    const handle = await newScan(rig, policy);
    let s = await waitForStatus(handle, (x) => x.stage === 'reading' && openTasks(x).length === 3);
    // One slot's deadlines fall later: its last task passes its deadline while the scan already waits for a manager.
    const later = openTasks(s)[2];
    await handle.executeUpdate(extendDeadlineUpdate, {
      args: [{ taskId: later.taskId, dueAt: new Date(Date.parse(later.dueAt) + 1500).toISOString(), by: 'manager' }],
    });
    s = await waitForStatus(handle, (x) => x.stage === 'needs-attention', 30_000);
    expect(s.attentionReason).toBe('task-overdue');
    expect(s.tasks.filter((t) => t.status === 'expired')).toHaveLength(3);
    const stuck = openTasks(s);
    expect(stuck).toHaveLength(3);
    const lastDue = Math.max(...stuck.map((t) => Date.parse(t.dueAt)));
    while (Date.now() < lastDue + 500) await new Promise((r) => setTimeout(r, 100));

    const resumed = await handle.executeUpdate(resumeScanUpdate, { args: [{ by: 'manager' }] });
    // The result already shows where the scan stands: every overdue task replaced, none left behind.
    expect(resumed.stage).toBe('reading');
    expect(resumed.attentionReason).toBeUndefined();
    for (const t of stuck) expect(resumed.tasks.find((x) => x.taskId === t.taskId)?.status).toBe('expired');
    const fresh = openTasks(resumed);
    expect(fresh).toHaveLength(3);
    expect(fresh.map((t) => t.replaces).sort()).toEqual(stuck.map((t) => t.taskId).sort());
    expect(fresh.every((t) => !t.overdue)).toBe(true);
    expect(resumed.overdue).toBe(false);
    // …and the scan stays there: no second escalation for a task that was already overdue.
    await new Promise((r) => setTimeout(r, 500));
    expect((await status(handle)).stage).toBe('reading');
    const actions = await auditActions(s.scanId);
    const resumedAt = actions.lastIndexOf('stage:reading');
    expect(actions.slice(resumedAt)).not.toContain('stage:needs-attention');
    expect(actions.slice(resumedAt).filter((a) => a === 'task:expired')).toHaveLength(3);

    await handle.executeUpdate(cancelScanUpdate, { args: [{ by: 'manager', reason: 'test cleanup' }] });
    expect((await handle.result()).stage).toBe('cancelled');
    await recordHistory(handle, 'consensus-5-resume-all-overdue');
    await recordHistory(handle, 'consensus-5-resume-all-overdue-lean');
  });

  it('says so in its result when a resume must escalate again because nobody is eligible', async () => {
    const policy = { ...policyWithDeadlines(DEFAULT_POLICIES['independent-3'], { taskDeadlineMs: SHORT }), maxReassignmentsPerTask: 0 };
    const handle = await newScan(smallRig, policy);
    let s = await waitForStatus(handle, (x) => x.stage === 'reading' && openTasks(x).length === 3);
    const original = openTasks(s);
    s = await waitForStatus(handle, (x) => x.stage === 'needs-attention' && x.tasks.every((t) => t.status !== 'open' || t.overdue), 30_000);
    expect(s.attentionReason).toBe('task-overdue');

    // Two readers of the five are left: two tasks move, the third stays open and overdue.
    const resumed = await handle.executeUpdate(resumeScanUpdate, { args: [{ by: 'manager' }] });
    expect(resumed.stage).toBe('needs-attention');
    expect(resumed.attentionReason).toBe('no-eligible-readers');
    const open = openTasks(resumed);
    expect(open).toHaveLength(3);
    expect(open.filter((t) => t.replaces !== undefined)).toHaveLength(2);
    const stuck = open.filter((t) => t.replaces === undefined);
    expect(stuck).toHaveLength(1);
    expect(stuck[0]).toMatchObject({ overdue: true });
    expect(original.map((t) => t.taskId)).toContain(stuck[0].taskId);
    expect(new Set(resumed.tasks.map((t) => t.readerId))).toEqual(SMALL_ROSTER);
    // The projection follows the workflow's state.
    await eventually(async () => {
      const [row] = await rig.ds.query(`SELECT stage, attention_reason FROM scans WHERE id = $1`, [s.scanId]);
      expect(row).toEqual({ stage: 'needs-attention', attention_reason: 'no-eligible-readers' });
      return true;
    });

    await handle.executeUpdate(cancelScanUpdate, { args: [{ by: 'manager', reason: 'test cleanup' }] });
    expect((await handle.result()).stage).toBe('cancelled');
    await recordHistory(handle, 'independent-3-resume-no-eligible');
    await recordHistory(handle, 'independent-3-resume-no-eligible-lean');
  });

  it('answers a resume that retries assignment with the outcome of the retry', async () => {
    const handle = await newScan(tinyRig, DEFAULT_POLICIES['independent-3']);
    let s = await waitForStatus(handle, (x) => x.stage === 'needs-attention', 30_000);
    expect(s.attentionReason).toBe('no-eligible-readers');

    // Still two readers: the retry escalates again, and the result says so.
    const again = await handle.executeUpdate(resumeScanUpdate, { args: [{ by: 'manager' }] });
    expect(again).toMatchObject({ stage: 'needs-attention', attentionReason: 'no-eligible-readers' });
    expect(again.tasks).toHaveLength(0);

    // A third reader joins: the retry assigns, and the result shows the reading stage with its tasks.
    TINY_ROSTER.add('rad11');
    const resumed = await handle.executeUpdate(resumeScanUpdate, { args: [{ by: 'manager' }] });
    expect(resumed.stage).toBe('reading');
    expect(resumed.attentionReason).toBeUndefined();
    expect(openTasks(resumed).map((t) => t.readerId).sort()).toEqual(['rad09', 'rad10', 'rad11']);
    s = await status(handle);
    expect(s.stage).toBe('reading');

    await handle.executeUpdate(cancelScanUpdate, { args: [{ by: 'manager', reason: 'test cleanup' }] });
    expect((await handle.result()).stage).toBe('cancelled');
    await recordHistory(handle, 'independent-3-resume-assignment-retried');
    await recordHistory(handle, 'independent-3-resume-assignment-retried-lean');
  });
});
