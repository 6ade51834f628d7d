/**
 * Assignment steps of the scan workflow: choosing readers/reviewers, the `assigning` phase, creating tasks, and
 * replacing the holder of a task (deadline missed, or a manager's call). Since `ASSIGNMENT_RESERVES_CAPACITY` readers
 * come from the one owner of reader capacity (`scan-capacity.ts`): a scan nobody has capacity for waits in
 * `waiting-for-readers`, and only a request no reader could ever take escalates. Before it: the domain rules on a
 * roster snapshot read by an activity, escalating when too few were eligible.
 *
 * May import: `@temporalio/workflow`, `src/domain`, `./activities`, `./patches`, and `import type` of the scan state,
 * tasks and messages.
 */

import type { AssignmentResult, RosterEntry } from '../domain';
import { chooseReaders, chooseReplacement } from '../domain';
import { scanActivities } from './activities';
import { ASSIGNMENT_RESERVES_CAPACITY } from './patches';
import { CAPACITY_BACKSTOP_MS } from './scan-capacity';
import type { TaskRole } from './scan-lifecycle.messages';
import type { ScanState } from './scan-state';
import type { TaskState } from './scan-tasks';
import { rosterSummary } from './scan-ui';

/** `assigning` → `reading`: the policy's readers from a roster snapshot; escalates when too few are eligible. */
export async function assignReaders(s: ScanState): Promise<boolean> {
  await s.projection.setStage('assigning');
  if (s.has(ASSIGNMENT_RESERVES_CAPACITY)) return assignReserving(s);
  for (;;) {
    const roster = await scanActivities.loadRoster.executeWithOptions({ summary: rosterSummary({ readers: s.policy.readers }) }, []);
    if (s.cancelled) return false;
    const r = pickReaders(s, roster, 'reader', s.policy.readers);
    if (r.ok) {
      await createTasks(
        s,
        'reader',
        0,
        r.readerIds.map((readerId, slot) => ({ readerId, slot })),
      );
      await s.projection.setStage('reading', { detail: { readers: r.readerIds } });
      s.attention.decided();
      return true;
    }
    if (!(await s.attention.escalateAndWait('no-eligible-readers', { ...r }))) return false;
  }
}

/** `assigning` (→ `waiting-for-readers`) → `reading`: the policy's readers granted by the capacity owner. */
async function assignReserving(s: ScanState): Promise<boolean> {
  const slots = Array.from({ length: s.policy.readers }, (_, slot) => ({ slot, round: 0 }));
  for (;;) {
    const g = await s.capacity.reserveOrWait('reader', slots);
    if (!g.ok && g.cancelled) return false;
    if (g.ok) {
      const readers = g.tasks.map((t) => t.readerId);
      await s.projection.setStage('reading', {
        detail: { readers },
        tasks: g.tasks.map((t) => s.projection.taskRow(t)),
        events: g.tasks.map((t) => ({
          action: 'task:assigned',
          taskId: t.id,
          detail: { readerId: t.readerId, role: t.role, slot: t.slot, round: t.round, dueAt: s.iso(t.dueAt) },
        })),
      });
      s.attention.decided();
      return true;
    }
    if (!(await s.attention.escalateAndWait('no-eligible-readers', { ...g.result }))) return false;
  }
}

/**
 * Opens the task of a review slot (since `ASSIGNMENT_RESERVES_CAPACITY`): the slot's reviewer of earlier rounds when
 * there is one, else a senior granted by the capacity owner; waits in `waiting-for-readers` while nobody has capacity,
 * escalates (`no-eligible-reviewers`) when nobody ever could. False when cancelled.
 */
export async function openReviewTask(s: ScanState, round: number, slot: number): Promise<boolean> {
  for (;;) {
    const preferred = s.reviewers[slot] || undefined;
    const g = await s.capacity.reserveOrWait('reviewer', [{ slot, round }], preferred === undefined ? {} : { preferredReaderId: preferred, slotHolder: true });
    if (!g.ok && g.cancelled) return false;
    if (g.ok) {
      const [t] = g.tasks;
      s.reviewers[slot] = t.readerId;
      const p = s.projection;
      await p.writeTasks([t], [p.audit('task:assigned', 'workflow', { readerId: t.readerId, role: 'reviewer', slot, round, dueAt: s.iso(t.dueAt) }, t.id)]);
      if (s.stage === 'waiting-for-readers') await s.projection.setStage(s.workingStage, { detail: { readersAvailable: true } });
      return true;
    }
    // The slot's reviewer can never take it again (inactive, no longer senior): another senior takes the slot.
    if (preferred !== undefined) {
      s.reviewers[slot] = '';
      continue;
    }
    if (!(await s.attention.escalateAndWait('no-eligible-reviewers', { ...g.result }))) return false;
  }
}

/**
 * Chooses `count` readers for a role. Readers of a consensus policy are taken from non-senior
 * radiologists when enough are eligible, so the few seniors stay free to review the scan.
 */
export function pickReaders(
  s: ScanState,
  roster: readonly RosterEntry[],
  role: TaskRole,
  count: number,
  preferredReaderId?: string,
): AssignmentResult {
  // Never someone who had this scan; for reviewers also not the other review slot's holder, who may not
  // have a task yet (slot 1 is created once slot 0 has submitted).
  const excluded = role === 'reviewer' ? [...new Set([...s.everInvolved(), ...s.reviewers])] : s.everInvolved();
  const choose = (extra: string[]): AssignmentResult =>
    count === 1
      ? chooseReplacement({ roster, scanId: s.scanId, role, excludedReaderIds: [...excluded, ...extra], preferredReaderId })
      : chooseReaders({ roster, scanId: s.scanId, role, count, excludedReaderIds: [...excluded, ...extra] });
  if (role === 'reader' && s.policy.reviewers > 0 && preferredReaderId === undefined) {
    const seniors = roster.filter((e) => e.senior).map((e) => e.readerId);
    const sparing = choose(seniors);
    if (sparing.ok) return sparing;
  }
  return choose([]);
}

/** Outcome of {@link replaceTask}; `waiting`: nobody has capacity now, the task waits for a reader (`awaitingReader`). */
export type ReplaceOutcome =
  | { ok: true; task: TaskState }
  | { ok: false; notOpen: true; waiting?: false }
  | { ok: false; notOpen: false; waiting?: boolean; result: AssignmentResult };

/**
 * Replaces the holder of an open task: the old task is closed (`expired` after a missed deadline,
 * `reassigned` by a manager) and a new task for the same slot and round goes to a reader who never had this
 * scan. Call under `s.lock`. Writes both tasks and the audit events in one projection step.
 */
export async function replaceTask(
  s: ScanState,
  t: TaskState,
  opts: { cause: 'expired' | 'reassigned'; actor: string; toReaderId?: string },
): Promise<ReplaceOutcome> {
  if (s.has(ASSIGNMENT_RESERVES_CAPACITY)) return replaceReserving(s, t, opts);
  const roster = await scanActivities.loadRoster.executeWithOptions({ summary: rosterSummary({ replacing: t }) }, []);
  // The world may have moved while the roster was read (a submission, a cancel, an extension).
  if (t.status !== 'open' || s.terminal) return { ok: false, notOpen: true };
  if (opts.cause === 'expired' && t.dueAt > s.now()) return { ok: false, notOpen: true };
  const result = pickReaders(s, roster, t.role, 1, opts.toReaderId);
  if (!result.ok) return { ok: false, notOpen: false, result };
  const [readerId] = result.readerIds;
  s.close(t, opts.cause);
  const next = s.newTask({
    readerId,
    role: t.role,
    slot: t.slot,
    round: t.round,
    expiries: t.expiries + (opts.cause === 'expired' ? 1 : 0),
    replaces: t.id,
  });
  t.replacedBy = next.id;
  if (t.role === 'reviewer') s.reviewers[t.slot] = readerId;
  s.wake = true;
  const p = s.projection;
  await p.writeTasks(
    [t, next],
    [
      p.audit(`task:${opts.cause}`, opts.actor, { readerId: t.readerId, dueAt: s.iso(t.dueAt), replacedBy: next.id }, t.id),
      p.audit('task:assigned', opts.actor, { readerId, role: next.role, slot: next.slot, round: next.round, dueAt: s.iso(next.dueAt), replaces: t.id }, next.id),
    ],
  );
  return { ok: true, task: next };
}

/**
 * {@link replaceTask} through the capacity owner. A manager's reassignment is decided at once (served before the
 * queue, refused when the reader has no capacity); a missed deadline's replacement queues: when nobody has capacity
 * the task stays open and overdue, marked `awaitingReader`, and the scan shows `waiting-for-readers` until a reader
 * frees up (the deadline loop tries again on `readersAvailable`).
 */
async function replaceReserving(s: ScanState, t: TaskState, opts: { cause: 'expired' | 'reassigned'; actor: string; toReaderId?: string }): Promise<ReplaceOutcome> {
  if (t.status !== 'open' || s.terminal) return { ok: false, notOpen: true };
  const manager = opts.cause === 'reassigned';
  const others = s.capacity.awaiting().filter((x) => x !== t);
  const out = await s.capacity.reserve(t.role, [{ slot: t.slot, round: t.round }], {
    queue: !manager,
    keepQueued: others.length > 0,
    ...(opts.toReaderId !== undefined ? { preferredReaderId: opts.toReaderId } : {}),
  });
  if (!out) return { ok: false, notOpen: true };
  const r = out.reservation;
  if (!r.granted) {
    if (manager || !r.waiting) return { ok: false, notOpen: false, result: r.result };
    t.awaitingReader = true;
    s.capacity.retryAt = s.now() + CAPACITY_BACKSTOP_MS;
    s.projection.syncSearchAttributes();
    await s.capacity.enterWaiting(t.role, 1, r.result);
    return { ok: false, notOpen: false, waiting: true, result: r.result };
  }
  const [next] = out.tasks ?? [];
  if (!next || s.cancelled) return { ok: false, notOpen: true };
  const p = s.projection;
  // The world may have moved while the reservation ran (a submission, an extension): the granted task closes again.
  if (t.status !== 'open' || s.terminal || (opts.cause === 'expired' && t.dueAt > s.now())) {
    s.close(next, 'cancelled');
    await p.writeTasks([next], [p.audit('task:cancelled', 'workflow', { readerId: next.readerId, reason: 'replacement no longer needed', replaces: t.id }, next.id)]);
    return { ok: false, notOpen: true };
  }
  const readerId = next.readerId;
  s.close(t, opts.cause);
  next.expiries = t.expiries + (opts.cause === 'expired' ? 1 : 0);
  next.replaces = t.id;
  t.replacedBy = next.id;
  if (t.role === 'reviewer') s.reviewers[t.slot] = readerId;
  s.wake = true;
  await p.writeTasks(
    [t, next],
    [
      p.audit(`task:${opts.cause}`, opts.actor, { readerId: t.readerId, dueAt: s.iso(t.dueAt), replacedBy: next.id }, t.id),
      p.audit('task:assigned', opts.actor, { readerId, role: next.role, slot: next.slot, round: next.round, dueAt: s.iso(next.dueAt), replaces: t.id }, next.id),
    ],
  );
  return { ok: true, task: next };
}

/** Creates open tasks (one per given slot) and writes them with their audit events. */
export async function createTasks(
  s: ScanState,
  role: TaskRole,
  round: number,
  assignments: { readerId: string; slot: number }[],
): Promise<TaskState[]> {
  const created = assignments.map((a) => s.newTask({ readerId: a.readerId, role, slot: a.slot, round }));
  const p = s.projection;
  await p.writeTasks(
    created,
    created.map((t) => p.audit('task:assigned', 'workflow', { readerId: t.readerId, role, slot: t.slot, round, dueAt: s.iso(t.dueAt) }, t.id)),
  );
  return created;
}
