import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

import { Inject, Injectable } from '@nestjs/common';

import type { Config } from '../../config/config';
import { Principal } from '../auth/principal';
import { CONFIG } from '../deps';
import { FieldProblem, NotFoundError, ValidationFailedError } from '../errors';
import { MetricsService } from '../metrics/metrics.service';
import { ScansService } from '../scans/scans.service';
import { batchWorkflowId, TemporalGateway } from '../temporal-gateway/temporal-gateway.service';
import { BatchProgressDto, CreateBatchDto, StartedBatchDto } from './batches.dto';
import { DEFAULT_POLICY_BY_SPLIT, DEFAULT_PRIORITY_BY_SPLIT } from '../../domain';

/** Batch ingest: a directory or a list of files under the import directory, ingested by the `ingestBatch` workflow. */
@Injectable()
export class BatchesService {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly scans: ScansService,
    private readonly workflows: TemporalGateway,
    private readonly metrics: MetricsService,
  ) {}

  async start(me: Principal, dto: CreateBatchDto): Promise<StartedBatchDto> {
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
      policy: this.scans.policyFor(dto.policy ?? DEFAULT_POLICY_BY_SPLIT[dto.split]),
      ...this.scans.taxonomyInput(),
      priority: dto.priority ?? DEFAULT_PRIORITY_BY_SPLIT[dto.split],
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
        problems.push({ path: at, code: 'outside-import-dir', message: `${JSON.stringify(p)} is not inside the import directory (READFLOW_IMPORT_DIR; give a path relative to it)` });
      }
      if (problems.length >= 20) break;
    }
    if (problems.length > 0) throw new ValidationFailedError(problems);
  }

  async progress(batchId: string): Promise<BatchProgressDto> {
    if (!/^[0-9a-f-]{36}$/i.test(batchId)) throw new NotFoundError('batch');
    const p = await this.workflows.batchProgress(batchId);
    return { ...p, workflowUrl: this.workflows.uiUrl(batchWorkflowId(batchId)) };
  }
}
