/**
 * One task of a scan as the workflow knows it (the source of truth for the `tasks` rows and the task views),
 * and the workflow clock's ISO-8601 form of its times.
 *
 * May import: `import type` of the scan's messages and `src/domain`.
 */
import type { Reading, TaskFacts } from '../domain';
import type { ReviewDecision, TaskRole, TaskStatus } from './scan-lifecycle.messages';

/** One reading or review task, as the workflow knows it (the source of truth for `tasks`). */
export interface TaskState {
  id: string;
  readerId: string;
  role: TaskRole;
  slot: number;
  round: number;
  status: TaskStatus;
  assignedAt: number;
  dueAt: number;
  submittedAt?: number;
  closedAt?: number;
  /** The task this one replaced, and the one that replaced it. */
  replaces?: string;
  replacedBy?: string;
  /** Deadline-driven reassignments in this slot so far (manager reassignments do not count). */
  expiries: number;
  /** Open and past its deadline. */
  overdue: boolean;
  /** Overdue and handed to a manager: not reassigned again until `resumeScan` or `extendDeadline`. */
  escalated: boolean;
  /** Overdue, and its replacement waits for a reader with capacity (retried when readers are available). */
  awaitingReader?: boolean;
  reading?: Reading;
  decision?: ReviewDecision;
  reason?: string;
  /** Completes once the accepted submission is in Postgres (idempotent repeats wait for it too). */
  written?: Promise<void>;
}

/** A task's facts, times as ISO-8601 strings: the same values in its `tasks` row and the `status` query. */
export function taskFacts(t: TaskState): TaskFacts {
  const facts: TaskFacts = { readerId: t.readerId, role: t.role, slot: t.slot, round: t.round, status: t.status, assignedAt: iso(t.assignedAt), dueAt: iso(t.dueAt) };
  if (t.submittedAt !== undefined) facts.submittedAt = iso(t.submittedAt);
  if (t.closedAt !== undefined) facts.closedAt = iso(t.closedAt);
  return facts;
}

/** Workflow time (ms) as ISO-8601. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The second review slot: confirms or returns the first reviewer's proposal (and sends no reading of its own). */
export function isVerdict(t: Pick<TaskState, 'role' | 'slot'>): boolean {
  return t.role === 'reviewer' && t.slot === 1;
}
