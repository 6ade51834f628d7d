/**
 * Waiting for tasks under their deadlines (`reading`, each review slot): an open task past its deadline is marked
 * overdue and reassigned (expired → a new reader), up to the policy's `maxReassignmentsPerTask`; after that, or
 * when nobody is eligible, it stays open and overdue and the scan goes to `needs-attention`.
 *
 * May import: `@temporalio/workflow`, the assignment steps, and `import type` of the scan state.
 */
import { condition } from '@temporalio/workflow';

import { replaceTask } from './scan-assignment';
import type { ScanState } from './scan-state';

/**
 * Waits until `done()` while enforcing deadlines. While in `needs-attention` it waits for `resumeScan`; a late
 * submission on a still-open task completes the wait and the scan carries on by itself. False when cancelled.
 */
export async function awaitTasks(s: ScanState, done: () => boolean): Promise<boolean> {
  for (;;) {
    if (s.cancelled) return false;
    if (done()) {
      if (s.attention.waiting) await s.attention.resolved();
      return true;
    }
    if (s.attention.waiting) {
      await s.attention.waitWhileEscalated(done);
      continue;
    }
    s.wake = false;
    const next = s.nextDeadline();
    const wake = (): boolean => s.wake || s.cancelled !== undefined || done();
    if (next === undefined) {
      await condition(wake);
      continue;
    }
    const wait = next - s.now();
    if (wait > 0 && (await condition(wake, wait))) continue;
    await handleDeadlines(s);
  }
}

async function handleDeadlines(s: ScanState): Promise<void> {
  const now = s.now();
  const due = s.openTasks().filter((t) => !t.escalated && t.dueAt <= now);
  for (const t of due) t.overdue = true;
  s.projection.syncSearchAttributes();
  for (const t of due) {
    await s.lock.run(async () => {
      if (t.status !== 'open' || t.escalated || t.dueAt > s.now() || s.cancelled) return;
      if (t.expiries >= s.policy.maxReassignmentsPerTask) {
        t.escalated = true;
        await s.attention.escalate('task-overdue', {
          taskId: t.id,
          readerId: t.readerId,
          reassignments: t.expiries,
          maxReassignmentsPerTask: s.policy.maxReassignmentsPerTask,
        });
        return;
      }
      const out = await replaceTask(s, t, { cause: 'expired', actor: 'workflow' });
      if (!out.ok && !out.notOpen) {
        t.escalated = true;
        await s.attention.escalate('no-eligible-readers', { taskId: t.id, ...out.result });
      }
    });
  }
}
