/**
 * Read-only views of one `scanLifecycle` run, as its queries and updates answer them: the `status` view, a
 * task's view (never its reading: readers are blinded) and a reviewer's `reviewContext`. Pure and synchronous.
 *
 * May import: `./failures`, `import type` of the scan state, tasks and messages.
 */
import { rejections } from './failures';
import type { ReviewContext, ScanStatus, TaskView } from './scan-lifecycle.messages';
import type { ScanState } from './scan-state';
import type { TaskState } from './scan-tasks';
import { iso, taskFacts } from './scan-tasks';

export function taskView(t: TaskState): TaskView {
  const v: TaskView = { taskId: t.id, ...taskFacts(t), overdue: t.overdue };
  if (t.replaces) v.replaces = t.replaces;
  if (t.decision) v.decision = t.decision;
  return v;
}

/** The `status` query: stage, image metadata, tasks with their readers and deadlines, and why the scan waits or ended. */
export function scanStatus(s: ScanState): ScanStatus {
  const status: ScanStatus = {
    scanId: s.scanId,
    stage: s.stage,
    split: s.input.split,
    policy: s.policy.name,
    tasks: [...s.tasks.values()].map(taskView),
    openReaders: s.openReaders(),
    overdue: s.isOverdue(),
    readingsSubmitted: s.submittedReadings().length,
    readingsRequired: s.readingsRequired(),
    reviewRound: s.reviewRound,
  };
  if (s.extension) status.extension = { ...s.extension, measuredReaders: [...s.extension.measuredReaders] };
  if (s.imageId) status.imageId = s.imageId;
  if (s.image) status.image = s.image;
  if (s.quarantine) status.quarantine = s.quarantine;
  if (s.attention.reason && s.attention.waiting) status.attentionReason = s.attention.reason;
  if (s.cancelled) {
    status.cancelled = s.cancelled;
    if (s.cancelled.reason !== undefined) status.cancelReason = s.cancelled.reason;
  }
  if (s.releasedAt !== undefined) status.releasedAt = iso(s.releasedAt);
  if (s.stage === 'waiting-for-readers' && s.capacity.waitingFor) status.waitingForReaders = { ...s.capacity.waitingFor };
  if (s.projection.stalled) status.projectionStalled = { ...s.projection.stalled };
  return status;
}

/** The `reviewContext` query: what a reviewer task reviews (`TaskNotFound` for any other task: blinding). */
export function reviewContext(s: ScanState, taskId: string): ReviewContext {
  const t = s.tasks.get(taskId);
  if (!t || t.role !== 'reviewer' || !s.fused || !s.agreement || !s.image || !s.fusedReadings) throw rejections.taskNotFound(taskId);
  const ctx: ReviewContext = {
    taskId,
    round: t.round,
    slot: t.slot,
    image: s.image,
    readings: s.fusedReadings.map((r) => ({ readerId: r.readerId, reading: r.reading })),
    fused: s.fused,
    agreement: s.agreement,
    returns: [...s.returns],
  };
  const proposal = s.reviewTask(t.round, 0);
  if (t.slot === 1 && proposal?.reading) ctx.proposal = { readerId: proposal.readerId, reading: proposal.reading };
  return ctx;
}
