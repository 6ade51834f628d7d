/**
 * Adaptive reading (`adaptive-3-5`): once the first readings are in, the scan measures its readers' agreement
 * (domain `decideExtension`) and, when a finding is disputed or the agreement is below the policy's bound, gets
 * `adaptive.extraReaders` more readers (never one who had the scan; the usual assignment rules, deadlines,
 * reassignment and escalation), then waits for them. At most one extension per scan. The decision is audited
 * (`reading:adaptive-decision`), shown by the `status` query (`extension`) and the `ReadingExtended` search attribute.
 * Scans of other policies pass through without a single command.
 *
 * May import: `@temporalio/workflow`, `src/domain`, `./patches`, `./search-attributes`, the assignment steps, the
 * deadline wait, and `import type` of the scan state.
 */
import { upsertSearchAttributes } from '@temporalio/workflow';

import type { ReaderReading, TrackRecord } from '../domain';
import { compareStrings, decideExtension } from '../domain';
import { scanActivities } from './activities';
import { ADAPTIVE_EXTENSION, ADAPTIVE_TRACK_RECORD, ASSIGNMENT_RESERVES_CAPACITY } from './patches';
import { createTasks, pickReaders } from './scan-assignment';
import { awaitTasks } from './scan-deadlines';
import type { ScanState } from './scan-state';
import { EXTENDED } from './search-attributes';

/**
 * Decides (once) whether an adaptive scan gets more readers and, if so, assigns and awaits them. True when the scan
 * goes on to fusion, false when it was cancelled. A no-op for non-adaptive policies.
 */
export async function extendIfDisagreeing(s: ScanState): Promise<boolean> {
  if (!s.policy.adaptive || s.extension) return true;
  if (!s.has(ADAPTIVE_EXTENSION)) return true;
  const readings: ReaderReading[] = s
    .submittedReadings()
    .map((t) => ({ readerId: t.readerId, reading: t.reading! }))
    .sort((a, b) => compareStrings(a.readerId, b.readerId));
  let record: TrackRecord | undefined;
  if (s.policy.adaptive.extendOnUnconfirmed !== undefined && s.has(ADAPTIVE_TRACK_RECORD)) {
    // Past its retries (a long database outage) the scan decides from its readings alone: an outage never fails a scan.
    s.projection.flushAttributes();
    record = await scanActivities.loadTrackRecord().catch(() => undefined);
  }
  const d = decideExtension(readings, s.policy, s.taxonomy, record)!;
  s.extension = {
    extended: d.extend,
    reason: d.reason,
    agreement: d.agreement,
    meanBoxF1: d.meanBoxF1,
    meanLabelAgreement: d.meanLabelAgreement,
    disputedFindings: d.disputedFindings,
    ...(record ? { unconfirmedFinding: d.unconfirmedFinding } : {}),
    bound: d.bound,
    extraReaders: d.extraReaders,
    readingsRequired: 0,
    measuredReaders: readings.map((r) => r.readerId),
    decidedAt: s.iso(s.now()),
  };
  s.extension.readingsRequired = s.readingsRequired();
  upsertSearchAttributes([{ key: EXTENDED, value: d.extend }]);
  const p = s.projection;
  await p.write('recordScan', { scan: p.scanRow(), audit: [p.audit('reading:adaptive-decision', 'workflow', { ...s.extension })] });
  if (!d.extend) return true;
  if (s.has(ASSIGNMENT_RESERVES_CAPACITY)) return extendReserving(s, d.extraReaders);

  for (;;) {
    const roster = await scanActivities.loadRoster();
    if (s.cancelled) return false;
    const r = pickReaders(s, roster, 'reader', d.extraReaders);
    if (r.ok) {
      await createTasks(
        s,
        'reader',
        0,
        r.readerIds.map((readerId, i) => ({ readerId, slot: s.policy.readers + i })),
      );
      s.attention.decided();
      break;
    }
    if (!(await s.attention.escalateAndWait('no-eligible-readers', { ...r, extension: true }))) return false;
  }
  return awaitTasks(s, () => s.readingsComplete());
}

/**
 * The extension's readers granted by the one owner of reader capacity (since `ASSIGNMENT_RESERVES_CAPACITY`), like the
 * first readers: never past a reader's cap; when nobody has capacity the scan waits in `waiting-for-readers` and comes
 * back to `reading` once granted; escalated only when no reader could ever take it.
 */
async function extendReserving(s: ScanState, extraReaders: number): Promise<boolean> {
  const slots = Array.from({ length: extraReaders }, (_, i) => ({ slot: s.policy.readers + i, round: 0 }));
  for (;;) {
    const g = await s.capacity.reserveOrWait('reader', slots);
    if (!g.ok && g.cancelled) return false;
    if (g.ok) {
      const p = s.projection;
      const events = g.tasks.map((t) => ({
        action: 'task:assigned',
        taskId: t.id,
        detail: { readerId: t.readerId, role: t.role, slot: t.slot, round: t.round, dueAt: s.iso(t.dueAt), extension: true },
      }));
      if (s.stage === 'reading') {
        await p.writeTasks(g.tasks, events.map((e) => p.audit(e.action, 'workflow', e.detail, e.taskId)));
      } else {
        await p.setStage('reading', {
          detail: { readers: g.tasks.map((t) => t.readerId), extension: true },
          tasks: g.tasks.map((t) => p.taskRow(t)),
          events,
        });
      }
      s.attention.decided();
      break;
    }
    if (!(await s.attention.escalateAndWait('no-eligible-readers', { ...g.result, extension: true }))) return false;
  }
  return awaitTasks(s, () => s.readingsComplete());
}
