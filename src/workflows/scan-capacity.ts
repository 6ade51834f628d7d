/**
 * Readers for one `scanLifecycle` run from the one owner of reader capacity (issue #12): the `reserveReaders`
 * activity grants readers and inserts their open tasks under one lock (src/activities/capacity.activities.ts), so no
 * reader is ever pushed past the open-task cap by scans assigning at the same moment. When nobody has capacity the
 * scan waits, durably and visibly, in `waiting-for-readers` (its place in the queue: priority, then first come, first
 * served) until a `readersAvailable` signal from the scan whose write freed a reader, with a long backstop timer
 * (capacity freed elsewhere, e.g. a reader's cap raised). Only a request no reader could ever take goes to a manager.
 *
 * May import: `@temporalio/workflow`, `src/domain` types, `import type` of the activities, the scan state, tasks and
 * messages.
 */
import { condition } from '@temporalio/workflow';

import type { ReserveReadersInput } from '../activities/capacity.activities';
import type { AssignmentResult, Reservation } from '../domain';
import type { TaskRole } from './scan-lifecycle.messages';
import type { ScanState } from './scan-state';
import type { TaskState } from './scan-tasks';
import { reserveSummary } from './scan-ui';

/** Longest wait for a `readersAvailable` signal before asking again: a backstop, not a polling rhythm. */
export const CAPACITY_BACKSTOP_MS = 10 * 60_000;

/** One task to open: its slot and round (the reader comes from the reservation). */
export interface Slot {
  slot: number;
  round: number;
}

/** Outcome of {@link ReaderCapacity.reserveOrWait}. */
export type Granted =
  | { ok: true; tasks: TaskState[] }
  | { ok: false; cancelled: true }
  | { ok: false; cancelled: false; result: Exclude<AssignmentResult, { ok: true }> };

export class ReaderCapacity {
  /** `readersAvailable` signals received, and the ones the deadline loop has seen. */
  private wakes = 0;
  private seenWakes = 0;
  /** The workflow time (ISO) this scan first waited in its current wait: its place in the queue. */
  private enqueuedAt?: string;
  /** What the scan waits for while in `waiting-for-readers` (the `status` query). */
  waitingFor?: { since: string; role: TaskRole; needed: number };
  /** Workflow time at which replacements waiting for a reader are tried again without a signal. */
  retryAt?: number;

  constructor(private readonly s: ScanState) {}

  /** The `readersAvailable` signal (or this scan's own write freed a reader it waits for). */
  signalled(): void {
    this.wakes += 1;
    this.s.wake = true;
  }

  /** True once per signal received since the last call. */
  takeWake(): boolean {
    if (this.wakes === this.seenWakes) return false;
    this.seenWakes = this.wakes;
    return true;
  }

  /** Open tasks whose replacement waits for a reader with capacity. */
  awaiting(): TaskState[] {
    return this.s.openTasks().filter((t) => t.awaitingReader);
  }

  /**
   * Asks the capacity owner once for readers of `slots` (no wait). Granted tasks are open in Postgres and in memory
   * (the caller audits them); when the scan was cancelled meanwhile they are closed again. `undefined`: cancelled
   * while the database refused the request.
   */
  async reserve(
    role: TaskRole,
    slots: readonly Slot[],
    opts: { preferredReaderId?: string; queue: boolean; keepQueued?: boolean; slotHolder?: boolean },
  ): Promise<{ reservation: Reservation; tasks?: TaskState[] } | undefined> {
    const s = this.s;
    const now = s.now();
    const deadline = role === 'reader' ? s.policy.taskDeadlineMs : s.policy.reviewDeadlineMs;
    const templates = slots.map((x) => ({ ...x, id: s.newTaskId(), assignedAt: now, dueAt: now + deadline }));
    const involved = role === 'reviewer' ? [...new Set([...s.everInvolved(), ...s.reviewers])] : s.everInvolved();
    const input: ReserveReadersInput = {
      scanId: s.scanId,
      role,
      tasks: templates.map((t) => ({ id: t.id, slot: t.slot, round: t.round, assignedAt: s.iso(t.assignedAt), dueAt: s.iso(t.dueAt) })),
      // Everyone who had this scan, except a review slot's own reviewer taking the slot's next round.
      excludedReaderIds: opts.slotHolder ? involved.filter((id) => id !== opts.preferredReaderId) : involved,
      priority: s.input.priority ?? 0,
      enqueuedAt: this.enqueuedAt ?? s.iso(now),
      queue: opts.queue,
    };
    if (role === 'reader' && s.policy.reviewers > 0 && opts.preferredReaderId === undefined) input.spareSeniors = true;
    if (opts.preferredReaderId !== undefined) input.preferredReaderId = opts.preferredReaderId;
    if (opts.keepQueued) input.keepQueued = true;
    const summary = reserveSummary(role, slots, opts.preferredReaderId);
    const reservation = await s.projection.durably('reserveReaders', (a) => a.reserveReaders.executeWithOptions({ summary }, [input]));
    if (!reservation) return undefined;
    if (!reservation.granted) {
      if (reservation.waiting && opts.queue) this.enqueuedAt ??= input.enqueuedAt;
      return { reservation };
    }
    const tasks = templates.map((t, i) =>
      s.newTask({ id: t.id, assignedAt: t.assignedAt, readerId: reservation.readerIds[i], role, slot: t.slot, round: t.round }),
    );
    if (!opts.keepQueued) this.enqueuedAt = undefined;
    if (s.cancelled) {
      // Cancelled while the reservation ran: the granted tasks close at once and free their readers.
      for (const t of tasks) s.close(t, 'cancelled');
      const p = s.projection;
      await p.writeTasks(
        tasks,
        tasks.map((t) => p.audit('task:cancelled', 'workflow', { readerId: t.readerId, role, slot: t.slot, round: t.round, reason: 'scan cancelled' }, t.id)),
      );
    }
    return { reservation, tasks };
  }

  /**
   * Readers for `slots`, waiting in `waiting-for-readers` for as long as nobody has capacity. Returns the open tasks
   * (the caller audits them and leaves the waiting stage), the failure when no reader could ever take them (the caller
   * escalates), or `cancelled`.
   */
  async reserveOrWait(role: TaskRole, slots: readonly Slot[], opts: { preferredReaderId?: string; slotHolder?: boolean } = {}): Promise<Granted> {
    const s = this.s;
    for (;;) {
      const before = this.wakes;
      const out = await this.reserve(role, slots, { ...opts, queue: true });
      if (!out || s.cancelled) return { ok: false, cancelled: true };
      const r = out.reservation;
      if (r.granted) {
        this.waitingFor = undefined;
        return { ok: true, tasks: out.tasks ?? [] };
      }
      if (!r.waiting) {
        this.enqueuedAt = undefined;
        this.waitingFor = undefined;
        return { ok: false, cancelled: false, result: r.result };
      }
      await this.enterWaiting(role, slots.length, r.result);
      s.projection.flushAttributes();
      await condition(() => this.wakes > before || s.cancelled !== undefined, CAPACITY_BACKSTOP_MS, {
        summary: `backstop: look for free readers again (no ${role} with capacity)`,
      });
      if (s.cancelled) return { ok: false, cancelled: true };
    }
  }

  /** Moves to `waiting-for-readers` (once per wait): a decision of the main loop, visible in every projection. */
  async enterWaiting(role: TaskRole, needed: number, result: Exclude<AssignmentResult, { ok: true }>): Promise<void> {
    const s = this.s;
    if (s.stage === 'waiting-for-readers') return;
    this.waitingFor = { since: s.iso(s.now()), role, needed };
    const write = s.projection.setStage('waiting-for-readers', { detail: { role, needed, ...result } });
    s.attention.decided();
    await write;
  }

  /** Leaves `waiting-for-readers` for the working stage when nothing waits for a reader any more. */
  settle(): Promise<void> {
    const s = this.s;
    if (s.stage !== 'waiting-for-readers' || this.awaiting().length > 0) return Promise.resolve();
    this.waitingFor = undefined;
    this.enqueuedAt = undefined;
    this.retryAt = undefined;
    return s.projection.setStage(s.workingStage, { detail: { readersAvailable: true }, leaveWaitlist: true });
  }
}
