/**
 * scanLifecycle end to end on the real Temporal dev server and the real Postgres, with the real ingest
 * activities on real chest radiographs (NIH ChestX-ray14 DX, one distinct SOP Instance UID per scan).
 */
import * as path from 'node:path';

import type { WorkflowHandle } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';

import type { ReadingPolicy } from '../../src/domain';
import { DEFAULT_POLICIES, fuseReadings, policyWithDeadlines, VINDR_CXR_TAXONOMY } from '../../src/domain';
import {
  cancelScanUpdate,
  extendDeadlineUpdate,
  reassignTaskUpdate,
  resumeScanUpdate,
  reviewContextQuery,
  submitReadingUpdate,
} from '../../src/workflows/scan-lifecycle.messages';
import type { ScanLifecycleResult, ScanStatus } from '../../src/workflows/scan-lifecycle.messages';
import { OVERDUE, STAGE } from '../../src/workflows/search-attributes';
import { eventually } from '../support/api-harness';
import {
  dicomVariant,
  NIH_CXR,
  openTasks,
  readFixture,
  readScanToRelease,
  simulatedReading,
  startScan,
  startWorkflowRig,
  status,
  submitAllOpenReadings,
  uniqueTag,
  updateFailure,
  waitForStatus,
} from '../support/workflow-harness';
import type { WorkflowRig } from '../support/workflow-harness';
import { recordHistory } from '../support/workflow-histories';

/** A short deadline: long enough for the test to answer the other tasks on a loaded 2-core machine. */
const SHORT = 4000;

describe('scanLifecycle on the real dev server and Postgres', () => {
  let rig: WorkflowRig;
  let nih: Buffer;
  const tag = uniqueTag();
  let n = 0;

  /** Stages a new distinct scan and starts its workflow. */
  async function newScan(policy: ReadingPolicy, split: 'train' | 'test' = 'train'): Promise<WorkflowHandle> {
    const input = await rig.stage(dicomVariant(nih, tag, ++n), { policy, split, filename: `cxr-${n}.dcm` });
    return startScan(rig.client, rig.taskQueue, input);
  }

  function expectedFused(s: ScanStatus): ReturnType<typeof fuseReadings> {
    const submitted = s.tasks.filter((t) => t.role === 'reader' && t.status === 'submitted');
    const policy = DEFAULT_POLICIES[s.policy];
    return fuseReadings(
      submitted.map((t) => ({ readerId: t.readerId, reading: simulatedReading(t.slot) })),
      policy.fusion,
      { rows: 1024, columns: 1024 },
      VINDR_CXR_TAXONOMY,
    );
  }

  async function dbRows(scanId: string) {
    const [scan] = await rig.ds.query(`SELECT * FROM scans WHERE id = $1`, [scanId]);
    const tasks = await rig.ds.query(`SELECT * FROM tasks WHERE scan_id = $1 ORDER BY role, round, slot, assigned_at`, [scanId]);
    const readings = await rig.ds.query(`SELECT * FROM readings WHERE scan_id = $1`, [scanId]);
    const [result] = await rig.ds.query(`SELECT * FROM scan_results WHERE scan_id = $1`, [scanId]);
    const audit = await rig.ds.query(`SELECT * FROM audit_events WHERE scan_id = $1 ORDER BY id`, [scanId]);
    return { scan, tasks, readings, result, audit };
  }

  beforeAll(async () => {
    nih = readFixture(NIH_CXR);
    rig = await startWorkflowRig();
  });

  afterAll(async () => {
    await rig?.close();
  });

  it.each(['independent-3', 'independent-5', 'consensus-5'] as const)('%s: reads, fuses and releases, with the rows in Postgres', async (name) => {
    const policy = DEFAULT_POLICIES[name];
    const handle = await newScan(policy, name === 'consensus-5' ? 'test' : 'train');
    const result = await readScanToRelease(handle);
    const s = await status(handle);

    expect(result.stage).toBe('released');
    expect(s.stage).toBe('released');
    const readers = s.tasks.filter((t) => t.role === 'reader');
    expect(readers).toHaveLength(policy.readers);
    expect(new Set(readers.map((t) => t.readerId)).size).toBe(policy.readers);
    expect(result.fused).toEqual(expectedFused(s));
    // Fusion: the three/five Cardiomegaly boxes fuse into one, the lone nodule is dropped by the quorum.
    expect(result.fused!.boxes.map((b) => b.label)).toEqual(['Cardiomegaly']);
    expect(result.final!.boxes).toHaveLength(1);

    const rows = await dbRows(s.scanId);
    expect(rows.scan).toMatchObject({ stage: 'released', policy: name, rows: 1024, columns: 1024, modality: 'DX' });
    expect(rows.scan.image_id).toBe(result.imageId);
    expect(rows.scan.released_at).toBeInstanceOf(Date);
    expect(rows.scan.released_at.toISOString()).toBe(s.releasedAt);
    expect(rows.result.final_boxes).toEqual(result.final!.boxes);
    expect(rows.result.fused_global_labels).toEqual(result.fused!.globalLabels);
    // The inbox projection matches the workflow's truth, times included.
    expect(rows.tasks).toHaveLength(s.tasks.length);
    for (const t of s.tasks) {
      const row = rows.tasks.find((r: { id: string }) => r.id === t.taskId);
      expect(row).toMatchObject({ reader_id: t.readerId, role: t.role, slot: t.slot, round: t.round, status: 'submitted' });
      expect(row.assigned_at.toISOString()).toBe(t.assignedAt);
      expect(row.due_at.toISOString()).toBe(t.dueAt);
      expect(row.submitted_at.toISOString()).toBe(t.submittedAt);
    }
    expect(rows.readings).toHaveLength(policy.readers + policy.reviewers);
    const stages = rows.audit.filter((a: { action: string }) => a.action.startsWith('stage:')).map((a: { action: string }) => a.action.slice(6));
    expect(stages).toEqual(
      name === 'consensus-5'
        ? ['ingesting', 'deidentifying', 'assigning', 'reading', 'reviewing', 'fusing', 'released']
        : ['ingesting', 'deidentifying', 'assigning', 'reading', 'fusing', 'released'],
    );
    // The trail starts from nowhere, then each stage comes from the one before.
    const stageEvents = rows.audit.filter((a: { action: string }) => a.action.startsWith('stage:'));
    expect(stageEvents[0].detail).toMatchObject({ from: null, to: 'ingesting' });
    for (let i = 1; i < stageEvents.length; i++) expect(stageEvents[i].detail.from).toBe(stageEvents[i - 1].detail.to);
    // Search attributes are current.
    const desc = await handle.describe();
    expect(desc.typedSearchAttributes.get(STAGE)).toBe('released');
    expect(desc.typedSearchAttributes.get(OVERDUE)).toBe(false);

    if (name === 'consensus-5') {
      const reviewers = s.tasks.filter((t) => t.role === 'reviewer');
      expect(reviewers.map((t) => t.slot)).toEqual([0, 1]);
      // Seniors review, and never a scan they read.
      for (const r of reviewers) expect(['rad01', 'rad02', 'rad03']).toContain(r.readerId);
      for (const r of reviewers) expect(readers.map((t) => t.readerId)).not.toContain(r.readerId);
      expect(rows.readings.find((r: { task_id: string }) => r.task_id === reviewers[1].taskId).decision).toBe('confirm');
    }
    await recordHistory(handle, `${name}-happy`);
    // Since merged-projection-steps (one activity for back-to-back writes).
    await recordHistory(handle, `${name}-happy-merged-steps`);
    // Since lean-scan-history (local writes, coalesced search attributes, one deadline timer).
    await recordHistory(handle, `${name}-happy-lean`);
    // Since batched-scan-steps (one ingest activity, writes issued together go together).
    await recordHistory(handle, `${name}-happy-batched`);
  });

  it('blinds readers: status never carries readings, reviewContext is for reviewer tasks only', async () => {
    const handle = await newScan(DEFAULT_POLICIES['consensus-5'], 'test');
    let s = await waitForStatus(handle, (x) => x.stage === 'reading' && openTasks(x).length === 3);
    const [first] = openTasks(s);
    const ctxFailure = await handle.query(reviewContextQuery, first.taskId).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(ctxFailure?.message).toMatch(/no task/);
    await submitAllOpenReadings(handle, s);
    s = await waitForStatus(handle, (x) => openTasks(x, 'reviewer').length === 1);
    expect(JSON.stringify(s)).not.toContain('Cardiomegaly');
    const review = openTasks(s, 'reviewer')[0];
    const ctx = await handle.query(reviewContextQuery, review.taskId);
    expect(ctx.readings).toHaveLength(3);
    expect(ctx.fused.boxes.map((b) => b.label)).toEqual(['Cardiomegaly']);
    // A returned review starts a new round; the reason reaches the next round's reviewers.
    await handle.executeUpdate(submitReadingUpdate, {
      args: [{ taskId: review.taskId, readerId: review.readerId, reading: simulatedReading(0), decision: 'submit' }],
    });
    s = await waitForStatus(handle, (x) => openTasks(x, 'reviewer').some((t) => t.slot === 1));
    const second = openTasks(s, 'reviewer')[0];
    const missingReason = await updateFailure(
      handle.executeUpdate(submitReadingUpdate, { args: [{ taskId: second.taskId, readerId: second.readerId, decision: 'return' }] }),
    );
    expect(missingReason.type).toBe('InvalidSubmission');
    // The second reviewer confirms or returns; it sends no reading (nothing of it would be kept).
    const withBoxes = await updateFailure(
      handle.executeUpdate(submitReadingUpdate, {
        args: [{ taskId: second.taskId, readerId: second.readerId, decision: 'return', reason: 'box too wide', reading: { boxes: simulatedReading(1).boxes, globalLabels: [] } }],
      }),
    );
    expect(withBoxes.type).toBe('InvalidSubmission');
    expect(withBoxes.details?.[0]).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'boxes' })]));
    const withLabels = await updateFailure(
      handle.executeUpdate(submitReadingUpdate, {
        args: [{ taskId: second.taskId, readerId: second.readerId, decision: 'confirm', reading: { boxes: [], globalLabels: ['Pneumonia'] } }],
      }),
    );
    expect(withLabels.type).toBe('InvalidSubmission');
    expect(withLabels.details?.[0]).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'globalLabels' })]));
    const confirmWithReason = await updateFailure(
      handle.executeUpdate(submitReadingUpdate, { args: [{ taskId: second.taskId, readerId: second.readerId, decision: 'confirm', reason: 'fine' }] }),
    );
    expect(confirmWithReason.type).toBe('InvalidSubmission');
    await handle.executeUpdate(submitReadingUpdate, {
      args: [{ taskId: second.taskId, readerId: second.readerId, decision: 'return', reason: 'box too wide' }],
    });
    // An identical repeat is a duplicate; another verdict or reason is a conflict, and a reading is still refused.
    const repeat = await handle.executeUpdate(submitReadingUpdate, {
      args: [{ taskId: second.taskId, readerId: second.readerId, decision: 'return', reason: 'box too wide' }],
    });
    expect(repeat).toMatchObject({ duplicate: true });
    for (const other of [
      { decision: 'return' as const, reason: 'box too narrow' },
      { decision: 'confirm' as const },
    ]) {
      const f = await updateFailure(handle.executeUpdate(submitReadingUpdate, { args: [{ taskId: second.taskId, readerId: second.readerId, ...other }] }));
      expect(f.type).toBe('ConflictingSubmission');
    }
    const repeatWithBoxes = await updateFailure(
      handle.executeUpdate(submitReadingUpdate, {
        args: [{ taskId: second.taskId, readerId: second.readerId, decision: 'return', reason: 'box too wide', reading: simulatedReading(1) }],
      }),
    );
    expect(repeatWithBoxes.type).toBe('InvalidSubmission');
    // The reason is kept with the verdict, for the labels view.
    const [verdictRow] = await rig.ds.query(`SELECT decision, comment FROM readings WHERE task_id = $1`, [second.taskId]);
    expect(verdictRow).toEqual({ decision: 'return', comment: 'box too wide' });
    s = await waitForStatus(handle, (x) => x.reviewRound === 2 && openTasks(x, 'reviewer').length === 1);
    const round2 = openTasks(s, 'reviewer')[0];
    expect(round2).toMatchObject({ round: 2, slot: 0, readerId: review.readerId });
    expect((await handle.query(reviewContextQuery, round2.taskId)).returns).toEqual([
      { round: 1, readerId: second.readerId, reason: 'box too wide' },
    ]);
    await cancelAndWait(handle);
  });

  async function cancelAndWait(handle: WorkflowHandle): Promise<ScanLifecycleResult> {
    await handle.executeUpdate(cancelScanUpdate, { args: [{ by: 'manager', reason: 'test cleanup' }] });
    return handle.result();
  }

  it('rejects invalid, foreign, conflicting and late submissions; accepts an identical repeat idempotently', async () => {
    const policy = policyWithDeadlines(DEFAULT_POLICIES['independent-3'], { taskDeadlineMs: SHORT });
    const handle = await newScan(policy);
    let s = await waitForStatus(handle, (x) => x.stage === 'reading' && openTasks(x).length === 3);
    const [a, b, c] = openTasks(s);

    const invalid = await updateFailure(
      handle.executeUpdate(submitReadingUpdate, {
        args: [{ taskId: a.taskId, readerId: a.readerId, reading: { boxes: [{ label: 'Cardiomegaly', x_min: 10, y_min: 10, x_max: 5000, y_max: 20 }], globalLabels: [] } }],
      }),
    );
    expect(invalid.type).toBe('InvalidSubmission');
    expect(invalid.details?.[0]).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'boxes[0].x_max', code: 'out-of-image' })]));

    const foreign = await updateFailure(
      handle.executeUpdate(submitReadingUpdate, { args: [{ taskId: a.taskId, readerId: b.readerId, reading: simulatedReading(0) }] }),
    );
    expect(foreign.type).toBe('TaskNotFound');

    const first = await handle.executeUpdate(submitReadingUpdate, { args: [{ taskId: a.taskId, readerId: a.readerId, reading: simulatedReading(a.slot) }] });
    expect(first).toEqual({ status: 'accepted', duplicate: false, taskId: a.taskId });
    // Same content in another order: the same submission.
    const same = simulatedReading(a.slot);
    same.globalLabels.reverse();
    const again = await handle.executeUpdate(submitReadingUpdate, { args: [{ taskId: a.taskId, readerId: a.readerId, reading: same }] });
    expect(again).toEqual({ status: 'accepted', duplicate: true, taskId: a.taskId });
    const conflicting = await updateFailure(
      handle.executeUpdate(submitReadingUpdate, { args: [{ taskId: a.taskId, readerId: a.readerId, reading: { boxes: [], globalLabels: ['No finding'] } }] }),
    );
    expect(conflicting.type).toBe('ConflictingSubmission');

    // b answers; c never does: after the deadline c's task expires and goes to someone new.
    await handle.executeUpdate(submitReadingUpdate, { args: [{ taskId: b.taskId, readerId: b.readerId, reading: simulatedReading(b.slot) }] });
    s = await waitForStatus(handle, (x) => x.tasks.some((t) => t.taskId === c.taskId && t.status === 'expired'), 20_000);
    const replacement = openTasks(s)[0];
    expect(replacement).toMatchObject({ slot: c.slot, replaces: c.taskId });
    expect([a.readerId, b.readerId, c.readerId]).not.toContain(replacement.readerId);

    const late = await updateFailure(
      handle.executeUpdate(submitReadingUpdate, { args: [{ taskId: c.taskId, readerId: c.readerId, reading: simulatedReading(c.slot) }] }),
    );
    expect(late.type).toBe('TaskNotOpen');
    expect(late.message).toMatch(/expired.*deadline passed/);

    await handle.executeUpdate(submitReadingUpdate, {
      args: [{ taskId: replacement.taskId, readerId: replacement.readerId, reading: simulatedReading(replacement.slot) }],
    });
    const result = await handle.result();
    expect(result.stage).toBe('released');
    expect(result.readerIds).toEqual([a.readerId, b.readerId, replacement.readerId].sort());
    const rows = await dbRows(s.scanId);
    expect(rows.tasks.find((r: { id: string }) => r.id === c.taskId)).toMatchObject({ status: 'expired' });
    expect(rows.readings).toHaveLength(3);
    expect(rows.audit.filter((e: { action: string }) => e.action === 'task:expired')).toHaveLength(1);
    await recordHistory(handle, 'independent-3-deadline-reassigned');
    await recordHistory(handle, 'independent-3-deadline-reassigned-lean');
  });

  it('escalates a reader who never answers to needs-attention after the maximum, and resumeScan continues', async () => {
    const policy = { ...policyWithDeadlines(DEFAULT_POLICIES['independent-3'], { taskDeadlineMs: SHORT }), maxReassignmentsPerTask: 1 };
    const handle = await newScan(policy);
    let s = await waitForStatus(handle, (x) => x.stage === 'reading' && openTasks(x).length === 3);
    const [a, b, silent] = openTasks(s);
    for (const t of [a, b]) {
      await handle.executeUpdate(submitReadingUpdate, { args: [{ taskId: t.taskId, readerId: t.readerId, reading: simulatedReading(t.slot) }] });
    }
    s = await waitForStatus(handle, (x) => x.stage === 'needs-attention', 30_000);
    expect(s.attentionReason).toBe('task-overdue');
    expect(s.overdue).toBe(true);
    const stuck = openTasks(s)[0];
    expect(stuck).toMatchObject({ slot: silent.slot, overdue: true });
    expect(s.tasks.filter((t) => t.status === 'expired')).toHaveLength(1);
    const desc = await handle.describe();
    expect(desc.typedSearchAttributes.get(STAGE)).toBe('needs-attention');
    expect(desc.typedSearchAttributes.get(OVERDUE)).toBe(true);
    // Visibility is eventually consistent: the operator's filter finds the scan shortly.
    await expect(eventually(async () => {
      const found: string[] = [];
      for await (const w of rig.client.workflow.list({ query: `Stage = "needs-attention" AND Overdue = true AND WorkflowId = "${s.scanId}"` })) found.push(w.workflowId);
      return found.length === 1 ? true : undefined;
    })).resolves.toBe(true);
    // The projection follows the workflow's state (its write is the step's next activity).
    await eventually(async () => {
      expect((await dbRows(s.scanId)).scan).toMatchObject({ stage: 'needs-attention', attention_reason: 'task-overdue' });
      return true;
    });

    const noActor = await updateFailure(handle.executeUpdate(resumeScanUpdate, { args: [{ by: '' }] }));
    expect(noActor.type).toBe('InvalidState');
    const resumed = await handle.executeUpdate(resumeScanUpdate, { args: [{ by: 'manager' }] });
    expect(resumed.stage).toBe('reading');
    s = await waitForStatus(handle, (x) => openTasks(x).length === 1 && openTasks(x)[0].taskId !== stuck.taskId, 20_000);
    const fresh = openTasks(s)[0];
    expect(fresh).toMatchObject({ slot: silent.slot, replaces: stuck.taskId });
    await handle.executeUpdate(submitReadingUpdate, { args: [{ taskId: fresh.taskId, readerId: fresh.readerId, reading: simulatedReading(fresh.slot) }] });
    expect((await handle.result()).stage).toBe('released');
    const rows = await dbRows(s.scanId);
    expect(rows.scan.attention_reason).toBeNull();
    expect(rows.audit.map((e: { action: string }) => e.action)).toEqual(expect.arrayContaining(['stage:needs-attention', 'stage:reading', 'stage:released']));
    await recordHistory(handle, 'independent-3-needs-attention-resumed');
    await recordHistory(handle, 'independent-3-needs-attention-resumed-lean');
  });

  it('replaces a silent reviewer with the remaining senior, never with the other review slot', async () => {
    const policy = policyWithDeadlines(DEFAULT_POLICIES['consensus-5'], { reviewDeadlineMs: SHORT });
    const handle = await newScan(policy, 'test');
    let s = await waitForStatus(handle, (x) => x.stage === 'reading' && openTasks(x).length === 3);
    await submitAllOpenReadings(handle, s);
    s = await waitForStatus(handle, (x) => openTasks(x, 'reviewer').length === 1);
    const silent = openTasks(s, 'reviewer')[0];
    s = await waitForStatus(handle, (x) => x.tasks.some((t) => t.taskId === silent.taskId && t.status === 'expired'), 20_000);
    const replacement = openTasks(s, 'reviewer')[0];
    expect(replacement).toMatchObject({ slot: 0, round: 1, replaces: silent.taskId });
    const result = await readScanToRelease(handle);
    expect(result.stage).toBe('released');
    const reviewers = (await status(handle)).tasks.filter((t) => t.role === 'reviewer');
    expect(reviewers.map((t) => [t.slot, t.status])).toEqual([
      [0, 'expired'],
      [0, 'submitted'],
      [1, 'submitted'],
    ]);
    expect(new Set(reviewers.map((t) => t.readerId)).size).toBe(3);
    await recordHistory(handle, 'consensus-5-reviewer-replaced');
    await recordHistory(handle, 'consensus-5-reviewer-replaced-lean');
  });

  it('lets a manager reassign (to a named reader or the next eligible), extend a deadline, and cancel', async () => {
    const handle = await newScan(DEFAULT_POLICIES['independent-3']);
    let s = await waitForStatus(handle, (x) => x.stage === 'reading' && openTasks(x).length === 3);
    const [a, b] = openTasks(s);
    const involved = s.tasks.map((t) => t.readerId);
    const target = ['rad17', 'rad16', 'rad15', 'rad14', 'rad13'].find((r) => !involved.includes(r))!;

    const refused = await updateFailure(handle.executeUpdate(reassignTaskUpdate, { args: [{ taskId: a.taskId, toReaderId: b.readerId, by: 'manager' }] }));
    expect(refused.type).toBe('NoEligibleReader');
    const moved = await handle.executeUpdate(reassignTaskUpdate, { args: [{ taskId: a.taskId, toReaderId: target, by: 'manager' }] });
    expect(moved.readerId).toBe(target);
    const next = await handle.executeUpdate(reassignTaskUpdate, { args: [{ taskId: b.taskId, by: 'manager' }] });
    expect([...involved, target]).not.toContain(next.readerId);
    const stale = await updateFailure(
      handle.executeUpdate(submitReadingUpdate, { args: [{ taskId: a.taskId, readerId: a.readerId, reading: simulatedReading(a.slot) }] }),
    );
    expect(stale.type).toBe('TaskNotOpen');
    expect(stale.message).toMatch(/manager reassigned/);

    const past = await updateFailure(
      handle.executeUpdate(extendDeadlineUpdate, { args: [{ taskId: moved.newTaskId, dueAt: new Date(Date.now() - 1000).toISOString(), by: 'manager' }] }),
    );
    expect(past.type).toBe('InvalidDeadline');
    const dueAt = new Date(Date.now() + 10 * 86_400_000).toISOString();
    const extended = await handle.executeUpdate(extendDeadlineUpdate, { args: [{ taskId: moved.newTaskId, dueAt, by: 'manager' }] });
    expect(extended.dueAt).toBe(dueAt);

    s = await status(handle);
    await eventually(async () => {
      const rows = await dbRows(s.scanId);
      expect(rows.tasks.find((r: { id: string }) => r.id === a.taskId).status).toBe('reassigned');
      expect(rows.tasks.find((r: { id: string }) => r.id === moved.newTaskId).due_at.toISOString()).toBe(dueAt);
      return true;
    });

    const openBefore = openTasks(s).map((t) => t.taskId).sort();
    const cancelled = await handle.executeUpdate(cancelScanUpdate, { args: [{ by: 'manager', reason: 'test cleanup' }] });
    expect(cancelled).toMatchObject({ stage: 'cancelled', cancelReason: 'test cleanup' });
    const result = await handle.result();
    expect(result).toMatchObject({ stage: 'cancelled', cancelled: { by: 'manager', reason: 'test cleanup' } });
    expect(await status(handle)).toMatchObject({ stage: 'cancelled', cancelReason: 'test cleanup' });
    const after = await dbRows(s.scanId);
    expect(after.scan.stage).toBe('cancelled');
    expect(after.tasks.filter((r: { status: string }) => r.status === 'open')).toHaveLength(0);
    expect(after.tasks.filter((r: { status: string }) => r.status === 'cancelled').map((r: { id: string }) => r.id).sort()).toEqual(openBefore);
    // One task:cancelled event per task that was open, after the stage change, by the manager.
    const actions = after.audit.map((e: { action: string }) => e.action);
    const taskCancels = after.audit.filter((e: { action: string }) => e.action === 'task:cancelled');
    expect(taskCancels.map((e: { task_id: string }) => e.task_id).sort()).toEqual(openBefore);
    expect(taskCancels.every((e: { actor: string; detail: { reason?: string } }) => e.actor === 'manager' && e.detail.reason === 'test cleanup')).toBe(true);
    expect(actions.indexOf('task:cancelled')).toBeGreaterThan(actions.indexOf('stage:cancelled'));
    await recordHistory(handle, 'independent-3-manager-reassign-cancel-audited');
    await recordHistory(handle, 'independent-3-manager-reassign-cancel-lean');
  });

  it('never creates two scans for the same source file', async () => {
    const bytes = dicomVariant(nih, tag, ++n);
    const input = await rig.stage(bytes, { policy: DEFAULT_POLICIES['independent-3'] });
    const again = await rig.stage(Buffer.from(bytes), { policy: DEFAULT_POLICIES['independent-3'] });
    expect(again.scanId).toBe(input.scanId);
    const h1 = await startScan(rig.client, rig.taskQueue, input);
    const h2 = await startScan(rig.client, rig.taskQueue, again);
    expect(h2.firstExecutionRunId).toBe(h1.firstExecutionRunId);
    await readScanToRelease(h1);
    // Once closed, a new start is refused: the caller reads the existing scan instead.
    await expect(startScan(rig.client, rig.taskQueue, again)).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
    const [{ count }] = await rig.ds.query(`SELECT count(*)::int AS count FROM scans WHERE id = $1`, [input.scanId]);
    expect(count).toBe(1);
  });

  it('quarantines refused input with a reason, in the workflow result and in Postgres', async () => {
    const bytes = readFixture(path.resolve(NIH_CXR, '../../malformed/MR_truncated.dcm'));
    const input = await rig.stage(bytes, { policy: DEFAULT_POLICIES['independent-3'], filename: 'MR_truncated.dcm' });
    const handle = await startScan(rig.client, rig.taskQueue, input);
    const result = await handle.result();
    expect(result.stage).toBe('quarantined');
    expect(result.quarantine?.reason).toEqual(expect.any(String));
    const [scan] = await rig.ds.query(`SELECT stage, quarantine_reason FROM scans WHERE id = $1`, [input.scanId]);
    expect(scan).toEqual({ stage: 'quarantined', quarantine_reason: result.quarantine!.reason });
    const desc = await handle.describe();
    expect(desc.typedSearchAttributes.get(STAGE)).toBe('quarantined');
  });
});

