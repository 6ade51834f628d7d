import { Inject, Injectable } from '@nestjs/common';

import type { Config } from '../../config/config';
import { GoldRepository, ScansRepository } from '../../db/repositories';
import { AGREEMENT_IOU, goldAccuracy, validateReading, VINDR_CXR_TAXONOMY } from '../../domain';
import type { Problem } from '../../domain';
import { stageIncoming } from '../../ingest/stage-incoming';
import type { BlobStore } from '../../storage/blob-store';
import type { Principal } from '../auth/principal';
import { BLOB_STORE, CONFIG } from '../deps';
import { ConflictError, ValidationFailedError } from '../errors';
import { TemporalGateway } from '../temporal-gateway/temporal-gateway.service';
import type { StartedScanDto } from '../scans/scans.dto';
import type { GoldAccuracyDto, GoldAccuracyQuery, GoldListDto, GoldUploadDto } from './gold.dto';

/**
 * Reference boxes are checked against the taxonomy and for shape here; the image size is not known before the
 * scan is de-identified, so coordinates are bounded by the largest DICOM image (65535 × 65535).
 */
const ANY_IMAGE = { rows: 65535, columns: 65535 };

/** Hidden gold scans: upload with a reference reading, list, and each reader's accuracy on them. */
@Injectable()
export class GoldService {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(BLOB_STORE) private readonly store: BlobStore,
    private readonly gold: GoldRepository,
    private readonly scans: ScansRepository,
    private readonly workflows: TemporalGateway,
  ) {}

  /** Stages the file, records it as gold with its reference and starts its `goldScan` (and the gold scheduler). */
  async upload(me: Principal, file: { buffer: Buffer } | undefined, dto: GoldUploadDto): Promise<{ created: boolean; scan: StartedScanDto }> {
    const problems: Problem[] = [];
    if (!file || file.buffer.length === 0) problems.push({ path: 'file', code: 'required', message: 'a non-empty multipart part "file" is required' });
    let parsed: unknown;
    try {
      parsed = JSON.parse(dto.reference);
    } catch {
      problems.push({ path: 'reference', code: 'invalid-json', message: 'reference must be a JSON reading { boxes, globalLabels }' });
    }
    const checked = parsed === undefined ? undefined : validateReading(parsed, { taxonomy: VINDR_CXR_TAXONOMY, image: ANY_IMAGE });
    if (checked && !checked.ok) problems.push(...checked.problems.map((p) => ({ ...p, path: p.path ? `reference.${p.path}` : 'reference' })));
    if (problems.length > 0 || !file || !checked?.ok) throw new ValidationFailedError(problems);

    const staged = await stageIncoming({ store: this.store, deidSecret: this.config.deidSecret, maxDicomBytes: this.config.maxDicomBytes }, file.buffer);
    const { scanId } = staged;
    const existing = await this.scans.get(scanId);
    const wasGold = await this.gold.isGold(scanId);
    if (existing && !wasGold) {
      throw new ConflictError('already-exists', `This file is scan ${scanId}, an ordinary scan: it cannot become gold.`, { scanId });
    }
    await this.gold.insert({ scanId, boxes: checked.reading.boxes, globalLabels: checked.reading.globalLabels, createdBy: me.readerId });
    // The gold scan reads under the same policy and deadlines as an ordinary training scan: nothing tells them apart.
    const base = this.config.policies['independent-3'];
    const policy = {
      ...base,
      taskDeadlineMs: this.config.deadlines.taskMs ?? base.taskDeadlineMs,
      reviewDeadlineMs: this.config.deadlines.reviewMs ?? base.reviewDeadlineMs,
    };
    const created = await this.workflows.startGoldScan(
      { scanId, sourceKey: staged.sourceKey, split: 'train', policy, startedBy: me.readerId },
      this.config.gold,
    );
    const row = await this.scans.get(scanId);
    return { created, scan: { scanId, workflowId: scanId, stage: row?.stage ?? 'ingesting', workflowUrl: this.workflows.uiUrl(scanId) } };
  }

  async list(): Promise<GoldListDto> {
    const rows = await this.gold.list();
    return {
      items: rows.map((r) => ({
        scanId: r.scan_id,
        stage: r.stage,
        tasks: r.tasks,
        submitted: r.submitted,
        createdBy: r.created_by,
        createdAt: new Date(r.created_at).toISOString(),
        workflowUrl: this.workflows.uiUrl(r.scan_id),
      })),
    };
  }

  /** Per-reader accuracy on gold scans (box F1 at IoU ≥ 0.4 and label agreement with the reference), over time. */
  async accuracy(q: GoldAccuracyQuery): Promise<GoldAccuracyDto> {
    const rows = await this.gold.readings(q.readerId);
    const readers = goldAccuracy(
      rows.map((r) => ({
        readerId: r.reader_id,
        goldScanId: r.scan_id,
        submittedAt: new Date(r.submitted_at).toISOString(),
        reading: { boxes: r.boxes, globalLabels: r.global_labels },
        reference: { boxes: r.reference_boxes, globalLabels: r.reference_global_labels },
      })),
      { period: q.period ?? 'month' },
    );
    return { iouThreshold: AGREEMENT_IOU, readers };
  }
}
