import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

import { scansToWake } from '../../db/capacity-queue';
import { ReadersRepository, ReadingsRepository, repositories } from '../../db/repositories';
import type { ReaderPatch, ReaderStatsRecord } from '../../db/repositories';
import { hashToken, newToken } from '../../db/tokens';
import { readerAgreementWithFused } from '../../domain';
import { AuthService } from '../auth/auth.service';
import { Principal } from '../auth/principal';
import { decodeCursor, pageOf } from '../common/cursor';
import type { Page } from '../common/cursor';
import { DATA_SOURCE, LOGGER } from '../deps';
import type { Logger } from '../../logger';
import { TemporalGateway } from '../temporal-gateway/temporal-gateway.service';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors';
import { CreateReaderDto, CreatedReaderDto, IssuedTokenDto, ListReadersQuery, ReaderDto, UpdateReaderDto } from './readers.dto';

/** The roster: readers with their workload and quality figures, tokens issued once and stored hashed. */
@Injectable()
export class ReadersService {
  constructor(
    /** For transactions: their repositories are built over the transaction's EntityManager. */
    @Inject(DATA_SOURCE) private readonly ds: DataSource,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly readers: ReadersRepository,
    private readonly readings: ReadingsRepository,
    private readonly auth: AuthService,
    private readonly workflows: TemporalGateway,
  ) {}

  /**
   * After a change that can add capacity (a reader added or activated, a cap raised, seniority changed): wakes the
   * waiting scans the readers can serve now (`readersAvailable`), at once rather than at their backstop timer. Best
   * effort: the change is committed whatever happens here.
   */
  private async wakeWaitingScans(): Promise<void> {
    try {
      const wake = await scansToWake(this.ds, (id) => this.workflows.workflowState(id));
      if (wake.length === 0) return;
      const sent = await this.workflows.wakeScans(wake);
      this.logger.info({ scans: sent.length }, 'reader capacity added: waiting scans woken');
    } catch (err) {
      this.logger.warn({ err }, 'could not wake the scans waiting for readers (their backstop timer will)');
    }
  }

  async list(q: ListReadersQuery): Promise<Page<ReaderDto>> {
    const limit = q.limit ?? 50;
    const after = decodeCursor(q.cursor, 1);
    const rows = await this.readers.page({ role: q.role }, { limit, afterId: after ? String(after[0]) : undefined });
    const page = pageOf(rows, limit, (r) => [r.id], (r) => r);
    const agreement = await this.agreementOf(page.items.map((r) => r.id));
    return { items: page.items.map((r) => toDto(r, agreement.get(r.id) ?? null)), nextCursor: page.nextCursor };
  }

  async get(id: string): Promise<ReaderDto> {
    const row = await this.readers.withStats(id);
    if (!row) throw new NotFoundError('reader');
    const agreement = await this.agreementOf([id]);
    return toDto(row, agreement.get(id) ?? null);
  }

  async create(by: Principal, dto: CreateReaderDto): Promise<CreatedReaderDto> {
    const role = dto.role ?? 'radiologist';
    if (role !== 'radiologist' && by.role !== 'admin') throw new ForbiddenError('Only an admin creates managers and admins.');
    // Who may give a reader credentials (issue 10, item 9): only an admin. A manager adds a radiologist (the request),
    // but gets no token for it, so no manager ever holds the credentials of an account they created and could
    // assign work to; an admin issues the token (POST /readers/{id}/token) and hands it to the person.
    const token = by.role === 'admin' ? newToken() : null;
    await this.ds.transaction(async (em) => {
      const db = repositories(em);
      const inserted = await db.readers.insert({
        id: dto.id,
        displayName: dto.displayName,
        role,
        senior: dto.senior ?? false,
        active: dto.active ?? true,
        openTaskCap: dto.openTaskCap ?? 50,
      });
      if (!inserted) throw new ConflictError('already-exists', `A reader with id "${dto.id}" already exists.`);
      if (token) await db.apiTokens.insert(dto.id, hashToken(token));
      await db.auditEvents.record(by.readerId, 'reader:created', { readerId: dto.id, role, senior: dto.senior ?? false, tokenIssued: token !== null });
    });
    if (dto.active ?? true) await this.wakeWaitingScans();
    return { ...(await this.get(dto.id)), token };
  }

  /**
   * Changes a reader. Managers change radiologists only (403 for managers and admins: an admin's job). An admin
   * cannot deactivate their own account, and the last active admin is never deactivated (409). Cached tokens of the
   * reader are evicted, so a deactivation takes effect on the next request (401 "deactivated").
   */
  async update(by: Principal, id: string, dto: UpdateReaderDto): Promise<ReaderDto> {
    const patch: ReaderPatch = {};
    if (dto.displayName !== undefined) patch.displayName = dto.displayName;
    if (dto.senior !== undefined) patch.senior = dto.senior;
    if (dto.active !== undefined) patch.active = dto.active;
    if (dto.openTaskCap !== undefined) patch.openTaskCap = dto.openTaskCap;
    await this.ds.transaction(async (em) => {
      const db = repositories(em);
      const target = await db.readers.lock(id);
      if (!target) throw new NotFoundError('reader');
      if (target.role !== 'radiologist' && by.role !== 'admin') {
        throw new ForbiddenError(`Only an admin changes a ${target.role}'s account.`);
      }
      if (Object.keys(patch).length === 0) return;
      if (patch.active === false && target.active) {
        if (id === by.readerId) throw new ConflictError('invalid-state', 'You cannot deactivate your own account; ask another admin.');
        if (target.role === 'admin') {
          // Lock every active admin row so two concurrent deactivations cannot both pass the check.
          if ((await db.readers.lockOtherActiveAdmins(id)) === 0) throw new ConflictError('invalid-state', `${id} is the last active admin; it cannot be deactivated.`);
        }
      }
      await db.readers.update(id, patch);
      await db.auditEvents.record(by.readerId, 'reader:updated', { readerId: id, ...patch });
    });
    this.auth.evictReader(id);
    if (patch.active !== undefined || patch.openTaskCap !== undefined || patch.senior !== undefined) await this.wakeWaitingScans();
    return this.get(id);
  }

  /** Revokes every live token of the reader and issues a new one (shown once). */
  async rotateToken(by: Principal, id: string): Promise<IssuedTokenDto> {
    const token = newToken();
    await this.ds.transaction(async (em) => {
      const db = repositories(em);
      if (!(await db.readers.lock(id))) throw new NotFoundError('reader');
      await db.apiTokens.revokeAll(id);
      await db.apiTokens.insert(id, hashToken(token));
      await db.auditEvents.record(by.readerId, 'reader:token-rotated', { readerId: id });
    });
    this.auth.evictReader(id);
    return { readerId: id, token };
  }

  /** Each reader's agreement with the fused labels of the released scans they read (domain `readerAgreementWithFused`). */
  private async agreementOf(readerIds: string[]): Promise<Map<string, ReaderDto['agreement']>> {
    const out = new Map<string, ReaderDto['agreement']>();
    if (readerIds.length === 0) return out;
    const rows = await this.readings.versusFused(readerIds);
    const scans = rows.map((r) => ({
      readings: [{ readerId: r.reader_id, reading: { boxes: r.boxes, globalLabels: r.global_labels } }],
      fused: { boxes: r.fused_boxes, globalLabels: r.fused_global_labels, method: r.method as 'wbf' },
    }));
    for (const a of readerAgreementWithFused(scans)) {
      out.set(a.readerId, { scans: a.scans, meanBoxF1: round(a.meanBoxF1), meanGlobalF1: round(a.meanGlobalF1) });
    }
    return out;
  }
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

function toDto(r: ReaderStatsRecord, agreement: ReaderDto['agreement']): ReaderDto {
  return {
    id: r.id,
    displayName: r.display_name,
    role: r.role,
    senior: r.senior,
    active: r.active,
    openTaskCap: r.open_task_cap,
    openTasks: Number(r.open_tasks),
    completedTasks: Number(r.completed_tasks),
    medianReadSeconds: r.median_read_seconds === null ? null : round(Number(r.median_read_seconds)),
    agreement,
    createdAt: new Date(r.created_at).toISOString(),
  };
}
