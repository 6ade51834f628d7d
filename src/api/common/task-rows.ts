/**
 * What every answer about a task takes from its `tasks` row, in the API's form (ids in camelCase, times in ISO 8601):
 * the inbox, the managers' list, a task's detail, a scan's tasks and the overdue board.
 */
import type { TaskRecord } from '../../db/repositories';

/** A row's time in ISO 8601, or null (a task not submitted yet). */
export function isoOrNull(d: Date | string | null): string | null {
  return d === null ? null : new Date(d).toISOString();
}

/** The columns every task answer reads (some queries give times as text). */
type TaskRowCore = Pick<TaskRecord, 'id'> & { assigned_at: Date | string; due_at: Date | string };

/** The task's id and times. */
export function taskCoreOf(t: TaskRowCore): { taskId: string; assignedAt: string; dueAt: string } {
  return { taskId: t.id, assignedAt: new Date(t.assigned_at).toISOString(), dueAt: new Date(t.due_at).toISOString() };
}

/** The task's id and times, and who holds which slot of which round in which role. */
export function taskSlotOf(t: TaskRowCore & Pick<TaskRecord, 'reader_id' | 'role' | 'slot' | 'round'>) {
  return { ...taskCoreOf(t), readerId: t.reader_id, role: t.role, slot: t.slot, round: t.round };
}

/** Open and past its deadline at `now` (ms). */
export function isOverdueRow(t: Pick<TaskRecord, 'status'> & Pick<TaskRowCore, 'due_at'>, now: number): boolean {
  return t.status === 'open' && new Date(t.due_at).getTime() < now;
}
