import { Inject, Injectable } from '@nestjs/common';

import { stageIncoming } from '../../ingest/stage-incoming';
import type { Config } from '../../config/config';
import { projectTaxonomy } from '../../config/config';
import { AuditEventsRepository, QuarantinedInputsRepository, ReadingsRepository, ScanResultsRepository, ScansRepository, TasksRepository } from '../../db/repositories';
import type { ScanRecord } from '../../db/repositories';
import { DEFAULT_POLICY_BY_SPLIT, DEFAULT_PRIORITY_BY_SPLIT, policyWithDeadlines } from '../../domain';
import type { PolicyName, ReadingPolicy, ScanStage, Taxonomy } from '../../domain';
import type { Logger } from '../../logger';
import type { BlobStore } from '../../storage/blob-store';
import { Principal } from '../auth/principal';
import { decodeCursor, pageOf } from '../common/cursor';
import { isOverdueRow, isoOrNull, taskSlotOf } from '../common/task-rows';
import type { Page } from '../common/cursor';
import { BLOB_STORE, CONFIG, LOGGER } from '../deps';
import { ConflictError, NotFoundError, ValidationFailedError } from '../errors';
import { MetricsService } from '../metrics/metrics.service';
import { TemporalGateway } from '../temporal-gateway/temporal-gateway.service';
import {
  CancelScanDto,
  ListScansQuery,
  ScanDetailDto,
  ScanLabelsDto,
  ScanExtensionDto,
  ScanStateDto,
  ScanSummaryDto,
  StartedScanDto,
  UploadScanDto,
} from './scans.dto';

/** Why a scan has no labels (yet, or ever): one sentence per stage. */
const NOT_RELEASED = {
  ingesting: 'The scan is ingesting; labels are available once it is released.',
  deidentifying: 'The scan is deidentifying; labels are available once it is released.',
  assigning: 'The scan is assigning; labels are available once it is released.',
  'waiting-for-readers': 'The scan is waiting for a reader with capacity; labels are available once it is released.',
  reading: 'The scan is reading; labels are available once it is released.',
  reviewing: 'The scan is reviewing; labels are available once it is released.',
  fusing: 'The scan is fusing; labels are available once it is released.',
  released: 'The scan is released, but its labels are not recorded yet; retry in a moment.',
  quarantined: 'The scan was quarantined at ingest; it has no labels.',
  'needs-attention': 'The scan is needs-attention; labels are available once it is released.',
  cancelled: 'The scan was cancelled; it has no labels.',
} as const satisfies Record<ScanStage, string>;


/** Scan upload, the scan list and detail, manager updates and released labels. */
@Injectable()
export class ScansService {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(BLOB_STORE) private readonly store: BlobStore,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly scans: ScansRepository,
    private readonly tasks: TasksRepository,
    private readonly readings: ReadingsRepository,
    private readonly results: ScanResultsRepository,
    private readonly audit: AuditEventsRepository,
    private readonly quarantine: QuarantinedInputsRepository,
    private readonly workflows: TemporalGateway,
    private readonly metrics: MetricsService,
  ) {}

  /** The full policy a new scan runs with: the named default, deadlines from the config when set. */
  policyFor(name: PolicyName): ReadingPolicy {
    return policyWithDeadlines(this.config.policies[name], {
      taskDeadlineMs: this.config.deadlines.taskMs,
      reviewDeadlineMs: this.config.deadlines.reviewMs,
    });
  }

  /** The project's own taxonomy for a new scan's input (none for the built-in VinDr-CXR one: the workflow's default). */
  taxonomyInput(): { taxonomy?: Taxonomy } {
    const taxonomy = projectTaxonomy(this.config);
    return taxonomy ? { taxonomy } : {};
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
      { store: this.store, deidSecret: this.config.deidSecret, maxDicomBytes: this.config.maxDicomBytes },
      file.buffer,
      filename,
    );
    const { scanId } = staged;
    const policyName: PolicyName = dto.policy ?? DEFAULT_POLICY_BY_SPLIT[dto.split];
    // The file name stays in the restricted originals store (stageIncoming): never in the workflow input.
    const input = {
      scanId,
      sourceKey: staged.sourceKey,
      split: dto.split,
      policy: this.policyFor(policyName),
      ...this.taxonomyInput(),
      priority: dto.priority ?? DEFAULT_PRIORITY_BY_SPLIT[dto.split],
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
      // The new run writes its own split and policy to the projection (the API never writes it).
      const sameBytes = await this.quarantine.has(staged.sha256);
      if (!sameBytes && (await this.workflows.startScan(input, { rerun: true }))) return started('ingesting');
      if (!sameBytes) existing = (await this.existingScan(scanId)) ?? existing;
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
    const row = await this.scans.get(scanId);
    if (row) return { stage: row.stage, split: row.split, policy: row.policy };
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
  /** Newest first; keyset over (created_at, id) on ix_scans_stage_created / ix_scans_split_created / ix_scans_created. */
  async list(q: ListScansQuery): Promise<Page<ScanSummaryDto>> {
    const limit = q.limit ?? 50;
    const after = decodeCursor(q.cursor, 2, ['timestamp', 'id']);
    const rows = await this.scans.page({ stage: q.stage, split: q.split }, { limit, after: after ? [String(after[0]), String(after[1])] : undefined });
    return pageOf(rows, limit, (r) => [r.created_key, r.id], (r) => this.summary(r));
  }

  private summary(r: ScanRecord): ScanSummaryDto {
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
      releasedAt: isoOrNull(r.released_at),
      workflowUrl: this.workflows.uiUrl(r.id),
      gold: r.gold === true,
      extended: r.extended ?? null,
    };
  }

  async detail(scanId: string): Promise<ScanDetailDto> {
    const r = await this.scans.get(scanId);
    if (!r) throw new NotFoundError('scan');
    const tasks = await this.tasks.ofScan(scanId);
    const now = Date.now();
    const cancellation = r.stage === 'cancelled' ? await this.cancellation(scanId) : null;
    const decision = r.policy === 'adaptive-3-5' ? await this.audit.latest(scanId, 'reading:adaptive-decision') : undefined;
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
      tasks: tasks.map((t) => ({ ...taskSlotOf(t), status: t.status, submittedAt: isoOrNull(t.submitted_at), overdue: isOverdueRow(t, now) })),
      extension: decision ? extensionOf(decision.detail) : null,
    };
  }

  /**
   * Who cancelled a scan and why: from its `stage:cancelled` audit event (written with the stage), else from the
   * workflow's `status` query (`cancelled`, `cancelReason`), which needs a worker to answer for a closed scan.
   */
  private async cancellation(scanId: string): Promise<{ by: string | null; reason: string | null } | null> {
    const event = await this.audit.latest(scanId, 'stage:cancelled');
    if (event) return { by: event.actor, reason: typeof event.detail?.reason === 'string' ? event.detail.reason : null };
    const status = await this.workflows.status(scanId).catch(() => undefined);
    if (!status?.cancelled) return null;
    return { by: status.cancelled.by, reason: status.cancelReason ?? status.cancelled.reason ?? null };
  }

  async cancel(me: Principal, scanId: string, dto: CancelScanDto): Promise<ScanStateDto> {
    const s = await this.workflows.cancelScan(scanId, { by: me.readerId, ...(dto.reason ? { reason: dto.reason } : {}) });
    return { scanId: s.scanId, stage: s.stage, ...(s.attentionReason ? { attentionReason: s.attentionReason } : {}) };
  }

  async resume(me: Principal, scanId: string): Promise<ScanStateDto> {
    const s = await this.workflows.resumeScan(scanId, { by: me.readerId });
    return { scanId: s.scanId, stage: s.stage, ...(s.attentionReason ? { attentionReason: s.attentionReason } : {}) };
  }

  /** Fused and final labels, every reading and the agreement of a released scan. */
  async labels(scanId: string): Promise<ScanLabelsDto> {
    const scan = await this.scans.get(scanId);
    if (!scan) throw new NotFoundError('scan');
    const res = await this.results.get(scanId);
    if (scan.stage !== 'released' || !res) throw new ConflictError('not-released', NOT_RELEASED[scan.stage]);
    const readings = await this.readings.ofScan(scanId);
    return {
      scanId,
      imageId: scan.image_id?.trim() ?? '',
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

/** The extension decision of an adaptive scan, as its `reading:adaptive-decision` audit event recorded it. */
function extensionOf(d: Record<string, unknown> | null | undefined): ScanExtensionDto | null {
  if (!d) return null;
  const num = (k: string): number => (typeof d[k] === 'number' ? (d[k] as number) : 0);
  return {
    extended: d.extended === true,
    reason: typeof d.reason === 'string' ? d.reason : 'agreed',
    agreement: num('agreement'),
    meanBoxF1: num('meanBoxF1'),
    meanLabelAgreement: num('meanLabelAgreement'),
    disputedFindings: num('disputedFindings'),
    ...(typeof d.unconfirmedFinding === 'number' ? { unconfirmedFinding: d.unconfirmedFinding } : {}),
    bound: num('bound'),
    extraReaders: num('extraReaders'),
    readingsRequired: num('readingsRequired'),
    decidedAt: typeof d.decidedAt === 'string' ? d.decidedAt : '',
  };
}
