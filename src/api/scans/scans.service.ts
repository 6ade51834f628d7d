import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { stageIncoming } from '../../ingest/stage-incoming';
import type { Config } from '../../config/config';
import type { ScanStage, StoredBox, StoredFusedBox, TaskRole } from '../../db/entities';
import { DEFAULT_POLICIES, DEFAULT_POLICY_BY_SPLIT, policyWithDeadlines } from '../../domain';
import type { PolicyName, ReadingPolicy } from '../../domain';
import type { Logger } from '../../logger';
import type { BlobStore } from '../../storage/blob-store';
import { Principal } from '../auth/principal';
import { decodeCursor, pageOf, tsKey } from '../common/cursor';
import type { Page } from '../common/cursor';
import { BLOB_STORE, CONFIG, DATA_SOURCE, LOGGER } from '../deps';
import { ConflictError, FieldProblem, NotFoundError, ValidationFailedError } from '../errors';
import { MetricsService } from '../metrics/metrics.service';
import { closedScan } from '../tasks/tasks.service';
import type { TaskSqlRow } from '../tasks/tasks.service';
import { batchWorkflowId, ScanWorkflowsService } from '../workflows/scan-workflows.service';
import {
  BatchProgressDto,
  CancelScanDto,
  CreateBatchDto,
  ListScansQuery,
  ScanDetailDto,
  ScanLabelsDto,
  ScanStateDto,
  ScanSummaryDto,
  StartedBatchDto,
  StartedScanDto,
  UploadScanDto,
} from './scans.dto';

interface ScanRow {
  id: string;
  image_id: string | null;
  split: string;
  policy: string;
  stage: ScanStage;
  batch_id: string | null;
  modality: string | null;
  view_position: string | null;
  rows: number | null;
  columns: number | null;
  pixel_spacing: number[] | null;
  transfer_syntax: string | null;
  quarantine_reason: string | null;
  attention_reason: string | null;
  created_at: Date;
  updated_at: Date;
  released_at: Date | null;
  created_key: string;
}

const SCAN_COLUMNS = `id, image_id, split, policy, stage, batch_id, modality, view_position, rows, columns, pixel_spacing,
  transfer_syntax, quarantine_reason, attention_reason, created_at, updated_at, released_at, ${tsKey('created_at')} AS created_key`;

/** Why a scan has no labels (yet, or ever). */
function notReleasedMessage(stage: ScanStage): string {
  switch (stage) {
    case 'cancelled':
      return 'The scan was cancelled; it has no labels.';
    case 'quarantined':
      return 'The scan was quarantined at ingest; it has no labels.';
    default:
      return `The scan is ${stage}; labels are available once it is released.`;
  }
}

const iso = (d: Date | null): string | null => (d === null ? null : new Date(d).toISOString());

/** Scan ingest (upload, batches), the scan list and detail, manager updates and released labels. */
@Injectable()
export class ScansService {
  constructor(
    @Inject(DATA_SOURCE) private readonly ds: DataSource,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(BLOB_STORE) private readonly store: BlobStore,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly workflows: ScanWorkflowsService,
    private readonly metrics: MetricsService,
  ) {}

  /** The full policy a new scan runs with: the named default, deadlines from the config when set. */
  policyFor(name: PolicyName): ReadingPolicy {
    return policyWithDeadlines(DEFAULT_POLICIES[name], {
      taskDeadlineMs: this.config.deadlines.taskMs,
      reviewDeadlineMs: this.config.deadlines.reviewMs,
    });
  }

  /**
   * Stages the upload, then starts `scanLifecycle` with workflowId = scanId. `created` is false when the scan already
   * existed (same SOP Instance UID) with the same split and policy: nothing new is started (200). With another split or
   * policy: 409 `scan-exists-with-other-settings`. A quarantined scan given different bytes (a corrected file) starts a
   * new run of its workflow id (202). Whenever nothing new starts, the copy just staged in `incoming/` is deleted unless
   * the scan's running ingest still reads it.
   */
  async upload(
    me: Principal,
    file: { buffer: Buffer; originalname?: string } | undefined,
    dto: UploadScanDto,
  ): Promise<{ created: boolean; scan: StartedScanDto }> {
    if (!file || file.buffer.length === 0) {
      throw new ValidationFailedError([{ path: 'file', code: 'required', message: 'a non-empty multipart part "file" is required' }]);
    }
    const filename = file.originalname ? file.originalname.slice(0, 255) : undefined;
    const staged = await stageIncoming(
      { store: this.store, deidSecret: this.config.deidSecret ?? '', maxDicomBytes: this.config.maxDicomBytes },
      file.buffer,
      filename,
    );
    const { scanId } = staged;
    const policyName: PolicyName = dto.policy ?? DEFAULT_POLICY_BY_SPLIT[dto.split];
    const input = {
      scanId,
      sourceKey: staged.sourceKey,
      ...(filename ? { filename } : {}),
      split: dto.split,
      policy: this.policyFor(policyName),
      startedBy: me.readerId,
    };
    const started = (stage: ScanStage): { created: boolean; scan: StartedScanDto } => {
      this.metrics.ingests.inc({ outcome: 'new' });
      return { created: true, scan: { scanId, workflowId: scanId, stage, workflowUrl: this.workflows.uiUrl(scanId) } };
    };

    let existing = await this.existingScan(scanId);
    if (!existing) {
      if (await this.workflows.startScan(input)) return started('ingesting');
      existing = await this.existingScan(scanId);
    }
    if (existing?.stage === 'quarantined') {
      const sameBytes: unknown[] = await this.ds.query(`SELECT 1 FROM quarantined_inputs WHERE sha256 = $1`, [staged.sha256]);
      if (sameBytes.length === 0 && (await this.workflows.startScan(input, { rerun: true }))) {
        // The projection upserts never change split and policy: the new run's are set here (the stage is the workflow's).
        await this.ds.query(`UPDATE scans SET split = $2, policy = $3, updated_at = now() WHERE id = $1`, [scanId, dto.split, policyName]);
        return started('ingesting');
      }
      if (sameBytes.length === 0) existing = (await this.existingScan(scanId)) ?? existing;
    }
    await this.discardStaged(scanId, staged, existing?.stage);
    this.metrics.ingests.inc({ outcome: 'existing' });
    if (existing?.split !== undefined && (existing.split !== dto.split || existing.policy !== policyName)) {
      throw new ConflictError(
        'scan-exists-with-other-settings',
        `This file is scan ${scanId}, which exists with split ${existing.split} and policy ${existing.policy}; ` +
          `the requested split ${dto.split} and policy ${policyName} were not applied.`,
        { scanId, split: existing.split, policy: existing.policy, stage: existing.stage, workflowUrl: this.workflows.uiUrl(scanId) },
      );
    }
    return {
      created: false,
      scan: { scanId, workflowId: scanId, stage: existing?.stage ?? 'ingesting', workflowUrl: this.workflows.uiUrl(scanId) },
    };
  }

  /** A scan's stage and settings: its projection row, else (just started, not yet projected) its workflow's status. */
  private async existingScan(scanId: string): Promise<{ stage: ScanStage; split?: string; policy?: string } | undefined> {
    const rows: { stage: ScanStage; split: string; policy: string }[] = await this.ds.query(`SELECT stage, split, policy FROM scans WHERE id = $1`, [scanId]);
    if (rows[0]) return rows[0];
    if (!(await this.workflows.exists(scanId))) return undefined;
    // Settings unknown when the status query cannot be answered (no worker): then they are not compared.
    const status = await this.workflows.status(scanId).catch(() => undefined);
    return status ? { stage: status.stage, split: status.split, policy: status.policy } : { stage: 'ingesting' };
  }

  /**
   * Deletes an upload's `incoming/` copy when nothing new was started for it — unless the scan's running workflow was
   * started with these very bytes and is still in ingest without them in `originals/` (its ingest still reads them).
   */
  private async discardStaged(scanId: string, staged: { sourceKey: string; sha256: string }, stage: ScanStage | undefined): Promise<void> {
    try {
      const inIngest = stage === undefined || stage === 'ingesting' || stage === 'needs-attention';
      const run = inIngest ? await this.workflows.latestRun(scanId) : undefined;
      if (run?.running && (run.sourceKey === undefined || run.sourceKey === staged.sourceKey)) {
        if (!(await this.store.stat('originals', staged.sha256))) return;
      }
      await this.store.delete('incoming', staged.sourceKey);
    } catch (err) {
      this.logger.warn({ err, scanId }, 'could not discard a duplicate upload from incoming/');
    }
  }
  async startBatch(me: Principal, dto: CreateBatchDto): Promise<StartedBatchDto> {
    if ((dto.directory === undefined) === (dto.files === undefined)) {
      throw new ValidationFailedError([
        { path: dto.directory === undefined ? '' : 'files', code: 'one-of', message: 'give exactly one of directory or files' },
      ]);
    }
    await this.checkImportPaths(dto);
    const batchId = randomUUID();
    await this.workflows.startBatch({
      batchId,
      manifest: dto.directory !== undefined ? { kind: 'directory', directory: dto.directory } : { kind: 'files', files: dto.files ?? [] },
      split: dto.split,
      policy: this.policyFor(dto.policy ?? DEFAULT_POLICY_BY_SPLIT[dto.split]),
      startedBy: me.readerId,
    });
    this.metrics.ingests.inc({ outcome: 'batch' });
    return { batchId, workflowId: batchWorkflowId(batchId), workflowUrl: this.workflows.uiUrl(batchWorkflowId(batchId)) };
  }

  /**
   * Refuses at once (422) what the workers would refuse anyway: paths outside the import directory (lexically, as
   * the batch activities check first; they check symlinks again on the worker) and paths with NUL bytes.
   */
  private async checkImportPaths(dto: CreateBatchDto): Promise<void> {
    const configured = path.resolve(this.config.importDir);
    const real = await fsp.realpath(configured).catch(() => configured);
    const inside = (p: string): boolean => [configured, real].some((root) => p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep));
    const entries: [string, string][] = dto.directory !== undefined ? [['directory', dto.directory]] : (dto.files ?? []).map((f, i) => [`files[${i}]`, f]);
    const problems: FieldProblem[] = [];
    for (const [at, p] of entries) {
      if (p.includes('\0')) problems.push({ path: at, code: 'invalid-format', message: 'a path cannot contain NUL bytes' });
      else if (!inside(path.resolve(configured, p))) {
        problems.push({ path: at, code: 'outside-import-dir', message: `${JSON.stringify(p)} is not inside the import directory ${configured}` });
      }
      if (problems.length >= 20) break;
    }
    if (problems.length > 0) throw new ValidationFailedError(problems);
  }

  async batchProgress(batchId: string): Promise<BatchProgressDto> {
    if (!/^[0-9a-f-]{36}$/i.test(batchId)) throw new NotFoundError('batch');
    const p = await this.workflows.batchProgress(batchId);
    return { ...p, workflowUrl: this.workflows.uiUrl(batchWorkflowId(batchId)) };
  }

  /** Newest first; keyset over (created_at, id) on ix_scans_stage_created / ix_scans_split_created / ix_scans_created. */
  async list(q: ListScansQuery): Promise<Page<ScanSummaryDto>> {
    const limit = q.limit ?? 50;
    const after = decodeCursor(q.cursor, 2);
    const params: unknown[] = [limit + 1];
    const where: string[] = [];
    if (q.stage) where.push(`stage = $${params.push(q.stage)}`);
    if (q.split) where.push(`split = $${params.push(q.split)}`);
    if (after) where.push(`(created_at, id) < ($${params.push(after[0])}::timestamptz, $${params.push(after[1])})`);
    const rows: ScanRow[] = await this.ds.query(
      `SELECT ${SCAN_COLUMNS} FROM scans ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY created_at DESC, id DESC LIMIT $1`,
      params,
    );
    return pageOf(rows, limit, (r) => [r.created_key, r.id], (r) => this.summary(r));
  }

  private summary(r: ScanRow): ScanSummaryDto {
    return {
      scanId: r.id,
      imageId: r.image_id?.trim() ?? null,
      stage: r.stage,
      split: r.split,
      policy: r.policy,
      batchId: r.batch_id,
      // A quarantined scan ingested again from a corrected file keeps the old reason in its row until it is quarantined again.
      quarantineReason: r.stage === 'quarantined' ? r.quarantine_reason : null,
      attentionReason: r.attention_reason,
      createdAt: new Date(r.created_at).toISOString(),
      updatedAt: new Date(r.updated_at).toISOString(),
      releasedAt: iso(r.released_at),
      workflowUrl: this.workflows.uiUrl(r.id),
    };
  }

  async detail(scanId: string): Promise<ScanDetailDto> {
    const rows: ScanRow[] = await this.ds.query(`SELECT ${SCAN_COLUMNS} FROM scans WHERE id = $1`, [scanId]);
    const r = rows[0];
    if (!r) throw new NotFoundError('scan');
    const tasks: TaskSqlRow[] = await this.ds.query(
      `SELECT id, reader_id, role, slot, round, status, assigned_at, due_at, submitted_at
         FROM tasks WHERE scan_id = $1 ORDER BY role DESC, round, slot, assigned_at, id`,
      [scanId],
    );
    const now = Date.now();
    const cancellation = r.stage === 'cancelled' ? await this.cancellation(scanId) : null;
    return {
      ...this.summary(r),
      cancelledBy: cancellation?.by ?? null,
      cancelReason: cancellation?.reason ?? null,
      image: {
        rows: r.rows,
        columns: r.columns,
        pixelSpacing: r.pixel_spacing,
        modality: r.modality,
        viewPosition: r.view_position,
        transferSyntax: r.transfer_syntax,
      },
      tasks: tasks.map((t) => ({
        taskId: t.id,
        readerId: t.reader_id,
        role: t.role,
        slot: t.slot,
        round: t.round,
        status: t.status,
        assignedAt: new Date(t.assigned_at).toISOString(),
        dueAt: new Date(t.due_at).toISOString(),
        submittedAt: iso(t.submitted_at),
        overdue: t.status === 'open' && new Date(t.due_at).getTime() < now,
      })),
    };
  }

  /**
   * Who cancelled a scan and why: from its `stage:cancelled` audit event (written with the stage), else from the
   * workflow's `status` query (`cancelled`, `cancelReason`), which needs a worker to answer for a closed scan.
   */
  private async cancellation(scanId: string): Promise<{ by: string | null; reason: string | null } | null> {
    const rows: { actor: string; detail: { reason?: unknown } | null }[] = await this.ds.query(
      `SELECT actor, detail FROM audit_events WHERE scan_id = $1 AND action = 'stage:cancelled' ORDER BY at DESC, id DESC LIMIT 1`,
      [scanId],
    );
    if (rows[0]) return { by: rows[0].actor, reason: typeof rows[0].detail?.reason === 'string' ? rows[0].detail.reason : null };
    const status = await this.workflows.status(scanId).catch(() => undefined);
    if (!status?.cancelled) return null;
    return { by: status.cancelled.by, reason: status.cancelReason ?? status.cancelled.reason ?? null };
  }

  async cancel(me: Principal, scanId: string, dto: CancelScanDto): Promise<ScanStateDto> {
    const s = await this.orClosed(scanId, () => this.workflows.cancelScan(scanId, { by: me.readerId, ...(dto.reason ? { reason: dto.reason } : {}) }));
    return { scanId: s.scanId, stage: s.stage, ...(s.attentionReason ? { attentionReason: s.attentionReason } : {}) };
  }

  async resume(me: Principal, scanId: string): Promise<ScanStateDto> {
    const s = await this.orClosed(scanId, () => this.workflows.resumeScan(scanId, { by: me.readerId }));
    return { scanId: s.scanId, stage: s.stage, ...(s.attentionReason ? { attentionReason: s.attentionReason } : {}) };
  }

  /** An update to a finished workflow answers "not found": a 409 if the scan is known, a 404 otherwise. */
  private async orClosed<T>(scanId: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      if (closedScan(e, '') !== e) {
        const known: unknown[] = await this.ds.query(`SELECT 1 FROM scans WHERE id = $1`, [scanId]);
        if (known.length) throw new ConflictError('invalid-state', 'The scan has finished; it cannot change.');
      }
      throw e;
    }
  }

  /** Fused and final labels, every reading and the agreement of a released scan. */
  async labels(scanId: string): Promise<ScanLabelsDto> {
    const scans: { stage: ScanStage; image_id: string | null }[] = await this.ds.query(`SELECT stage, image_id FROM scans WHERE id = $1`, [scanId]);
    if (!scans[0]) throw new NotFoundError('scan');
    const results: {
      method: string;
      fused_boxes: StoredFusedBox[];
      fused_global_labels: string[];
      final_boxes: StoredBox[];
      final_global_labels: string[];
      agreement: Record<string, unknown>;
      released_at: Date;
    }[] = await this.ds.query(`SELECT * FROM scan_results WHERE scan_id = $1`, [scanId]);
    if (scans[0].stage !== 'released' || !results[0]) throw new ConflictError('not-released', notReleasedMessage(scans[0].stage));
    const res = results[0];
    const readings: {
      task_id: string;
      reader_id: string;
      role: TaskRole;
      boxes: StoredBox[];
      global_labels: string[];
      comment: string | null;
      decision: string | null;
      submitted_at: Date;
    }[] = await this.ds.query(
      `SELECT task_id, reader_id, role, boxes, global_labels, comment, decision, submitted_at
         FROM readings WHERE scan_id = $1 ORDER BY role, submitted_at, task_id`,
      [scanId],
    );
    return {
      scanId,
      imageId: scans[0].image_id?.trim() ?? '',
      fused: { boxes: res.fused_boxes as unknown as Record<string, unknown>[], globalLabels: res.fused_global_labels, method: res.method },
      final: { boxes: res.final_boxes, globalLabels: res.final_global_labels },
      readings: readings.map((x) => ({
        taskId: x.task_id,
        readerId: x.reader_id,
        role: x.role,
        boxes: x.boxes,
        globalLabels: x.global_labels,
        comment: x.comment,
        decision: x.decision,
        submittedAt: new Date(x.submitted_at).toISOString(),
      })),
      agreement: res.agreement,
      releasedAt: new Date(res.released_at).toISOString(),
    };
  }
}
