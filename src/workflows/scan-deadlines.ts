/**
 * Waiting for tasks under their deadlines (`reading`, each review slot): an open task past its deadline is marked
 * overdue and reassigned (expired → a new reader), up to the policy's `maxReassignmentsPerTask`; after that, or
 * when nobody is eligible, it stays open and overdue and the scan goes to `needs-attention`.
 *
 * May import: `@temporalio/workflow`, the assignment steps, and `import type` of the scan state.
 */
import { CancellationScope, condition, sleep } from '@temporalio/workflow';

import { replaceTask } from './scan-assignment';
import type { ScanState } from './scan-state';
import { deadlineSummary } from './scan-ui';

/**
 * Waits until `done()` while enforcing deadlines. While in `needs-attention` it waits for `resumeScan`; a late
 * submission on a still-open task completes the wait and the scan carries on by itself. False when cancelled.
 */
export async function awaitTasks(s: ScanState, done: () => boolean): Promise<boolean> {
  for (;;) {
    if (s.cancelled) return false;
    // Replacements waiting for a reader (only since ASSIGNMENT_RESERVES_CAPACITY): back to work once none waits.
    if (s.stage === 'waiting-for-readers') await s.capacity.settle();
    if (done()) {
      // A lean run keeps the timer: it goes on to the next stage (a wait for another deadline cancels it), and a
      // timer still pending when the run ends goes with it, with no event of its own.
      if (s.attention.waiting) await s.attention.resolved();
      return true;
    }
    if (s.attention.waiting) {
      dropDeadlineTimer(s);
      await s.attention.waitWhileEscalated(done);
      continue;
    }
    const awaiting = s.capacity.awaiting().length > 0;
    if (awaiting && (s.capacity.takeWake() || s.now() >= (s.capacity.retryAt ?? 0))) {
      await handleDeadlines(s);
      continue;
    }
    s.wake = false;
    let next = s.nextDeadline();
    if (awaiting && s.capacity.retryAt !== undefined) next = next === undefined ? s.capacity.retryAt : Math.min(next, s.capacity.retryAt);
    const wake = (): boolean => s.wake || s.cancelled !== undefined || done();
    if (next === undefined) {
      dropDeadlineTimer(s);
      s.projection.flushAttributes();
      await condition(wake);
      continue;
    }
    const wait = next - s.now();
    if (s.lean) {
      if (wait > 0 && (await untilDeadline(s, next, wake))) continue;
    } else if (wait > 0 && (await condition(wake, wait, { summary: deadlineSummary(s, next) }))) continue;
    await handleDeadlines(s);
  }
}

/** The deadline timer of a lean run: kept while the earliest deadline stays the same. */
interface DeadlineTimer {
  at: number;
  fired: boolean;
  scope: CancellationScope;
}
const deadlineTimers = new WeakMap<ScanState, DeadlineTimer>();

/**
 * Lean runs (`LEAN_SCAN_HISTORY`): waits until `wake()` (true) or the deadline `at` (false), like `condition(wake,
 * at - now)`, but keeps the timer across wake-ups while the earliest deadline is still `at` (a submission no longer
 * cancels and restarts it); a timer for another deadline is cancelled. Other runs never call it.
 */
async function untilDeadline(s: ScanState, at: number, wake: () => boolean): Promise<boolean> {
  let timer = deadlineTimers.get(s);
  if (timer && (timer.at !== at || timer.fired)) {
    if (!timer.fired) timer.scope.cancel();
    timer = undefined;
  }
  if (!timer) {
    const t: DeadlineTimer = { at, fired: false, scope: new CancellationScope() };
    const summary = deadlineSummary(s, at);
    t.scope
      .run(() => sleep(at - s.now(), { summary }))
      .then(
        () => {
          t.fired = true;
        },
        () => undefined, // cancelled: another deadline, or none any more
      );
    deadlineTimers.set(s, t);
    timer = t;
  }
  const current = timer;
  s.projection.flushAttributes();
  await condition(() => wake() || current.fired);
  if (current.fired) {
    deadlineTimers.delete(s);
    return false;
  }
  return true;
}

/** Lean runs: cancels the deadline timer kept by {@link untilDeadline} (the wait is over). */
function dropDeadlineTimer(s: ScanState): void {
  const timer = deadlineTimers.get(s);
  if (!timer) return;
  deadlineTimers.delete(s);
  if (!timer.fired) timer.scope.cancel();
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
      if (!out.ok && !out.notOpen && !out.waiting) {
        t.escalated = true;
        await s.attention.escalate('no-eligible-readers', { taskId: t.id, ...out.result });
      }
    });
  }
}
