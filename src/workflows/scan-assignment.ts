/**
 * Assignment steps of the scan workflow: choosing readers/reviewers through the domain rules on a roster
 * snapshot read by an activity (escalating when too few are eligible), the `assigning` phase, creating tasks,
 * and replacing the holder of a task (deadline missed, or a manager's call).
 *
 * May import: `src/domain`, `./activities`, and `import type` of the scan state, tasks and messages.
 */
import type { AssignmentResult, RosterEntry } from '../domain';
import { chooseReaders, chooseReplacement } from '../domain';
import { scanActivities } from './activities';
import type { TaskRole } from './scan-lifecycle.messages';
import type { ScanState } from './scan-state';
import type { TaskState } from './scan-tasks';

/** `assigning` → `reading`: the policy's readers from a roster snapshot; escalates when too few are eligible. */
export async function assignReaders(s: ScanState): Promise<boolean> {
  await s.projection.setStage('assigning');
  for (;;) {
    const roster = await scanActivities.loadRoster();
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

/** Outcome of {@link replaceTask}. */
export type ReplaceOutcome = { ok: true; task: TaskState } | { ok: false; notOpen: true } | { ok: false; notOpen: false; result: AssignmentResult };

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
  const roster = await scanActivities.loadRoster();
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
