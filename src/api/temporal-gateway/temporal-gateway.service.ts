import { Inject, Injectable } from '@nestjs/common';
import { Client, WorkflowExecutionAlreadyStartedError, WorkflowHandle } from '@temporalio/client';
import type { QueryDefinition, UpdateDefinition, WorkflowExecutionStatusName } from '@temporalio/client';

import type { Config } from '../../config/config';
import type { BatchProgress, IngestBatchInput } from '../../workflows/ingest-batch.messages';
import { progressQuery } from '../../workflows/ingest-batch.messages';
import { GOLD_SCHEDULER_ID, goldSettingsSignal } from '../../workflows/gold.messages';
// The scan workflow's messages by their module's name: the gateway speaks to four workflows.
import * as scanLifecycle from '../../workflows/scan-lifecycle.messages';
import type { ReleaseDatasetInput, ReleaseDatasetResult, ReleaseProgress } from '../../workflows/release-dataset.messages';
import { releaseProgressQuery, releaseWorkflowId } from '../../workflows/release-dataset.messages';
import { batchStartMetadata, scanStartMetadata } from '../../workflows/scan-ui.messages';
import { CONFIG, TEMPORAL_CLIENT, TEMPORAL_GATEWAY_OPTIONS } from '../deps';
import { ConflictError } from '../errors';
import type { ConflictReason } from '../errors';
import { fromTemporalError } from './temporal-errors';

/** A batch's progress as the API reports it: the workflow's, or `failed` with why when the workflow did not complete. */
export type BatchProgressView = Omit<BatchProgress, 'state'> & { state: BatchProgress['state'] | 'failed'; failure?: string };

/** The innermost message of a workflow failure (`WorkflowFailedError` → activity failure → application failure). */
function failureMessage(e: unknown): string | undefined {
  let message: string | undefined;
  let cur: unknown = e;
  for (let depth = 0; cur && typeof cur === 'object' && depth < 8; depth++) {
    const m = (cur as { message?: unknown }).message;
    if (typeof m === 'string' && m !== '' && !/^(Workflow execution failed|Activity task failed|Child Workflow execution failed)$/i.test(m)) message = m;
    cur = (cur as { cause?: unknown }).cause;
  }
  return message;
}

/** Deadlines of the gateway's calls (`ApiDeps.temporal`). */
export interface TemporalGatewayOptions {
  /** Longest wait for a workflow update's answer (submission, reassignment, deadline, cancel, resume), ms. Default 30 s. */
  updateTimeoutMs?: number;
  /** Longest wait for a query's answer (status, review context, batch progress), ms. Default 10 s. */
  queryTimeoutMs?: number;
}

export const DEFAULT_UPDATE_TIMEOUT_MS = 30_000;
export const DEFAULT_QUERY_TIMEOUT_MS = 10_000;

/** Longest wait for a running release's progress (optional in its view), ms. */
const RELEASE_PROGRESS_TIMEOUT_MS = 3_000;

/** What an update to a scan whose workflow has ended answers: the scan exists, so a 409 naming why. */
interface ClosedScanAnswer {
  reason: ConflictReason;
  message: string;
}

/** How long a rerun waits for a quarantined scan's run to complete. */
const RERUN_WAIT_MS = 5_000;

/** The latest run of a release's workflow, as `describe` tells it. */
export interface ReleaseRunView {
  runId: string;
  status: WorkflowExecutionStatusName;
  startTime: Date;
  closeTime?: Date;
}

/** How a closed release run ended: its result when it completed, else its failure's message (when it has one). */
export type ReleaseRunOutcome = { result: ReleaseDatasetResult } | { failure?: string };

/** Workflow id of a batch. */
export function batchWorkflowId(batchId: string): string {
  return `batch-${batchId}`;
}

/**
 * The Temporal gateway: the API's only door to Temporal. Starts, updates and queries of `scanLifecycle` and
 * `ingestBatch` go through it, each with a deadline, and every error they raise leaves it as a domain error
 * (src/api/errors.ts) — rejections by type, unknown workflows, missed deadlines (504), an unreachable server (503) —
 * so the answer reflects the workflow's truth and nothing else in the API knows Temporal's errors.
 */
@Injectable()
export class TemporalGateway {
  private readonly updateTimeoutMs: number;
  private readonly queryTimeoutMs: number;

  constructor(
    @Inject(TEMPORAL_CLIENT) private readonly client: Client,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(TEMPORAL_GATEWAY_OPTIONS) options: TemporalGatewayOptions,
  ) {
    this.updateTimeoutMs = options.updateTimeoutMs ?? DEFAULT_UPDATE_TIMEOUT_MS;
    this.queryTimeoutMs = options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  }

  private scan(scanId: string): WorkflowHandle {
    return this.client.workflow.getHandle(scanId);
  }

  /** Runs a client call; any error leaves as a domain error (or as itself when it is none: a 500). */
  private async call<T>(op: () => Promise<T>, resource: 'scan' | 'batch' | 'release' = 'scan'): Promise<T> {
    try {
      return await op();
    } catch (e) {
      throw fromTemporalError(e, resource) ?? e;
    }
  }

  private query<T, A extends unknown[]>(handle: WorkflowHandle, def: QueryDefinition<T, A>, resource: 'scan' | 'batch' | 'release', ...args: A): Promise<T> {
    return this.call(() => this.client.withDeadline(Date.now() + this.queryTimeoutMs, () => handle.query(def, ...args)), resource);
  }

  /**
   * Executes an update with the gateway's deadline. An update to a scan whose workflow has ended (Temporal: not
   * found) answers `closed` (409) when the scan exists, 404 otherwise.
   */
  private async update<R, A>(scanId: string, def: UpdateDefinition<R, [A]>, input: A, closed: ClosedScanAnswer): Promise<R> {
    try {
      return await this.call(() =>
        this.client.withDeadline(Date.now() + this.updateTimeoutMs, () => this.scan(scanId).executeUpdate(def, { args: [input] })),
      );
    } catch (e) {
      if ((e as { kind?: unknown }).kind === 'not-found' && (e as { resource?: unknown }).resource === 'scan' && (await this.exists(scanId))) {
        throw new ConflictError(closed.reason, closed.message);
      }
      throw e;
    }
  }

  /** Link to the workflow in the Temporal UI. */
  uiUrl(workflowId: string): string {
    const { uiUrl, namespace } = this.config.temporal;
    return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  }

  /** True when a workflow with this id exists (running or closed). */
  async exists(workflowId: string): Promise<boolean> {
    try {
      await this.client.workflow.getHandle(workflowId).describe();
      return true;
    } catch (e) {
      const mapped = fromTemporalError(e);
      if (mapped?.kind === 'not-found') return false;
      throw mapped ?? e;
    }
  }

  /**
   * How a scan's workflow stands, for the capacity queue (src/db/capacity-queue.ts): running, or closed with its
   * execution status (`NOT_FOUND` when Temporal does not know it). When Temporal cannot answer: running (nothing is
   * taken off the queue on a guess).
   */
  async workflowState(scanId: string): Promise<{ running: true } | { running: false; status: string }> {
    try {
      const d = await this.client.withDeadline(Date.now() + this.queryTimeoutMs, () => this.scan(scanId).describe());
      return d.status.name === 'RUNNING' ? { running: true } : { running: false, status: d.status.name };
    } catch (e) {
      return fromTemporalError(e)?.kind === 'not-found' ? { running: false, status: 'NOT_FOUND' } : { running: true };
    }
  }

  /**
   * Sends `readersAvailable` to waiting scans (capacity was added: a reader's cap raised, a reader activated or
   * added). Best effort: a scan that ended meanwhile needs no wake-up, and one missed is woken by its backstop timer.
   * Returns the scans signalled.
   */
  async wakeScans(scanIds: readonly string[]): Promise<string[]> {
    const sent = await Promise.all(
      scanIds.map((id) =>
        this.client
          .withDeadline(Date.now() + this.queryTimeoutMs, () => this.scan(id).signal(scanLifecycle.readersAvailableSignal))
          .then(() => id)
          .catch(() => undefined),
      ),
    );
    return sent.filter((id): id is string => id !== undefined);
  }

  /**
   * Starts a hidden gold scan's `goldScan` workflow (id = its scan id; `REJECT_DUPLICATE`: a source file is read once)
   * and makes sure the one `goldScheduler` runs with the current settings (signal-with-start). False when a workflow of
   * that id already existed.
   */
  async startGoldScan(input: scanLifecycle.ScanLifecycleInput, settings: { every: number; checkIntervalMs: number }): Promise<boolean> {
    let started = true;
    try {
      await this.client.workflow.start('goldScan', {
        workflowId: input.scanId,
        taskQueue: this.config.temporal.taskQueue,
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        args: [input],
      });
    } catch (e) {
      if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw fromTemporalError(e) ?? e;
      started = false;
    }
    try {
      await this.client.workflow.signalWithStart('goldScheduler', {
        workflowId: GOLD_SCHEDULER_ID,
        taskQueue: this.config.temporal.taskQueue,
        args: [settings],
        signal: goldSettingsSignal,
        signalArgs: [settings],
      });
    } catch (e) {
      throw fromTemporalError(e) ?? e;
    }
    return started;
  }

  /**
   * Starts the scan: `USE_EXISTING` while one runs, `REJECT_DUPLICATE` once it closed (a source file is read once).
   * Returns false when the scan already existed.
   *
   * `rerun`: a new run of a closed scan's workflow id (`ALLOW_DUPLICATE`), only for a quarantined scan given a
   * corrected file; `FAIL` if a run is already going (then false).
   */
  async startScan(input: scanLifecycle.ScanLifecycleInput, opts: { rerun?: boolean } = {}): Promise<boolean> {
    const start = async (): Promise<boolean> => {
      try {
        await this.client.workflow.start('scanLifecycle', {
          workflowId: input.scanId,
          taskQueue: this.config.temporal.taskQueue,
          workflowIdConflictPolicy: opts.rerun ? 'FAIL' : 'USE_EXISTING',
          workflowIdReusePolicy: opts.rerun ? 'ALLOW_DUPLICATE' : 'REJECT_DUPLICATE',
          args: [input],
          // What the Temporal UI shows of the scan: id, split, policy (never the file name).
          ...scanStartMetadata(input),
        });
        return true;
      } catch (e) {
        if (e instanceof WorkflowExecutionAlreadyStartedError) return false;
        throw fromTemporalError(e) ?? e;
      }
    };
    if (await start()) return true;
    if (!opts.rerun) return false;
    // A quarantined scan's run records the quarantine just before it completes: give it a moment to close.
    const closed = this.client.workflow
      .getHandle(input.scanId)
      .result()
      .then(
        () => true,
        () => true,
      );
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([closed, new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), RERUN_WAIT_MS)))]);
    clearTimeout(timer);
    return waited ? start() : false;
  }

  /** The latest run of a workflow: whether it runs, and the `sourceKey` its scan was started with (when readable). */
  async latestRun(workflowId: string): Promise<{ running: boolean; sourceKey?: string } | undefined> {
    const handle = this.client.workflow.getHandle(workflowId);
    let running: boolean;
    try {
      running = (await handle.describe()).status.name === 'RUNNING';
    } catch (e) {
      const mapped = fromTemporalError(e);
      if (mapped?.kind === 'not-found') return undefined;
      throw mapped ?? e;
    }
    try {
      const history = await handle.fetchHistory();
      const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      const input = payload ? this.client.options.loadedDataConverter.payloadConverter.fromPayload<scanLifecycle.ScanLifecycleInput>(payload) : undefined;
      return { running, ...(typeof input?.sourceKey === 'string' ? { sourceKey: input.sourceKey } : {}) };
    } catch {
      return { running };
    }
  }

  async startBatch(input: IngestBatchInput): Promise<void> {
    await this.call(
      () =>
        this.client.workflow.start('ingestBatch', {
          workflowId: batchWorkflowId(input.batchId),
          taskQueue: this.config.temporal.taskQueue,
          workflowIdConflictPolicy: 'USE_EXISTING',
          args: [input],
          ...batchStartMetadata(input),
        }),
      'batch',
    );
  }

  /**
   * A batch's progress (`progress` query). A batch whose workflow ended without completing (failed, terminated,
   * timed out, cancelled) reports `state: 'failed'` with the failure's message: its last progress is frozen where it
   * stopped (e.g. `listing`) and says nothing of the failure.
   */
  async batchProgress(batchId: string): Promise<BatchProgressView> {
    const handle = this.client.workflow.getHandle(batchWorkflowId(batchId));
    const desc = await this.call(() => handle.describe(), 'batch');
    const status = desc.status.name;
    if (status === 'RUNNING' || status === 'COMPLETED' || status === 'CONTINUED_AS_NEW') {
      return this.query(handle, progressQuery, 'batch');
    }
    const failure = await handle.result().then(
      () => `the batch workflow is ${status.toLowerCase()}`,
      (e: unknown) => failureMessage(e) ?? `the batch workflow is ${status.toLowerCase()}`,
    );
    // The last progress, when a worker can still answer the query of the closed run; zeros otherwise.
    const last = await this.query(handle, progressQuery, 'batch').catch(() => undefined);
    return {
      ...(last ?? {
        batchId,
        counts: { listed: 0, started: 0, duplicate: 0, accepted: 0, quarantined: 0, failed: 0 },
        inFlight: 0,
        runs: 1,
        startedAt: desc.startTime.toISOString(),
        recentQuarantined: [],
      }),
      state: 'failed',
      failure,
      ...(desc.closeTime ? { finishedAt: desc.closeTime.toISOString() } : {}),
    };
  }

  /**
   * Starts the `releaseDataset` workflow of a version (id `release-<version>`): a new run when the previous one closed
   * (`ALLOW_DUPLICATE`: a failed version may be built again), refused while one runs (`FAIL` → 409 `release-exists`).
   * Returns the run id.
   */
  async startRelease(input: ReleaseDatasetInput): Promise<string> {
    try {
      const handle = await this.client.workflow.start('releaseDataset', {
        workflowId: releaseWorkflowId(input.version),
        taskQueue: this.config.temporal.taskQueue,
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        args: [input],
      });
      return handle.firstExecutionRunId;
    } catch (e) {
      if (e instanceof WorkflowExecutionAlreadyStartedError) {
        throw new ConflictError('release-exists', `A workflow of release ${input.version} is still running; a version is never built twice at once.`, {
          version: input.version,
        });
      }
      throw fromTemporalError(e, 'release') ?? e;
    }
  }

  /**
   * A running release's progress (`progress` query of that run); undefined when the workflow cannot answer now (no
   * worker polls: the query is given a few seconds only, the release's row says where it stands anyway).
   */
  async releaseProgress(workflowId: string, runId?: string): Promise<ReleaseProgress | undefined> {
    const handle = this.client.workflow.getHandle(workflowId, runId);
    const deadline = Date.now() + Math.min(this.queryTimeoutMs, RELEASE_PROGRESS_TIMEOUT_MS);
    return this.client.withDeadline(deadline, () => handle.query(releaseProgressQuery)).catch(() => undefined);
  }

  /** The latest run of a release's workflow; undefined when there is none (never started, or past retention). */
  async releaseRun(workflowId: string): Promise<ReleaseRunView | undefined> {
    try {
      const d = await this.client.workflow.getHandle(workflowId).describe();
      return { runId: d.runId, status: d.status.name, startTime: d.startTime, ...(d.closeTime ? { closeTime: d.closeTime } : {}) };
    } catch (e) {
      const mapped = fromTemporalError(e, 'release');
      if (mapped?.kind === 'not-found') return undefined;
      throw mapped ?? e;
    }
  }

  /** How a closed run of a release's workflow ended (its result, or its failure's innermost message). */
  async releaseOutcome(workflowId: string, runId: string): Promise<ReleaseRunOutcome> {
    const handle = this.client.workflow.getHandle<(input: ReleaseDatasetInput) => Promise<ReleaseDatasetResult>>(workflowId, runId);
    try {
      return { result: await this.client.withDeadline(Date.now() + this.queryTimeoutMs, () => handle.result()) };
    } catch (e) {
      const mapped = fromTemporalError(e, 'release');
      if (mapped && mapped.kind !== 'not-found') throw mapped;
      return { failure: failureMessage(e) };
    }
  }

  status(scanId: string): Promise<scanLifecycle.ScanStatus> {
    return this.query(this.scan(scanId), scanLifecycle.statusQuery, 'scan');
  }

  reviewContext(scanId: string, taskId: string): Promise<scanLifecycle.ReviewContext> {
    return this.query(this.scan(scanId), scanLifecycle.reviewContextQuery, 'scan', taskId);
  }

  submitReading(scanId: string, input: scanLifecycle.SubmitReadingInput): Promise<scanLifecycle.SubmitReadingResult> {
    return this.update(scanId, scanLifecycle.submitReadingUpdate, input, { reason: 'task-not-open', message: 'The scan is no longer in reading; this task is closed.' });
  }

  reassignTask(scanId: string, input: scanLifecycle.ReassignTaskInput): Promise<scanLifecycle.ReassignTaskResult> {
    return this.update(scanId, scanLifecycle.reassignTaskUpdate, input, { reason: 'task-not-open', message: 'The scan is closed; its tasks cannot be reassigned.' });
  }

  extendDeadline(scanId: string, input: scanLifecycle.ExtendDeadlineInput): Promise<scanLifecycle.TaskView> {
    return this.update(scanId, scanLifecycle.extendDeadlineUpdate, input, { reason: 'task-not-open', message: 'The scan is closed; its deadlines cannot change.' });
  }

  cancelScan(scanId: string, input: scanLifecycle.CancelScanInput): Promise<scanLifecycle.ScanStatus> {
    return this.update(scanId, scanLifecycle.cancelScanUpdate, input, { reason: 'invalid-state', message: 'The scan has finished; it cannot change.' });
  }

  resumeScan(scanId: string, input: scanLifecycle.ResumeScanInput): Promise<scanLifecycle.ScanStatus> {
    return this.update(scanId, scanLifecycle.resumeScanUpdate, input, { reason: 'invalid-state', message: 'The scan has finished; it cannot change.' });
  }
}
