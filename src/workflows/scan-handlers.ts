/**
 * Message handlers of `scanLifecycle`. Installed before the workflow's first `await`, so no message
 * delivered with the first workflow task is lost. Queries are read-only and synchronous; every update
 * has a synchronous validator that rejects (typed `ApplicationFailure`) before anything enters history.
 * The handlers only validate and delegate: submissions to `scan-submission.ts`, reassignment to
 * `scan-assignment.ts`, `resumeScan` to `scan-attention.ts`, views to `scan-views.ts`.
 *
 * May import: `@temporalio/workflow`, the scan's messages, `./failures`, the modules named above, and
 * `import type` of the scan state and tasks.
 */
import { setHandler } from '@temporalio/workflow';

import { rejections } from './failures';
import { replaceTask } from './scan-assignment';
import {
  cancelScanUpdate,
  extendDeadlineUpdate,
  readersAvailableSignal,
  reassignTaskUpdate,
  resumeScanUpdate,
  reviewContextQuery,
  statusQuery,
  submitReadingUpdate,
} from './scan-lifecycle.messages';
import type { ScanState } from './scan-state';
import { checkSubmission, submitReading } from './scan-submission';
import type { TaskState } from './scan-tasks';
import { reviewContext, scanStatus, taskView } from './scan-views';

function requireActor(by: unknown): void {
  if (typeof by !== 'string' || by.length === 0) throw rejections.invalidState('`by` (the manager id) is required');
}

function openTask(s: ScanState, taskId: unknown): TaskState {
  const t = typeof taskId === 'string' ? s.tasks.get(taskId) : undefined;
  if (!t) throw rejections.taskNotFound(String(taskId));
  if (t.status !== 'open' || s.terminal) {
    throw rejections.taskNotOpen({ taskId: t.id, status: t.status, reason: s.terminal ? `the scan is ${s.stage}` : `the task is ${t.status}` });
  }
  return t;
}

/** Installs the queries and updates of the scan workflow. */
export function installScanHandlers(s: ScanState): void {
  // Lean runs: the search attribute changes a handler made are upserted once, when it is done (see `flushAttributes`).
  // Other runs install the handlers themselves (the microtask turns between commands stay as recorded).
  const flushing = <A extends unknown[], R>(handler: (...args: A) => Promise<R>): ((...args: A) => Promise<R>) =>
    s.lean ? (...args: A) => handler(...args).finally(() => s.projection.flushAttributes()) : handler;

  setHandler(statusQuery, () => scanStatus(s));

  setHandler(reviewContextQuery, (taskId: string) => reviewContext(s, taskId));

  setHandler(readersAvailableSignal, () => s.capacity.signalled());

  // `submitReading` and `resumeScan` return their function's promise as the handler's (no extra `async` layer:
  // the microtask turns between commands stay as recorded in test/histories/).
  setHandler(submitReadingUpdate, flushing((input) => submitReading(s, input)), {
    validator: (input) => void checkSubmission(s, input),
  });

  setHandler(
    reassignTaskUpdate,
    flushing(async (input) =>
      s.lock.run(async () => {
        const t = openTask(s, input.taskId);
        const out = await replaceTask(s, t, { cause: 'reassigned', actor: input.by, toReaderId: input.toReaderId });
        if (out.ok) return { newTaskId: out.task.id, readerId: out.task.readerId, dueAt: s.iso(out.task.dueAt) };
        if (out.notOpen) throw rejections.taskNotOpen({ taskId: t.id, status: t.status, reason: `the task is ${t.status}` });
        const r = out.result;
        if (r.ok) throw rejections.invalidState('unexpected assignment result');
        throw rejections.noEligibleReader(
          r.reason === 'reader-not-eligible'
            ? `reader ${r.readerId} cannot take this task (${r.why})`
            : `no eligible reader (${r.eligible} of ${r.needed} needed)`,
          { ...r },
        );
      }),
    ),
    {
      validator: (input) => {
        requireActor(input.by);
        openTask(s, input.taskId);
        if (input.toReaderId !== undefined && typeof input.toReaderId !== 'string') throw rejections.invalidState('toReaderId must be a string');
      },
    },
  );

  setHandler(
    extendDeadlineUpdate,
    flushing(async (input) => {
      const t = openTask(s, input.taskId);
      const dueAt = Date.parse(input.dueAt);
      const from = t.dueAt;
      t.dueAt = dueAt;
      t.overdue = false;
      t.escalated = false;
      if (t.awaitingReader) t.awaitingReader = false;
      s.wake = true;
      const p = s.projection;
      await p.writeTasks([t], [p.audit('task:deadline-extended', input.by, { from: s.iso(from), to: s.iso(dueAt) }, t.id)]);
      return taskView(t);
    }),
    {
      validator: (input) => {
        requireActor(input.by);
        openTask(s, input.taskId);
        const dueAt = typeof input.dueAt === 'string' ? Date.parse(input.dueAt) : NaN;
        if (!Number.isFinite(dueAt)) throw rejections.invalidDeadline('dueAt must be an ISO-8601 date-time');
        if (dueAt <= s.now()) throw rejections.invalidDeadline('the new deadline must be in the future');
      },
    },
  );

  setHandler(
    cancelScanUpdate,
    flushing(async (input) => {
      s.cancelled = input.reason ? { by: input.by, reason: input.reason } : { by: input.by };
      const closed = s.openTasks();
      for (const t of closed) s.close(t, 'cancelled');
      s.wake = true;
      await s.projection.setStage('cancelled', {
        actor: input.by,
        detail: input.reason ? { reason: input.reason } : {},
        scan: { attentionReason: null },
        tasks: closed.map((t) => s.projection.taskRow(t)),
        // Each task that was open is cancelled with the scan, in the same step.
        events: closed.map((t) => ({
          action: 'task:cancelled',
          taskId: t.id,
          detail: { readerId: t.readerId, role: t.role, slot: t.slot, round: t.round, ...(input.reason ? { reason: input.reason } : {}) },
        })),
      });
      return scanStatus(s);
    }),
    {
      validator: (input) => {
        requireActor(input.by);
        if (s.terminal || s.stage === 'fusing') throw rejections.invalidState(`a scan that is ${s.stage} cannot be cancelled`, { stage: s.stage });
      },
    },
  );

  setHandler(resumeScanUpdate, flushing((input) => s.attention.resume(input.by)), {
    validator: (input) => {
      requireActor(input.by);
      if (!s.attention.waiting) throw rejections.invalidState(`only a scan in needs-attention can be resumed (stage: ${s.stage})`, { stage: s.stage });
    },
  });
}
