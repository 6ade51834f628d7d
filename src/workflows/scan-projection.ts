/**
 * The projection of one `scanLifecycle` run: what the workflow makes visible outside itself.
 * - Postgres rows (`scans`, `tasks`, `readings`, `scan_results`) through the projection activities, issued one
 *   after another in workflow order, so Postgres never sees a stage go backwards;
 * - the audit trail (`audit_events`, deterministic keys);
 * - the `Stage`, `Readers` and `Overdue` search attributes (`ScanId` and `Split` once, at start).
 * Every stage change, the release included, goes through {@link ScanProjection.setStage}.
 *
 * May import: `@temporalio/workflow`, the activity proxies (`./activities`), `import type` of the activities'
 * row types, `./search-attributes`, and `import type` of the scan state.
 */
import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';

import type { AuditEventRow, ProjectionStep, ScanRow, TaskRow } from '../activities/scan.activities';
import { scanActivities } from './activities';
import type { ScanStage } from './scan-lifecycle.messages';
import type { ScanState } from './scan-state';
import type { TaskState } from './scan-tasks';
import { iso, taskTimes } from './scan-tasks';
import { OVERDUE, READERS, SCAN_ID, SPLIT, STAGE } from './search-attributes';

/** The projection activities that write a step (the name only labels the step in the Temporal UI). */
export type ProjectionActivity = 'recordScan' | 'recordTasks' | 'recordReading' | 'recordRelease';

/** An audit event to write in the same step as a stage change, by the same actor. */
export interface StageEvent {
  action: string;
  detail?: Record<string, unknown>;
  taskId?: string;
}

/** What a stage change writes besides the `scans` row and its `stage:<to>` audit event. */
export interface StageChange {
  /** Who moved the scan (default `workflow`). */
  actor?: string;
  /** Extra detail of the `stage:<to>` audit event (after `from` and `to`). */
  detail?: Record<string, unknown>;
  /** Extra `scans` columns. */
  scan?: Partial<ScanRow>;
  tasks?: TaskRow[];
  /** The released result (`scan_results`), only with `released`. */
  result?: ProjectionStep['result'];
  events?: StageEvent[];
}

/** The activity that writes a stage change: the release writes `scan_results` too. */
function stageActivity(stage: ScanStage): ProjectionActivity {
  return stage === 'released' ? 'recordRelease' : 'recordScan';
}

export class ScanProjection {
  private auditSeq = 0;
  private writeTail: Promise<void> = Promise.resolve();
  private lastAttributes = '';

  constructor(private readonly s: ScanState) {}

  /**
   * Moves the scan to `stage` (no-op once it ended), keeps the search attributes current and writes the `scans`
   * row with the `stage:<to>` audit event (`from`, `to`, then `change.detail`). `change.events` are audited in the
   * same step, after the stage change and by the same actor.
   */
  setStage(stage: ScanStage, change: StageChange = {}): Promise<void> {
    const moved = this.s.enter(stage);
    if (!moved) return Promise.resolve();
    this.syncSearchAttributes();
    const actor = change.actor ?? 'workflow';
    const audit = [this.audit(`stage:${stage}`, actor, { from: moved.from, to: stage, ...change.detail })];
    for (const e of change.events ?? []) audit.push(this.audit(e.action, actor, e.detail, e.taskId));
    return this.write(stageActivity(stage), {
      scan: this.scanRow(change.scan),
      ...(change.tasks?.length ? { tasks: change.tasks } : {}),
      ...(change.result ? { result: change.result } : {}),
      audit,
    });
  }

  /**
   * Writes a projection step. Writes run one after another in the order the workflow issued them,
   * so Postgres sees the same sequence of states as the workflow (a stage never goes backwards).
   */
  write(activity: ProjectionActivity, step: ProjectionStep): Promise<void> {
    const run = this.writeTail.then(() => scanActivities[activity](step));
    this.writeTail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Writes tasks changed in memory with their audit events, keeping `Readers` and `Overdue` current first. */
  writeTasks(tasks: TaskState[], audit: AuditEventRow[]): Promise<void> {
    this.syncSearchAttributes();
    return this.write('recordTasks', { tasks: tasks.map((t) => this.taskRow(t)), audit });
  }

  /**
   * An audit event with a deterministic key `<scanId>:<runId>:<seq>:<action>`: retries of the same step insert the
   * same key (ignored), and a later run of the same scan id (a corrected file after a quarantine) never collides.
   */
  audit(action: string, actor: string, detail: Record<string, unknown> = {}, taskId?: string): AuditEventRow {
    this.auditSeq += 1;
    const event: AuditEventRow = {
      key: `${this.s.scanId}:${workflowInfo().runId}:${this.auditSeq}:${action}`,
      scanId: this.s.scanId,
      actor,
      action,
      detail,
      at: iso(this.s.now()),
    };
    if (taskId) event.taskId = taskId;
    return event;
  }

  /** The `scans` row as of now, plus extra fields to write. */
  scanRow(extra: Partial<ScanRow> = {}): ScanRow {
    return { id: this.s.scanId, split: this.s.input.split, policy: this.s.policy.name, stage: this.s.stage, ...extra };
  }

  /** The `tasks` row of a task as of now. */
  taskRow(t: TaskState): TaskRow {
    return { id: t.id, scanId: this.s.scanId, readerId: t.readerId, role: t.role, slot: t.slot, round: t.round, status: t.status, ...taskTimes(t) };
  }

  /** Sets `ScanId` and `Split` (once, at the start of the run) with the first `Stage`, `Readers` and `Overdue`. */
  initSearchAttributes(): void {
    this.syncSearchAttributes(true);
  }

  /** Upserts `Stage`, `Readers` and `Overdue` when they changed since the last upsert. */
  syncSearchAttributes(initial = false): void {
    const readers = this.s.openReaders();
    const overdue = this.s.isOverdue();
    const key = `${this.s.stage}|${readers.join(',')}|${overdue}`;
    if (!initial && key === this.lastAttributes) return;
    this.lastAttributes = key;
    upsertSearchAttributes([
      ...(initial
        ? [
            { key: SCAN_ID, value: this.s.scanId },
            { key: SPLIT, value: this.s.input.split },
          ]
        : []),
      { key: STAGE, value: this.s.stage },
      { key: READERS, value: readers },
      { key: OVERDUE, value: overdue },
    ]);
  }
}
