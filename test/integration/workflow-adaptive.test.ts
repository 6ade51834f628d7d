/**
 * `adaptive-3-5` on the real dev server and Postgres: an agreeing scan stays at three readings; a disagreeing one is
 * extended once to five readers (never one who read it) and fused with the 5-reader quorum; an extension whose extra
 * readers never answer is reassigned, then escalated to a manager.
 */
import { createHash, randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';

import type { WorkflowHandle } from '@temporalio/client';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { DataSource } from 'typeorm';

import { createScanActivities } from '../../src/activities/scan.activities';
import { TrackRecordWindow, trackRecordFromReadings } from '../../src/activities/track-record';
import { ReadingsRepository } from '../../src/db/repositories';
import type { Db } from '../../src/db/repositories';
import type { Reading, ReadingPolicy, TrackRecord } from '../../src/domain';
import { DEFAULT_POLICIES, fuseAdaptive, fuseReadings, policyWithDeadlines, VINDR_CXR_TAXONOMY } from '../../src/domain';
import { simulateCalibrationCampaign } from '../../src/simulate/calibration';
import type { SimulatedScan } from '../../src/simulate/calibration';
import { cancelScanUpdate, submitReadingUpdate } from '../../src/workflows/scan-lifecycle.messages';
import type { ScanLifecycleResult, TaskView } from '../../src/workflows/scan-lifecycle.messages';
import { EXTENDED } from '../../src/workflows/search-attributes';
import { eventually } from '../support/api-harness';
import { connectTemporal, openTestDataSource, testServices } from '../support/services';
import {
  bundleWorkflows,
  createScanRig,
  dicomVariant,
  NIH_CXR,
  openTasks,
  readFixture,
  realActivities,
  seedTestRoster,
  startScan,
  startWorker,
  status,
  uniqueTag,
  waitForStatus,
  withRosterFilter,
} from '../support/workflow-harness';
import type { ScanRig } from '../support/workflow-harness';
import { recordHistory } from '../support/workflow-histories';

const HEART = { x_min: 300, y_min: 500, x_max: 700, y_max: 800 };
/** Every reader sees the same enlarged heart: the readers agree. */
const agreeing = (slot: number): Reading => ({
  boxes: [{ label: 'Cardiomegaly', x_min: HEART.x_min + slot * 4, y_min: HEART.y_min, x_max: HEART.x_max + slot * 4, y_max: HEART.y_max }],
  globalLabels: ['Other diseases'],
});
/** The first readers put three different labels on the same place: a disputed finding, the fusion keeps none. */
const FIRST_LABELS = ['Cardiomegaly', 'Aortic enlargement', 'Lung Opacity'];
/** The extra readers side with the first reader: Cardiomegaly reaches the 5-reader quorum (3). */
function disputed(slot: number): Reading {
  const label = slot < 3 ? FIRST_LABELS[slot] : 'Cardiomegaly';
  return { boxes: [{ label, ...HEART }], globalLabels: ['Other diseases'] };
}

/** Away from the heart: where a lone reader draws the finding the others did not. */
const APEX = { x_min: 100, y_min: 100, x_max: 260, y_max: 280 };
/** Slot 0 alone draws `lone` at the apex; slots 1 and 2 agree on the heart (settled under quorum 2). */
function loneFinding(lone: string): (slot: number) => Reading {
  return (slot) => ({
    boxes: slot === 0 ? [{ label: lone, ...APEX }] : slot < 3 ? [{ label: 'Cardiomegaly', ...HEART }] : [{ label: lone, ...APEX }],
    globalLabels: ['Other diseases'],
  });
}

/** Readers of the seeded track record (their ids seed their simulated noise, see `simulateCalibrationCampaign`). */
const TRACK_READERS = Array.from({ length: 10 }, (_, i) => `track-reader-${i}`);

/**
 * Writes a simulated scan as released, through the scan workflow's own projection activities: the scan, its reader
 * tasks and readings, and its result (fused boxes), released at `at`. `readings: false` releases it without readings.
 */
async function releaseSimulated(ds: DataSource, id: string, sim: SimulatedScan, at: Date, opts: { readings?: boolean; fusedBoxes?: SimulatedScan['fused']['boxes'] } = {}): Promise<void> {
  const projection = createScanActivities({ dataSource: ds });
  const base = { id, split: 'train' as const, policy: 'independent-3' };
  const iso = at.toISOString();
  // A released scan has its image id (the exports of other files of the run list every released scan).
  const imageId = createHash('md5').update(id).digest('hex');
  await projection.recordScan({ scan: { ...base, imageId, stage: 'reading', image: { rows: sim.rows, columns: sim.columns, modality: 'DX', viewPosition: 'PA', transferSyntax: '1.2.840.10008.1.2.1' } } });
  if (opts.readings !== false) {
    const tasks = sim.readings.map((r, slot) => ({
      id: randomUUID(),
      scanId: id,
      readerId: r.readerId,
      role: 'reader' as const,
      slot,
      round: 0,
      status: 'open' as const,
      assignedAt: iso,
      dueAt: new Date(at.getTime() + 3_600_000).toISOString(),
    }));
    await projection.recordTasks({ tasks });
    for (const [slot, r] of sim.readings.entries()) {
      await projection.recordReading({
        tasks: [{ ...tasks[slot], status: 'submitted', submittedAt: iso, closedAt: iso }],
        reading: { taskId: tasks[slot].id, scanId: id, readerId: r.readerId, role: 'reader', boxes: r.reading.boxes, globalLabels: r.reading.globalLabels, submittedAt: iso },
      });
    }
  }
  const fusedBoxes = opts.fusedBoxes ?? sim.fused.boxes;
  await projection.recordRelease({
    scan: { ...base, stage: 'released', releasedAt: iso },
    result: {
      scanId: id,
      method: sim.fused.method,
      fusedBoxes,
      fusedGlobalLabels: sim.fused.globalLabels,
      finalBoxes: fusedBoxes.map(({ label, x_min, y_min, x_max, y_max }) => ({ label, x_min, y_min, x_max, y_max })),
      finalGlobalLabels: sim.fused.globalLabels,
      agreement: {},
      releasedAt: iso,
    },
  });
}

/**
 * A track record to decide from: 300 released training scans of the simulator's seeded truth, read by 3 of 10 readers
 * of this file (inactive: never assigned) with the simulator's noise (src/simulate/truth.ts), written by the scan
 * workflow's own projection activities, as the calibration test does. Common findings (the six VinDr-CXR labels the
 * simulator favours) are prevalent in it; false positives spread over every label.
 */
async function seedTrackRecord(ds: DataSource, tag: string): Promise<void> {
  const readerIds = TRACK_READERS;
  for (const id of readerIds) {
    await ds.query(`INSERT INTO readers (id, display_name, role, senior, active, open_task_cap) VALUES ($1, $1, 'radiologist', false, false, 50)`, [id]);
  }
  const { scans } = simulateCalibrationCampaign({ seed: 'track-record-6', scans: 300, readerIds, noiseLevel: 1 });
  const t0 = Date.parse('2026-10-01T08:00:00Z');
  const write = (sim: (typeof scans)[number]): Promise<void> =>
    releaseSimulated(ds, `scan-tr${tag}${String(sim.index).padStart(4, '0')}`, sim, new Date(t0 + sim.index * 60_000));
  for (let i = 0; i < scans.length; i += 8) await Promise.all(scans.slice(i, i + 8).map(write));
}

describe('adaptive-3-5 on the real dev server and Postgres', () => {
  let ds: DataSource;
  let temporal: Awaited<ReturnType<typeof connectTemporal>>;
  let bundle: WorkflowBundleWithSourceMap;
  let rig: ScanRig;
  let worker: { stop: () => Promise<void> };
  let nih: Buffer;
  const tag = uniqueTag();
  let n = 0;

  async function newScan(policy: ReadingPolicy): Promise<WorkflowHandle> {
    const input = await rig.stage(dicomVariant(nih, tag, ++n), { policy, split: 'train' });
    return startScan(temporal.client, rig.taskQueue, input);
  }

  async function submit(handle: WorkflowHandle, t: TaskView, reading: Reading): Promise<void> {
    await handle.executeUpdate(submitReadingUpdate, { args: [{ taskId: t.taskId, readerId: t.readerId, reading }] });
  }

  async function auditActions(scanId: string): Promise<{ action: string; detail: Record<string, unknown> }[]> {
    return ds.query(`SELECT action, detail FROM audit_events WHERE scan_id = $1 ORDER BY id`, [scanId]);
  }

  beforeAll(async () => {
    ds = await openTestDataSource();
    temporal = await connectTemporal();
    await seedTestRoster(ds);
    nih = readFixture(NIH_CXR);
    bundle = await bundleWorkflows();
    rig = await createScanRig(temporal.client);
    worker = await startWorker({
      rig,
      nativeConnection: temporal.nativeConnection,
      namespace: testServices().namespace,
      // The shared roster only (rad01…rad17): other files' readers (e.g. the gold tests' idle ones) are never assigned here.
      activities: withRosterFilter(realActivities(ds, rig.store), (id) => /^rad\d{2}$/.test(id)),
      workflowBundle: bundle,
    });
  });

  afterAll(async () => {
    await worker?.stop();
    await ds?.destroy();
    await temporal?.close();
    if (rig) await fsp.rm(rig.storeDir, { recursive: true, force: true });
  });

  it('an agreeing scan stays at three readings', async () => {
    const handle = await newScan(policyWithDeadlines(DEFAULT_POLICIES['adaptive-3-5'], { taskDeadlineMs: 120_000 }));
    const s = await waitForStatus(handle, (x) => x.stage === 'reading' && openTasks(x).length === 3);
    for (const t of openTasks(s)) await submit(handle, t, agreeing(t.slot));
    const result = await handle.result();
    expect(result.stage).toBe('released');
    expect(result.readerIds).toHaveLength(3);
    const after = await status(handle);
    expect(after.extension).toMatchObject({ extended: false, reason: 'agreed', extraReaders: 0, readingsRequired: 3, disputedFindings: 0 });
    expect(after.extension!.agreement).toBeGreaterThanOrEqual(DEFAULT_POLICIES['adaptive-3-5'].adaptive!.extendBelow);
    expect(after.tasks.filter((t) => t.role === 'reader')).toHaveLength(3);
    expect(after.readingsRequired).toBe(3);
    expect((await handle.describe()).typedSearchAttributes.get(EXTENDED)).toBe(false);
    const audit = await auditActions(s.scanId);
    expect(audit.filter((e) => e.action === 'reading:adaptive-decision')).toEqual([
      expect.objectContaining({ detail: expect.objectContaining({ extended: false, reason: 'agreed' }) }),
    ]);
    const [row] = await ds.query(`SELECT agreement FROM scan_results WHERE scan_id = $1`, [s.scanId]);
    expect(row.agreement.readers).toHaveLength(3);
    await recordHistory(handle, 'adaptive-3-5-agreed');
    await recordHistory(handle, 'adaptive-3-5-agreed-lean');
  });

  it('a disagreeing scan is extended once to five readers and fused with the 5-reader quorum', async () => {
    const policy = policyWithDeadlines(DEFAULT_POLICIES['adaptive-3-5'], { taskDeadlineMs: 120_000 });
    const handle = await newScan(policy);
    let s = await waitForStatus(handle, (x) => x.stage === 'reading' && openTasks(x).length === 3);
    const first = openTasks(s);
    for (const t of first) await submit(handle, t, disputed(t.slot));

    s = await waitForStatus(handle, (x) => openTasks(x).length === 2);
    expect(s.stage).toBe('reading');
    expect(s.extension).toMatchObject({ extended: true, reason: 'disputed-finding', extraReaders: 2, readingsRequired: 5 });
    expect(s.extension!.measuredReaders).toEqual(first.map((t) => t.readerId).sort());
    expect(s.readingsRequired).toBe(5);
    expect(s.readingsSubmitted).toBe(3);
    const extra = openTasks(s);
    expect(extra.map((t) => t.slot).sort()).toEqual([3, 4]);
    for (const t of extra) expect(first.map((f) => f.readerId)).not.toContain(t.readerId);
    expect((await handle.describe()).typedSearchAttributes.get(EXTENDED)).toBe(true);

    for (const t of extra) await submit(handle, t, disputed(t.slot));
    const result = (await handle.result()) as ScanLifecycleResult;
    expect(result.stage).toBe('released');
    expect(result.readerIds).toHaveLength(5);
    const readings = [...first, ...extra].map((t) => ({ readerId: t.readerId, reading: disputed(t.slot) }));
    const expected = fuseReadings(readings, { ...policy.fusion, quorum: 3 }, { rows: 1024, columns: 1024 }, VINDR_CXR_TAXONOMY);
    expect(result.fused).toEqual(expected);
    expect(result.fused!.boxes.map((b) => b.label)).toEqual(['Cardiomegaly']);
    expect(result.fused!.boxes[0].readerIds).toHaveLength(3);
    // With the 3-reader quorum (2) nothing of this finding would have survived: the extension changed the labels.
    expect(fuseReadings(readings.slice(0, 3), policy.fusion, { rows: 1024, columns: 1024 }, VINDR_CXR_TAXONOMY).boxes).toEqual([]);

    const after = await status(handle);
    expect(after.tasks.filter((t) => t.role === 'reader' && t.status === 'submitted')).toHaveLength(5);
    const rows = await ds.query(`SELECT reader_id FROM readings WHERE scan_id = $1 AND role = 'reader'`, [s.scanId]);
    expect(rows).toHaveLength(5);
    const audit = await auditActions(s.scanId);
    expect(audit.filter((e) => e.action === 'reading:adaptive-decision')).toHaveLength(1);
    expect(audit.find((e) => e.action === 'stage:fusing')?.detail).toMatchObject({ extended: true, readings: 5, quorum: 3 });
    expect(audit.filter((e) => e.action === 'task:assigned')).toHaveLength(5);
    await recordHistory(handle, 'adaptive-3-5-extended');
    await recordHistory(handle, 'adaptive-3-5-extended-lean');
  });

  it('an extension whose extra readers do not answer is reassigned, then escalated', async () => {
    const policy: ReadingPolicy = { ...policyWithDeadlines(DEFAULT_POLICIES['adaptive-3-5'], { taskDeadlineMs: 5000 }), maxReassignmentsPerTask: 1 };
    const handle = await newScan(policy);
    let s = await waitForStatus(handle, (x) => x.stage === 'reading' && openTasks(x).length === 3);
    const first = openTasks(s);
    for (const t of first) await submit(handle, t, disputed(t.slot));
    s = await waitForStatus(handle, (x) => x.extension?.extended === true && openTasks(x).length === 2);
    const extra = openTasks(s);

    // Nobody answers: each extra slot expires once and goes to a new reader, then stays overdue with a manager.
    s = await waitForStatus(handle, (x) => x.stage === 'needs-attention', 45_000);
    expect(s.attentionReason).toBe('task-overdue');
    const expired = s.tasks.filter((t) => t.status === 'expired');
    expect(expired.map((t) => t.taskId).sort()).toEqual(extra.map((t) => t.taskId).sort());
    const replacements = s.tasks.filter((t) => t.replaces !== undefined);
    expect(replacements.map((t) => t.slot).sort()).toEqual([3, 4]);
    const involved = [...first, ...extra].map((t) => t.readerId);
    for (const t of replacements) expect(involved).not.toContain(t.readerId);
    // While it waits for a manager, the extension's two slots stay open, the escalated one overdue.
    expect(openTasks(s).map((t) => t.slot).sort()).toEqual([3, 4]);
    expect(openTasks(s).some((t) => t.overdue)).toBe(true);
    expect(s.overdue).toBe(true);
    expect(s.readingsSubmitted).toBe(3);
    // The audit trail is the projection: it lands shortly after the workflow's own state (the status above).
    const audit = await eventually(async () => {
      const a = await auditActions(s.scanId);
      return a.some((e) => e.action === 'stage:needs-attention') ? a : undefined;
    }, 30_000, 'the needs-attention audit event');
    expect(audit.filter((e) => e.action === 'task:expired')).toHaveLength(2);
    expect(audit.some((e) => e.action === 'stage:needs-attention' && e.detail.reason === 'task-overdue')).toBe(true);

    await handle.executeUpdate(cancelScanUpdate, { args: [{ by: 'manager', reason: 'test done' }] });
    expect((await handle.result()).stage).toBe('cancelled');
    await recordHistory(handle, 'adaptive-3-5-extension-escalated');
    await recordHistory(handle, 'adaptive-3-5-extension-escalated-lean');
  });

  describe('deciding from the readers’ track record', () => {
    beforeAll(async () => {
      await seedTrackRecord(ds, tag);
    }, 120_000);

    /** The most and the least prevalent box label of the track record (the heart's label aside). */
    let common: string;
    let rare: string;

    it('loads the track record of the released scans (real activity, real Postgres)', async () => {
      const record = await createScanActivities({ dataSource: ds }).loadTrackRecord();
      const ours = Object.entries(record.readers).filter(([id]) => TRACK_READERS.includes(id));
      expect(ours).toHaveLength(10);
      expect(ours.reduce((n, [, t]) => n + t.readings, 0)).toBe(900);
      for (const [, t] of ours) {
        expect(t.confirmedBoxes).toBeLessThanOrEqual(t.boxes);
        expect(t.foundBoxes).toBeLessThanOrEqual(t.fusedBoxes);
      }
      expect(record.scans).toBeGreaterThanOrEqual(300);
      const byPrevalence = VINDR_CXR_TAXONOMY.localLabels
        .filter((l) => l !== 'Cardiomegaly')
        .sort((a, b) => (record.fusedBoxesByLabel[b] ?? 0) - (record.fusedBoxesByLabel[a] ?? 0));
      common = byPrevalence[0];
      rare = byPrevalence[byPrevalence.length - 1];
      expect(record.fusedBoxesByLabel[common]).toBeGreaterThan(5 * (record.fusedBoxesByLabel[rare] ?? 0));
    });

    it('a lone common finding is likely missed by the others: extended, and the extension keeps what the first readers settled', async () => {
      const policy = policyWithDeadlines(DEFAULT_POLICIES['adaptive-3-5'], { taskDeadlineMs: 120_000 });
      const reading = loneFinding(common);
      const handle = await newScan(policy);
      let s = await waitForStatus(handle, (x) => x.stage === 'reading' && openTasks(x).length === 3);
      const first = openTasks(s);
      for (const t of first) await submit(handle, t, reading(t.slot));
      s = await waitForStatus(handle, (x) => openTasks(x).length === 2);
      expect(s.extension).toMatchObject({ extended: true, reason: 'unconfirmed-finding', disputedFindings: 0, extraReaders: 2, readingsRequired: 5 });
      expect(s.extension!.unconfirmedFinding).toBeGreaterThanOrEqual(policy.adaptive!.extendOnUnconfirmed!);
      expect(s.extension!.agreement).toBeGreaterThanOrEqual(policy.adaptive!.extendBelow);
      const extra = openTasks(s);
      for (const t of extra) await submit(handle, t, reading(t.slot));
      const result = (await handle.result()) as ScanLifecycleResult;
      expect(result.readerIds).toHaveLength(5);
      const readings = [...first, ...extra].map((t) => ({ readerId: t.readerId, reading: reading(t.slot) }));
      const image = { rows: 1024, columns: 1024 };
      expect(result.fused).toEqual(fuseAdaptive(readings, policy, true, s.extension!.measuredReaders, image, VINDR_CXR_TAXONOMY));
      // The apex finding reached the 5-reader quorum; the heart, settled by two of the first three, stays.
      expect(result.fused!.boxes.map((b) => b.label)).toEqual(['Cardiomegaly', common].sort());
      expect(fuseReadings(readings, { ...policy.fusion, quorum: 3 }, image, VINDR_CXR_TAXONOMY).boxes.map((b) => b.label)).toEqual([common]);
      const audit = await auditActions(s.scanId);
      expect(audit.find((e) => e.action === 'reading:adaptive-decision')?.detail).toMatchObject({ reason: 'unconfirmed-finding', extended: true });
      await recordHistory(handle, 'adaptive-3-5-unconfirmed-extended');
      await recordHistory(handle, 'adaptive-3-5-unconfirmed-extended-lean');
    });

    it('a lone rare finding is likelier its reader’s false positive: not extended', async () => {
      const policy = policyWithDeadlines(DEFAULT_POLICIES['adaptive-3-5'], { taskDeadlineMs: 120_000 });
      const reading = loneFinding(rare);
      const handle = await newScan(policy);
      const s = await waitForStatus(handle, (x) => x.stage === 'reading' && openTasks(x).length === 3);
      for (const t of openTasks(s)) await submit(handle, t, reading(t.slot));
      const result = (await handle.result()) as ScanLifecycleResult;
      expect(result.readerIds).toHaveLength(3);
      const after = await status(handle);
      expect(after.extension).toMatchObject({ extended: false, reason: 'agreed', readingsRequired: 3 });
      expect(after.extension!.unconfirmedFinding).toBeGreaterThan(0);
      expect(after.extension!.unconfirmedFinding).toBeLessThan(policy.adaptive!.extendOnUnconfirmed!);
      expect(result.fused!.boxes.map((b) => b.label)).toEqual(['Cardiomegaly']);
      const audit = await auditActions(s.scanId);
      expect(audit.find((e) => e.action === 'reading:adaptive-decision')?.detail).toMatchObject({ reason: 'agreed', extended: false });
      await recordHistory(handle, 'adaptive-3-5-unconfirmed-not-extended');
    });

    it('the kept track record follows its window as scans are released, released again and leave it: always the record rebuilt from every reading', async () => {
      const size = 40;
      // Each comparison reads one snapshot (other files of the run release scans into the same database meanwhile).
      let snapshot: Db = ds;
      const kept = new TrackRecordWindow({ query: (q: string, p?: unknown[]) => snapshot.query(q, p) }, size);
      const both = (n = size): Promise<[TrackRecord, TrackRecord]> =>
        ds.transaction('REPEATABLE READ', async (em) => {
          snapshot = em;
          try {
            const rebuilt = trackRecordFromReadings(await new ReadingsRepository(em).forTrackRecord(n));
            return [n === size ? await kept.load() : await new TrackRecordWindow(em, n).load(), rebuilt];
          } finally {
            snapshot = ds;
          }
        });
      const [initial, initialRebuilt] = await both();
      expect(initial.scans).toBeGreaterThan(0);
      expect(initial).toEqual(initialRebuilt);
      expect(kept.scansKept).toBe(size);

      // Scans released since: they enter the window, as many leave it.
      const { scans } = simulateCalibrationCampaign({ seed: 'track-record-window', scans: 4, readerIds: TRACK_READERS, noiseLevel: 1 });
      const ids = scans.map((sim) => `scan-tw${tag}${sim.index}`);
      const now = Date.now();
      for (const [i, sim] of scans.slice(0, 3).entries()) await releaseSimulated(ds, ids[i], sim, new Date(now + i * 1000));
      const [entered, enteredRebuilt] = await both();
      expect(entered).toEqual(enteredRebuilt);
      expect(entered).not.toEqual(initial);

      // One of them released again, with one more fused box: summarised again, not kept as it was.
      const extra = { label: 'Cardiomegaly', ...HEART, score: 1, readerIds: [] };
      await releaseSimulated(ds, ids[1], scans[1], new Date(now + 10_000), { readings: false, fusedBoxes: [...scans[1].fused.boxes, extra] });
      const [again, againRebuilt] = await both();
      expect(again).toEqual(againRebuilt);
      expect(again).not.toEqual(entered);

      // A released scan without reader readings adds nothing, but still pushes the oldest scan out of the window.
      await releaseSimulated(ds, ids[3], scans[3], new Date(now + 20_000), { readings: false });
      const [empty, emptyRebuilt] = await both();
      expect(empty).toEqual(emptyRebuilt);
      expect(kept.scansKept).toBe(size);

      // Loads overlapping each other each answer the whole window.
      const [a, b] = await ds.transaction('REPEATABLE READ', async (em) => {
        snapshot = em;
        try {
          return await Promise.all([kept.load(), kept.load()]);
        } finally {
          snapshot = ds;
        }
      });
      expect(b).toEqual(a);
      const [after, afterRebuilt] = await both();
      expect(after).toEqual(afterRebuilt);
      // The activity's window (5,000 scans, all of this run's) too.
      const [full, fullRebuilt] = await both(5000);
      expect(full).toEqual(fullRebuilt);
    });
  });
});
