/**
 * `goldScan`: one hidden gold scan. It is ingested and de-identified like any scan (same activities, same
 * projection rows), then stays in `reading`, holding the reading tasks the gold scheduler asks it to give
 * (`assignGold`): one per reader, never the same reader twice, under the same deadlines, reassignment and
 * escalation as any scan's tasks (the scan workflow's own modules). It is never fused, exported or released:
 * it ends only when a manager retires it (`cancelScan`). Reader-facing, its tasks are indistinguishable from others.
 *
 * May import: `@temporalio/workflow`, the scan workflow's modules and the gold messages.
 */
import { allHandlersFinished, condition, patched, setHandler } from '@temporalio/workflow';

import { assignGoldSignal } from './gold.messages';
import { GOLD_RESERVES_CAPACITY } from './patches';
import { createTasks, pickReaders } from './scan-assignment';
import { scanActivities } from './activities';
import { awaitTasks } from './scan-deadlines';
import { installScanHandlers } from './scan-handlers';
import { runIngest } from './scan-ingest';
import type { ScanLifecycleInput, ScanLifecycleResult } from './scan-lifecycle.messages';
import { ScanState } from './scan-state';

/** Runs a gold scan until a manager retires it (`cancelScan`). */
export async function goldScan(input: ScanLifecycleInput): Promise<ScanLifecycleResult> {
  const s = new ScanState(input);
  installScanHandlers(s);
  const requests: string[] = [];
  setHandler(assignGoldSignal, ({ readerId }) => {
    if (typeof readerId === 'string' && !requests.includes(readerId)) requests.push(readerId);
    s.wake = true;
  });
  s.projection.initSearchAttributes();

  if (await runIngest(s)) {
    await s.projection.setStage('reading', { detail: { gold: true } });
    for (;;) {
      // Deadlines of the gold tasks are enforced while waiting for the next request; false: retired (cancelled).
      if (!(await awaitTasks(s, () => requests.length > 0 && !s.attention.waiting))) break;
      const readerId = requests.shift()!;
      await assignGold(s, readerId);
    }
  }
  await condition(allHandlersFinished);
  const r: ScanLifecycleResult = { scanId: s.scanId, stage: s.stage === 'quarantined' ? 'quarantined' : 'cancelled' };
  if (s.imageId) r.imageId = s.imageId;
  if (s.quarantine) r.quarantine = s.quarantine;
  if (s.cancelled) r.cancelled = s.cancelled;
  return r;
}

/**
 * One gold task for `readerId`, if the reader may still take it (never had this scan, active, under capacity). Since
 * `GOLD_RESERVES_CAPACITY` through the one owner of reader capacity (`reserveReaders`, this reader only, never queued):
 * a reader at the cap gets nothing now, and the scheduler asks again later.
 */
async function assignGold(s: ScanState, readerId: string): Promise<void> {
  await s.lock.run(async () => {
    if (patched(GOLD_RESERVES_CAPACITY)) {
      if (s.cancelled || s.terminal) return;
      const slot = new Set([...s.tasks.values()].map((t) => t.slot)).size;
      const out = await s.capacity.reserve('reader', [{ slot, round: 0 }], { preferredReaderId: readerId, queue: false });
      if (!out?.tasks || s.cancelled) return;
      const p = s.projection;
      // The granted task is `reserved` in Postgres; this write opens it (and audits it like any assignment).
      await p.writeTasks(
        out.tasks,
        out.tasks.map((t) => p.audit('task:assigned', 'workflow', { readerId: t.readerId, role: t.role, slot: t.slot, round: t.round, dueAt: s.iso(t.dueAt) }, t.id)),
      );
      return;
    }
    const roster = await scanActivities.loadRoster();
    if (s.cancelled || s.terminal) return;
    const r = pickReaders(s, roster, 'reader', 1, readerId);
    if (!r.ok) return;
    const slot = new Set([...s.tasks.values()].map((t) => t.slot)).size;
    await createTasks(s, 'reader', 0, [{ readerId, slot }]);
  });
}
