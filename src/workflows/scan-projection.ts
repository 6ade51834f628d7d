/**
 * The projection of one `scanLifecycle` run: what the workflow makes visible outside itself.
 * - Postgres rows (`scans`, `tasks`, `readings`, `scan_results`) through the projection activities, issued one
 *   after another in workflow order, so Postgres never sees a stage go backwards;
 * - the audit trail (`audit_events`, deterministic keys);
 * - the `Stage`, `Readers` and `Overdue` search attributes (`ScanId` and `Split` once, at start).
 * Every stage change, the release included, goes through {@link ScanProjection.setStage}.
 *
 * Since `PROJECTION_OUTLASTS_OUTAGES` a write never fails the scan ({@link ScanProjection.durably}): one that outlives
 * its retries (a database outage of any length) pauses and is written again, one Postgres refuses for its data holds
 * the scan in `needs-attention` until a manager resumes it; and a write that freed reader capacity wakes the scans
 * waiting for it (`readersAvailable`).
 *
 * May import: `@temporalio/workflow`, the activity proxies (`./activities`), `import type` of the activities'
 * row types, `./search-attributes`, and `import type` of the scan state.
 */
import { ActivityFailure, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import {
  getExternalWorkflowHandle,
  log,
  patched,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';

import type {
  AuditEventRow,
  ProjectionOutcome,
  ProjectionStep,
  ReadingRow,
  ScanRow,
  TaskRow,
} from '../activities/scan.activities';
import type { DatabaseActivityProxies } from './activities';
import {
  databaseActivities,
  localDatabaseActivities,
  PROJECTION_DATA_ERROR,
  PROJECTION_RETRY,
  scanActivities,
} from './activities';
import { BOUNDED_LOCAL_WRITES, PROJECTION_OUTLASTS_OUTAGES } from './patches';
import type { ScanStage } from './scan-lifecycle.messages';
import { readersAvailableSignal } from './scan-lifecycle.messages';
import type { ScanState } from './scan-state';
import type { TaskState } from './scan-tasks';
import { iso, taskFacts } from './scan-tasks';
import { projectionSummary, refreshCurrentDetails } from './scan-ui';
import { OVERDUE, READERS, SCAN_ID, SPLIT, STAGE } from './search-attributes';

/**
 * Local activities one workflow task may issue (`BOUNDED_LOCAL_WRITES`): 2 × the 2 s `LOCAL_WRITE_BUDGET` stays far
 * inside the heartbeat at 8 s of the task's 10 s timeout, however slow the database.
 */
export const MAX_LOCAL_WRITES_PER_TASK = 2;

/** A local write not issued: its workflow task reached `MAX_LOCAL_WRITES_PER_TASK` (the regular activity writes it). */
class PastLocalBound extends Error {}

/**
 * A local attempt's answer that it did not write (`src/activities/local-attempt.ts`: local attempts complete rather
 * than fail, since a failed local activity was seen to break replay). Recorded histories hold no such answer.
 */
function isLocalNotWritten(out: unknown): boolean {
  return (
    typeof out === 'object' &&
    out !== null &&
    typeof (out as { localNotWritten?: unknown }).localNotWritten === 'string'
  );
}

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
  /** The scan stops waiting for readers without a grant (its `reader_waitlist` row goes). */
  leaveWaitlist?: true;
  /** Written with the scan's next write, in one step (since `MERGED_PROJECTION_STEPS`, for back-to-back writes). */
  withNext?: true;
}

/** The readings a step writes (`reading`, or `readings` when steps with one each were merged). */
function readingsOf(step: ProjectionStep): ReadingRow[] {
  return step.readings ?? (step.reading ? [step.reading] : []);
}

/** Two steps as one (`later` after `earlier`): rows of the later win, audit events, tasks and readings in order. */
export function mergeSteps(earlier: ProjectionStep, later: ProjectionStep): ProjectionStep {
  const tasks = [...(earlier.tasks ?? []), ...(later.tasks ?? [])];
  const audit = [...(earlier.audit ?? []), ...(later.audit ?? [])];
  const readings = [...readingsOf(earlier), ...readingsOf(later)];
  const result = later.result ?? earlier.result;
  return {
    ...(earlier.scan || later.scan ? { scan: { ...earlier.scan, ...later.scan } as ScanRow } : {}),
    ...(tasks.length ? { tasks } : {}),
    // One reading as before (steps merged before `BATCHED_SCAN_STEPS` never carried two).
    ...(readings.length === 1 ? { reading: readings[0] } : readings.length > 1 ? { readings } : {}),
    ...(result ? { result } : {}),
    ...(audit.length ? { audit } : {}),
    ...(earlier.leaveWaitlist || later.leaveWaitlist ? { leaveWaitlist: true as const } : {}),
  };
}

/** A projection write Postgres refused for its data: what the activity said (never the refused values). */
export interface RefusedWrite {
  activity: string;
  message: string;
  sqlState?: string;
  table?: string;
  column?: string;
  constraint?: string;
}

/** The `ProjectionDataError` behind an activity failure, if that is what it is. */
function refusal(err: unknown, activity: string): RefusedWrite | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (!(cause instanceof ApplicationFailure) || cause.type !== PROJECTION_DATA_ERROR) return undefined;
  const d = (cause.details?.[0] ?? {}) as Record<string, unknown>;
  const r: RefusedWrite = { activity, message: cause.message };
  for (const key of ['sqlState', 'table', 'column', 'constraint'] as const)
    if (typeof d[key] === 'string') r[key] = d[key];
  return r;
}

/** The activity that writes a stage change: the release writes `scan_results` too. */
function stageActivity(stage: ScanStage): ProjectionActivity {
  return stage === 'released' ? 'recordRelease' : 'recordScan';
}

/** Batched runs: one step of a write, with its own outcome (it may be written with others). */
interface Part {
  activity: ProjectionActivity;
  step: ProjectionStep;
  done: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function part(activity: ProjectionActivity, step: ProjectionStep): Part {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A caller that does not wait for its step (a held step) leaves no unhandled rejection behind.
  done.catch(() => undefined);
  return { activity, step, done, resolve, reject };
}

/** Steps written together were refused for their data: they are written again one by one. */
class RefusedTogether extends Error {}

export class ScanProjection {
  private auditSeq = 0;
  private writeTail: Promise<void> = Promise.resolve();
  private lastAttributes = '';
  /** A step held for the next write (`holdForNext`). */
  private held?: ProjectionStep;
  /** Batched runs: steps held for the next write (`holdForNext`, `holdWithNext`), in order. */
  private heldParts: Part[] = [];
  /** Batched runs: writes issued and not done yet (a batch counts once). */
  private writing = 0;
  /** Batched runs: the steps issued while another write was in flight, to go together once it is done. */
  private batch?: Part[];
  /** The database activities with this run's retry budget (`input.projectionRetry`). */
  private readonly db: DatabaseActivityProxies;
  /** Lean runs (`LEAN_SCAN_HISTORY`): search attribute changes not upserted yet (`flushAttributes`). */
  private attributesPending = false;
  /** Lean runs: `ScanId` and `Split` go with the first upsert. */
  private initialPending = false;
  /** Lean runs: database calls waiting beyond the workflow task (on a regular activity, or pausing). */
  private offLane = 0;
  /** Lean runs: the local activity last issued; the next one starts once it is done (`onLocalLane`). */
  private localLane: Promise<unknown> = Promise.resolve();
  /** Local activities issued in the current workflow task (known by its history length): see `BOUNDED_LOCAL_WRITES`. */
  private localInTask = { historyLength: -1, count: 0 };
  /** Lean runs: wake-up signals not yet delivered (awaited before the run ends, `wakesDelivered`). */
  private readonly wakesInFlight: Promise<unknown>[] = [];
  private readonly pauseMs: number;
  /** A write that outlived its retries and waits to be written again (the `status` query shows it). */
  stalled?: { since: string; pauses: number; activity: string };

  constructor(private readonly s: ScanState) {
    const retry = s.input.projectionRetry;
    this.db = (retry
      ? databaseActivities(retry)
      : databaseActivities()) as unknown as DatabaseActivityProxies;
    this.pauseMs = retry?.pauseMs ?? PROJECTION_RETRY.pauseMs;
  }

  /**
   * Runs a database activity until it succeeds, whatever the outage: past its retry budget it pauses and runs again
   * (shown as `projectionStalled`); refused for its data, it holds the scan in `needs-attention`
   * (`projection-refused`) until a manager resumes it, then runs again (`hold: false`: given up instead, for the
   * hold's own best-effort write). `undefined` when the scan was cancelled during a hold.
   *
   * A lean run tries a local activity first (`LOCAL_WRITE_BUDGET`: one attempt inside the workflow task); when it fails
   * for a retryable reason (an outage, a timeout), the regular activity with the full budget takes over, and all goes on
   * as above. A refusal (`ProjectionDataError`) is final either way.
   */
  async durably<T>(
    activity: string,
    call: (a: DatabaseActivityProxies) => Promise<T>,
    opts: { hold?: boolean; split?: boolean } = {},
  ): Promise<T | undefined> {
    let pauses = 0;
    let local = this.s.lean;
    /** Lean runs: this call counts in `offLane` (it waits beyond the workflow task). */
    let off = false;
    try {
      for (;;) {
        try {
          if (this.s.lean && !local) {
            // The run blocks beyond this workflow task: operators see its search attributes as of now.
            this.flushAttributes();
            if (!off) this.offLane += 1;
            off = true;
          }
          const out = local
            ? await this.onLocalLane(() => call(localDatabaseActivities))
            : await call(this.db);
          if (local && isLocalNotWritten(out)) {
            // The local attempt answered that it did not write (the database is slow or away): as a failure below.
            local = false;
            continue;
          }
          if (this.stalled?.activity === activity) this.stalled = undefined;
          return out;
        } catch (err) {
          if (err instanceof CancelledFailure) throw err;
          if (err instanceof PastLocalBound) {
            // This workflow task has had its local activities: the regular activity writes it.
            local = false;
            continue;
          }
          const refused = refusal(err, activity);
          if (refused) {
            if (opts.hold === false) return undefined;
            // Steps written together: written again one by one (`persistParts`).
            if (opts.split) throw new RefusedTogether();
            log.warn('projection write refused by Postgres; the scan waits for a manager', {
              scanId: this.s.scanId,
              ...refused,
            });
            if (!(await this.s.attention.holdRefusedWrite(refused))) return undefined;
            continue;
          }
          if (local) {
            // The local attempt did not make it (the database is slow or away): the server retries from now on.
            local = false;
            continue;
          }
          pauses += 1;
          this.stalled = { since: this.stalled?.since ?? iso(this.s.now()), pauses, activity };
          log.warn('projection write outlived its retries; pausing before writing again', {
            scanId: this.s.scanId,
            activity,
            pauses,
          });
          this.flushAttributes();
          await sleep(this.pauseMs);
        }
      }
    } finally {
      if (off) this.offLane -= 1;
    }
  }

  /**
   * Runs local activities one at a time (lean runs). Replay resolves a local activity as soon as it is issued (its
   * marker is in the history), while the first run resolved it when it completed: with two outstanding at once, the
   * coroutines awaiting them could resume in another order on replay (a write of a message handler and a reservation
   * of the main loop, say) and issue their commands in another order. One at a time, each resolves alone, in the same
   * place on replay as in the first run.
   */
  private onLocalLane<T>(run: () => Promise<T>): Promise<T> {
    const out = this.localLane.then(() => {
      if (!this.localAllowed()) throw new PastLocalBound();
      return run();
    });
    this.localLane = out.then(
      () => undefined,
      () => undefined,
    );
    return out;
  }

  /**
   * Whether a local activity may be issued now: at most `MAX_LOCAL_WRITES_PER_TASK` in one workflow task, so their
   * budgets together stay far inside the task's heartbeat (`BOUNDED_LOCAL_WRITES`). Counted when issued, not queued.
   */
  private localAllowed(): boolean {
    const { historyLength } = workflowInfo();
    if (historyLength !== this.localInTask.historyLength) this.localInTask = { historyLength, count: 0 };
    if (this.localInTask.count >= MAX_LOCAL_WRITES_PER_TASK && patched(BOUNDED_LOCAL_WRITES)) return false;
    this.localInTask.count += 1;
    return true;
  }

  /** Wakes the waiting scans a write's freed capacity can serve (this scan itself included). */
  private wakeWaiting(out: ProjectionOutcome | undefined): void {
    for (const scanId of out?.wake ?? []) {
      if (scanId === this.s.scanId) {
        this.s.capacity.signalled();
        continue;
      }
      const sent = getExternalWorkflowHandle(scanId)
        .signal(readersAvailableSignal)
        .catch(() => undefined); // the scan ended meanwhile: nobody to wake
      if (this.s.lean) this.wakesInFlight.push(sent);
    }
  }

  /**
   * Resolves once every wake-up signal sent so far is delivered (lean runs, before the run ends): the server drops a
   * signal to another workflow still pending when its sender completes, and with local writes the last writes, their
   * signals and the completion can share one workflow task.
   */
  async wakesDelivered(): Promise<void> {
    while (this.wakesInFlight.length > 0) {
      this.flushAttributes();
      await Promise.all(this.wakesInFlight.splice(0));
    }
  }

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
    const step: ProjectionStep = {
      scan: this.scanRow(change.scan),
      ...(change.tasks?.length ? { tasks: change.tasks } : {}),
      ...(change.result ? { result: change.result } : {}),
      audit,
      ...(change.leaveWaitlist ||
      (moved.from === 'waiting-for-readers' && (stage === 'cancelled' || stage === 'needs-attention'))
        ? { leaveWaitlist: true as const }
        : {}),
    };
    if (change.withNext) {
      this.holdForNext(step);
      return Promise.resolve();
    }
    return this.write(stageActivity(stage), step);
  }

  /**
   * Keeps a step to write with the scan's next write, as one activity (since `MERGED_PROJECTION_STEPS`: two writes
   * the workflow issues back to back, with nothing to wait for between them).
   */
  holdForNext(step: ProjectionStep): void {
    if (this.s.batched) {
      void this.holdWithNext(step, step.result ? 'recordRelease' : 'recordScan'); // the next write's caller sees the outcome
      return;
    }
    this.held = this.held ? mergeSteps(this.held, step) : step;
  }

  /**
   * Batched runs: {@link holdForNext}, resolving once this step is in Postgres (the submission that completes the
   * readings goes with the step the main loop writes next).
   */
  holdWithNext(step: ProjectionStep, activity: ProjectionActivity = 'recordReading'): Promise<void> {
    const p = part(activity, step);
    this.heldParts.push(p);
    return p.done;
  }

  /** Batched runs: writes held steps nobody else wrote (before the run ends). */
  writeHeld(): Promise<void> {
    const held = this.heldParts.splice(0);
    return held.length > 0 ? this.writeBatched(held) : Promise.resolve();
  }

  /**
   * Writes a projection step. Writes run one after another in the order the workflow issued them,
   * so Postgres sees the same sequence of states as the workflow (a stage never goes backwards).
   */
  write(activity: ProjectionActivity, next: ProjectionStep): Promise<void> {
    if (this.s.batched) return this.writeBatched([...this.heldParts.splice(0), part(activity, next)]);
    const step = this.held ? mergeSteps(this.held, next) : next;
    this.held = undefined;
    if (step.result) activity = 'recordRelease';
    refreshCurrentDetails(this.s);
    const summary = projectionSummary(step);
    // Before PROJECTION_OUTLASTS_OUTAGES: the activity's promise as it was (same microtask turns on replay).
    // Queued behind a write that waits beyond this workflow task (lean runs): operators see the attributes as of now.
    if (this.offLane > 0) this.flushAttributes();
    const run: Promise<unknown> = this.s.has(PROJECTION_OUTLASTS_OUTAGES)
      ? this.writeTail.then(() => this.persist(activity, step, summary))
      : this.writeTail.then(() => scanActivities[activity].executeWithOptions({ summary }, [step]));
    this.writeTail = run.then(
      () => undefined,
      () => undefined,
    );
    return run as Promise<void>;
  }

  /**
   * Batched runs: steps issued while another write is in flight wait for it with the others issued meanwhile, and go
   * to Postgres together, as one step (same rows and audit events in the same order, one transaction, one activity).
   * Resolves once the last of `parts` is written; each part's own promise once it is.
   */
  private writeBatched(parts: Part[]): Promise<void> {
    refreshCurrentDetails(this.s);
    if (this.offLane > 0) this.flushAttributes();
    const last = parts[parts.length - 1].done;
    if (this.batch) {
      this.batch.push(...parts);
      return last;
    }
    this.writing += 1;
    const batch = [...parts];
    if (this.writing > 1) this.batch = batch;
    const run = this.writeTail.then(() => {
      // From now on, steps issued wait for this write.
      if (this.batch === batch) this.batch = undefined;
      return this.persistParts(batch);
    });
    this.writeTail = run.then(
      () => {
        this.writing -= 1;
      },
      () => {
        this.writing -= 1;
      },
    );
    return last;
  }

  /**
   * Writes parts as one step. Refused for its data, the step is written again part by part, so the parts Postgres takes
   * are in (a submission never waits on a manager for another step's data) and the refused one holds the scan as alone.
   */
  private async persistParts(parts: Part[]): Promise<void> {
    try {
      if (parts.length > 1) {
        const step = parts.map((x) => x.step).reduce(mergeSteps);
        const activity = step.result ? 'recordRelease' : parts[parts.length - 1].activity;
        const summary = projectionSummary(step);
        try {
          this.wakeWaiting(
            await this.durably(activity, (a) => a[activity].executeWithOptions({ summary }, [step]), {
              split: true,
            }),
          );
          for (const x of parts) x.resolve();
          return;
        } catch (err) {
          if (!(err instanceof RefusedTogether)) throw err;
        }
      }
      for (const x of parts) {
        const activity = x.step.result ? 'recordRelease' : x.activity;
        await this.persist(activity, x.step, projectionSummary(x.step));
        x.resolve();
      }
    } catch (err) {
      for (const x of parts) x.reject(err);
      throw err;
    }
  }

  /** Resolves once every write issued so far is done. */
  idle(): Promise<void> {
    if (this.offLane > 0) this.flushAttributes();
    return this.writeTail;
  }

  private async persist(activity: ProjectionActivity, step: ProjectionStep, summary: string): Promise<void> {
    this.wakeWaiting(
      await this.durably(activity, (a) => a[activity].executeWithOptions({ summary }, [step])),
    );
  }

  /**
   * A write outside the serialized queue, given up if Postgres refuses it (a hold's own `needs-attention` row, while
   * the refused write blocks the queue).
   */
  writeBesideQueue(activity: ProjectionActivity, step: ProjectionStep): Promise<void> {
    return this.durably(activity, (a) => a[activity](step), { hold: false }).then(() => undefined);
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
    return {
      id: this.s.scanId,
      split: this.s.input.split,
      policy: this.s.policy.name,
      stage: this.s.stage,
      ...extra,
    };
  }

  /** The `tasks` row of a task as of now. */
  taskRow(t: TaskState): TaskRow {
    return { id: t.id, scanId: this.s.scanId, ...taskFacts(t) };
  }

  /** Sets `ScanId` and `Split` (once, at the start of the run) with the first `Stage`, `Readers` and `Overdue`. */
  initSearchAttributes(): void {
    if (this.s.lean) this.initialPending = true;
    this.syncSearchAttributes(true);
  }

  /**
   * Keeps `Stage`, `Readers` and `Overdue` current: upserts them when they changed since the last upsert; in a lean run,
   * at the next {@link flushAttributes} (where the run blocks), once for every change made until then.
   */
  syncSearchAttributes(initial = false): void {
    if (this.s.lean) {
      refreshCurrentDetails(this.s);
      this.attributesPending = true;
      return;
    }
    this.upsertAttributes(initial);
  }

  /**
   * Lean runs: upserts the search attribute changes made since the last upsert. Called (synchronously) where the run
   * may block beyond the current workflow task: before a timer or a condition, a regular activity, a queued write, at
   * the end of a message handler and of the run. A no-op in other runs (their changes were upserted at once).
   */
  flushAttributes(): void {
    if (!this.attributesPending) return;
    this.attributesPending = false;
    const initial = this.initialPending;
    this.initialPending = false;
    this.upsertAttributes(initial);
  }

  private upsertAttributes(initial: boolean): void {
    const readers = this.s.openReaders();
    const overdue = this.s.isOverdue();
    refreshCurrentDetails(this.s);
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
