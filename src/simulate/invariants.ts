import { parse } from 'csv-parse/sync';

import { AGREEMENT_IOU, matchCount } from '../domain/agreement';
import { fusionSettingsFor } from '../domain/adaptive';
import { fuseReadings } from '../domain/fusion';
import { DEFAULT_POLICIES } from '../domain/policy';
import type { Box } from '../domain/reading';
import { VINDR_CXR_TAXONOMY } from '../domain/taxonomy';
import { must, withRetry } from './client';
import type { ScanRecord, Simulation } from './run';

export interface Check {
  name: string;
  ok: boolean;
  failures: string[];
}

/** What the end-of-run checks gathered per released scan (reused by the report). */
export interface ReleasedScan {
  record: ScanRecord;
  fusedBoxes: Box[];
  finalBoxes: Box[];
  agreement?: number;
  readers: string[];
}

const TERMINAL_TASK = new Set(['submitted', 'expired', 'reassigned', 'cancelled']);

function near(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));
}

function sameBoxes(a: readonly Box[], b: readonly Box[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => x.label === b[i].label && near(x.x_min, b[i].x_min) && near(x.y_min, b[i].y_min) && near(x.x_max, b[i].x_max) && near(x.y_max, b[i].y_max));
}

async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

/**
 * The end-of-run invariants, all through the public API except the status query (Temporal, read-only):
 * outcomes, one outcome per task, no reader twice on a scan, blinding, released labels = domain fusion of the
 * stored readings, projection = workflow status, exports list every released scan once.
 */
export async function checkInvariants(sim: Simulation): Promise<{ checks: Check[]; released: ReleasedScan[]; tasks: Record<string, number> }> {
  const { admin, stats } = sim;
  const check = (name: string): Check => ({ name, ok: true, failures: [] });
  const outcome = check('every scan released, deliberately escalated or quarantined');
  const oneOutcome = check('every task has exactly one outcome');
  const twice = check('no reader read a scan twice');
  const blinding = check('no reader saw another reading before release (through the API)');
  const fusion = check('released labels equal the domain fusion of the stored readings');
  const projection = check('the Postgres projection agrees with each workflow status query');
  const exportsOnce = check('the exports list every released scan once');
  const fail = (c: Check, msg: string): void => {
    c.ok = false;
    if (c.failures.length < 20) c.failures.push(msg);
  };
  const tasks: Record<string, number> = {};
  const released: ReleasedScan[] = [];
  const submittedByUs = new Map(sim.allSubmissions().map((s) => [s.taskId, s]));
  const temporal = await sim.temporal();
  try {
    await pool(sim.scans, 8, async (s) => {
      if (!s.scanId) return fail(outcome, `scan #${s.n} was never ingested`);
      const id = s.scanId;
      const d = await must('scan detail', () => admin.GET('/api/v1/scans/{scanId}', { params: { path: { scanId: id } } }), stats);
      const expected = s.expect === 'release' ? ['released'] : s.expect === 'quarantine' ? ['quarantined'] : ['cancelled', 'needs-attention'];
      if (!expected.includes(d.stage)) fail(outcome, `${id} (#${s.n}, expected ${s.expect}): ${d.stage}${d.attentionReason ? ` (${d.attentionReason})` : ''}${d.quarantineReason ? ` (${d.quarantineReason})` : ''}`);
      for (const t of d.tasks) {
        tasks[t.status] = (tasks[t.status] ?? 0) + 1;
        if (FINAL_STAGE.has(d.stage) && !TERMINAL_TASK.has(t.status)) fail(oneOutcome, `${id} task ${t.taskId}: ${t.status} on a ${d.stage} scan`);
        const ours = submittedByUs.get(t.taskId);
        if (ours && t.status !== 'submitted') fail(oneOutcome, `${id} task ${t.taskId}: accepted by the API (200) but ${t.status}`);
        if (ours && ours.readerId !== t.readerId) fail(oneOutcome, `${id} task ${t.taskId}: submitted by ${ours.readerId}, assigned to ${t.readerId}`);
      }
      const submittedReaders = d.tasks.filter((t) => t.status === 'submitted').map((t) => t.readerId);
      const assigned = d.tasks.map((t) => `${t.readerId}/${t.role}`);
      if (new Set(submittedReaders).size !== submittedReaders.length) fail(twice, `${id}: submitted by ${submittedReaders.join(', ')}`);
      if (new Set(assigned).size !== assigned.length) fail(twice, `${id}: assigned ${assigned.join(', ')}`);
      if (temporal) {
        try {
          const st = await temporal.client.workflow.getHandle(id).query<{ stage: string; tasks: { taskId: string; status: string }[] }>('status');
          if (st.stage !== d.stage) fail(projection, `${id}: projection ${d.stage}, workflow ${st.stage}`);
          const proj = new Map(d.tasks.map((t) => [t.taskId, t.status]));
          for (const t of st.tasks) if (proj.get(t.taskId) !== t.status) fail(projection, `${id} task ${t.taskId}: projection ${proj.get(t.taskId)}, workflow ${t.status}`);
        } catch (err) {
          fail(projection, `${id}: status query failed: ${String(err)}`);
        }
      }
      if (d.stage !== 'released') return;
      const labels = await must('labels', () => admin.GET('/api/v1/scans/{scanId}/labels', { params: { path: { scanId: id } } }), stats);
      const readings = labels.readings.filter((r) => r.role === 'reader');
      for (const r of labels.readings) {
        const t = d.tasks.find((x) => x.taskId === r.taskId);
        if (!t || t.status !== 'submitted') fail(oneOutcome, `${id}: a stored reading for task ${r.taskId} (${t?.status ?? 'unknown task'})`);
      }
      if (new Set(labels.readings.map((r) => r.taskId)).size !== labels.readings.length) fail(oneOutcome, `${id}: two stored readings for one task`);
      const rows = d.image.rows ?? 0;
      const columns = d.image.columns ?? 0;
      const fused = fuseReadings(
        readings.map((r) => ({ readerId: r.readerId, reading: { boxes: r.boxes, globalLabels: r.globalLabels } })).sort((a, b) => (a.readerId < b.readerId ? -1 : 1)),
        // An extended adaptive scan fuses its five readings with the extended quorum.
        fusionSettingsFor(DEFAULT_POLICIES[d.policy], readings.length > DEFAULT_POLICIES[d.policy].readers),
        { rows, columns },
        VINDR_CXR_TAXONOMY,
      );
      const served = labels.fused.boxes as unknown as Box[];
      if (!sameBoxes(fused.boxes, served) || fused.globalLabels.join('|') !== labels.fused.globalLabels.join('|')) {
        fail(fusion, `${id}: served ${served.length} boxes [${labels.fused.globalLabels.join(', ')}], domain fusion ${fused.boxes.length} [${fused.globalLabels.join(', ')}]`);
      }
      if (d.policy !== 'consensus-5' && !sameBoxes(labels.final.boxes, served)) fail(fusion, `${id}: final labels differ from the fused ones under ${d.policy}`);
      const overall = (labels.agreement as { overall?: number }).overall;
      released.push({ record: s, fusedBoxes: fused.boxes, finalBoxes: labels.final.boxes, agreement: overall, readers: readings.map((r) => r.readerId) });
    });
  } finally {
    await temporal?.close();
  }
  // Blinding, as the readers met it during the run, plus: a reader cannot read a scan's labels.
  for (const r of sim.readers) for (const v of r.counters.blindingViolations) fail(blinding, v);
  const someReader = sim.readers[0];
  const releasedId = released[0]?.record.scanId;
  if (someReader && releasedId) {
    const probe = await withRetry('labels as a reader', () => someReader.api.GET('/api/v1/scans/{scanId}/labels', { params: { path: { scanId: releasedId } } }), stats);
    if (probe.status !== 403) fail(blinding, `a radiologist's GET /scans/${releasedId}/labels answered ${probe.status}, not 403`);
  }
  // Exports: every released scan once in image_labels (final labels), per split.
  for (const split of ['train', 'test'] as const) {
    const res = await withRetry('export', () => admin.GET('/api/v1/exports/{kind}.csv', { params: { path: { kind: 'image_labels' }, query: { split, labels: 'final' } }, parseAs: 'text' }), stats);
    if (res.status !== 200) {
      fail(exportsOnce, `image_labels ${split}: HTTP ${res.status}`);
      continue;
    }
    const rows = parse(res.data as unknown as string, { columns: true, skip_empty_lines: true }) as { image_id: string }[];
    const count = new Map<string, number>();
    for (const row of rows) count.set(row.image_id, (count.get(row.image_id) ?? 0) + 1);
    for (const r of released) {
      if (r.record.split !== split) continue;
      const n = count.get(r.record.imageId ?? '') ?? 0;
      if (n !== 1) fail(exportsOnce, `${split}: ${r.record.scanId} (image ${r.record.imageId}) listed ${n} times`);
    }
    const ours = new Set(released.filter((r) => r.record.split === split).map((r) => r.record.imageId));
    const simImages = new Set(sim.scans.map((s) => s.imageId));
    for (const imageId of count.keys()) if (simImages.has(imageId) && !ours.has(imageId)) fail(exportsOnce, `${split}: ${imageId} exported but not released`);
  }
  return { checks: [outcome, oneOutcome, twice, blinding, fusion, projection, exportsOnce], released, tasks };
}

const FINAL_STAGE = new Set(['released', 'quarantined', 'cancelled']);

/** Per-label box F1 (IoU ≥ 0.4) of the released labels against the seeded truth, summed over scans. */
export function accuracy(released: readonly ReleasedScan[]): { overall: number; perLabel: Record<string, { f1: number; truth: number; found: number }> } {
  const acc = new Map<string, { tp: number; truth: number; found: number }>();
  for (const r of released) {
    const truth = r.record.truth?.boxes;
    if (!truth) continue;
    const labels = new Set([...truth.map((b) => b.label), ...r.finalBoxes.map((b) => b.label)]);
    for (const label of labels) {
      const t = truth.filter((b) => b.label === label);
      const f = r.finalBoxes.filter((b) => b.label === label);
      const a = acc.get(label) ?? { tp: 0, truth: 0, found: 0 };
      a.tp += matchCount(t, f, AGREEMENT_IOU);
      a.truth += t.length;
      a.found += f.length;
      acc.set(label, a);
    }
  }
  let tp = 0;
  let n = 0;
  const perLabel: Record<string, { f1: number; truth: number; found: number }> = {};
  for (const [label, a] of [...acc.entries()].sort()) {
    perLabel[label] = { f1: a.truth + a.found ? (2 * a.tp) / (a.truth + a.found) : 1, truth: a.truth, found: a.found };
    tp += a.tp;
    n += a.truth + a.found;
  }
  return { overall: n ? (2 * tp) / n : 1, perLabel };
}
