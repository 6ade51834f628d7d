import { randomUUID } from 'node:crypto';

import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';

import { ApiTokenEntity, ReaderEntity } from '../../db/entities';
import type { ReaderRole, StoredBox, StoredFusedBox } from '../../db/entities';
import { hashToken, newToken } from '../../db/tokens';
import { readerAgreementWithFused } from '../../domain';
import { AuthService } from '../auth/auth.service';
import { Principal } from '../auth/principal';
import { decodeCursor, pageOf } from '../common/cursor';
import type { Page } from '../common/cursor';
import { DATA_SOURCE } from '../deps';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors';
import { CreateReaderDto, CreatedReaderDto, IssuedTokenDto, ListReadersQuery, ReaderDto, UpdateReaderDto } from './readers.dto';

interface ReaderRow {
  id: string;
  display_name: string;
  role: ReaderRole;
  senior: boolean;
  active: boolean;
  open_task_cap: number;
  created_at: Date;
  open_tasks: string;
  completed_tasks: string;
  median_read_seconds: number | null;
}

/** Per-reader counts and median read time, each backed by ix_tasks_reader_status_due. */
const READER_SELECT = `
  SELECT r.id, r.display_name, r.role, r.senior, r.active, r.open_task_cap, r.created_at,
         (SELECT count(*) FROM tasks t WHERE t.reader_id = r.id AND t.status = 'open') AS open_tasks,
         (SELECT count(*) FROM tasks t WHERE t.reader_id = r.id AND t.status = 'submitted') AS completed_tasks,
         (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.submitted_at - t.assigned_at))
            FROM tasks t WHERE t.reader_id = r.id AND t.status = 'submitted' AND t.submitted_at IS NOT NULL
         ) AS median_read_seconds
    FROM readers r`;

/** The roster: readers with their workload and quality figures, tokens issued once and stored hashed. */
@Injectable()
export class ReadersService {
  constructor(
    @Inject(DATA_SOURCE) private readonly ds: DataSource,
    private readonly auth: AuthService,
  ) {}

  async list(q: ListReadersQuery): Promise<Page<ReaderDto>> {
    const limit = q.limit ?? 50;
    const after = decodeCursor(q.cursor, 1);
    const params: unknown[] = [];
    const where: string[] = [];
    if (q.role) where.push(`r.role = $${params.push(q.role)}`);
    if (after) where.push(`r.id > $${params.push(String(after[0]))}`);
    const rows: ReaderRow[] = await this.ds.query(
      `${READER_SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY r.id LIMIT $${params.push(limit + 1)}`,
      params,
    );
    const page = pageOf(rows, limit, (r) => [r.id], (r) => r);
    const agreement = await this.agreementOf(page.items.map((r) => r.id));
    return { items: page.items.map((r) => toDto(r, agreement.get(r.id) ?? null)), nextCursor: page.nextCursor };
  }

  async get(id: string): Promise<ReaderDto> {
    const rows: ReaderRow[] = await this.ds.query(`${READER_SELECT} WHERE r.id = $1`, [id]);
    if (rows.length === 0) throw new NotFoundError('reader');
    const agreement = await this.agreementOf([id]);
    return toDto(rows[0], agreement.get(id) ?? null);
  }

  async create(by: Principal, dto: CreateReaderDto): Promise<CreatedReaderDto> {
    const role = dto.role ?? 'radiologist';
    if (role !== 'radiologist' && by.role !== 'admin') throw new ForbiddenError('Only an admin creates managers and admins.');
    // Who may give a reader credentials (issue 10, item 9): only an admin. A manager adds a radiologist (the request),
    // but gets no token for it, so no manager ever holds the credentials of an account they created and could
    // assign work to; an admin issues the token (POST /readers/{id}/token) and hands it to the person.
    const token = by.role === 'admin' ? newToken() : null;
    await this.ds.transaction(async (em) => {
      const inserted: unknown[] = await em.query(
        `INSERT INTO readers (id, display_name, role, senior, active, open_task_cap)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING RETURNING id`,
        [dto.id, dto.displayName, role, dto.senior ?? false, dto.active ?? true, dto.openTaskCap ?? 50],
      );
      if (inserted.length === 0) throw new ConflictError('already-exists', `A reader with id "${dto.id}" already exists.`);
      if (token) await em.insert(ApiTokenEntity, { readerId: dto.id, tokenHash: hashToken(token) });
      await audit(em, by.readerId, 'reader:created', { readerId: dto.id, role, senior: dto.senior ?? false, tokenIssued: token !== null });
    });
    return { ...(await this.get(dto.id)), token };
  }

  /**
   * Changes a reader. Managers change radiologists only (403 for managers and admins: an admin's job). An admin
   * cannot deactivate their own account, and the last active admin is never deactivated (409). Cached tokens of the
   * reader are evicted, so a deactivation takes effect on the next request (401 "deactivated").
   */
  async update(by: Principal, id: string, dto: UpdateReaderDto): Promise<ReaderDto> {
    const patch: Partial<ReaderEntity> = {};
    if (dto.displayName !== undefined) patch.displayName = dto.displayName;
    if (dto.senior !== undefined) patch.senior = dto.senior;
    if (dto.active !== undefined) patch.active = dto.active;
    if (dto.openTaskCap !== undefined) patch.openTaskCap = dto.openTaskCap;
    await this.ds.transaction(async (em) => {
      const found: { role: ReaderRole; active: boolean }[] = await em.query(`SELECT role, active FROM readers WHERE id = $1 FOR UPDATE`, [id]);
      if (found.length === 0) throw new NotFoundError('reader');
      const target = found[0];
      if (target.role !== 'radiologist' && by.role !== 'admin') {
        throw new ForbiddenError(`Only an admin changes a ${target.role}'s account.`);
      }
      if (Object.keys(patch).length === 0) return;
      if (patch.active === false && target.active) {
        if (id === by.readerId) throw new ConflictError('invalid-state', 'You cannot deactivate your own account; ask another admin.');
        if (target.role === 'admin') {
          // Lock every active admin row so two concurrent deactivations cannot both pass the check.
          const admins: unknown[] = await em.query(`SELECT id FROM readers WHERE role = 'admin' AND active AND id <> $1 FOR UPDATE`, [id]);
          if (admins.length === 0) throw new ConflictError('invalid-state', `${id} is the last active admin; it cannot be deactivated.`);
        }
      }
      await em.getRepository(ReaderEntity).update({ id }, patch);
      await audit(em, by.readerId, 'reader:updated', { readerId: id, ...patch });
    });
    this.auth.evictReader(id);
    return this.get(id);
  }

  /** Revokes every live token of the reader and issues a new one (shown once). */
  async rotateToken(by: Principal, id: string): Promise<IssuedTokenDto> {
    const token = newToken();
    await this.ds.transaction(async (em) => {
      const found: unknown[] = await em.query(`SELECT 1 FROM readers WHERE id = $1 FOR UPDATE`, [id]);
      if (found.length === 0) throw new NotFoundError('reader');
      await em.query(`UPDATE api_tokens SET revoked_at = now() WHERE reader_id = $1 AND revoked_at IS NULL`, [id]);
      await em.insert(ApiTokenEntity, { readerId: id, tokenHash: hashToken(token) });
      await audit(em, by.readerId, 'reader:token-rotated', { readerId: id });
    });
    this.auth.evictReader(id);
    return { readerId: id, token };
  }

  /** Each reader's agreement with the fused labels of the released scans they read (domain `readerAgreementWithFused`). */
  private async agreementOf(readerIds: string[]): Promise<Map<string, ReaderDto['agreement']>> {
    const out = new Map<string, ReaderDto['agreement']>();
    if (readerIds.length === 0) return out;
    const rows: {
      reader_id: string;
      scan_id: string;
      boxes: StoredBox[];
      global_labels: string[];
      fused_boxes: StoredFusedBox[];
      fused_global_labels: string[];
      method: string;
    }[] = await this.ds.query(
      `SELECT rd.reader_id, rd.scan_id, rd.boxes, rd.global_labels, sr.fused_boxes, sr.fused_global_labels, sr.method
         FROM readings rd JOIN scan_results sr ON sr.scan_id = rd.scan_id
        WHERE rd.reader_id = ANY($1) AND rd.role = 'reader'`,
      [readerIds],
    );
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

/** Roster changes join the append-only audit trail (no scan), keyed uniquely. */
async function audit(em: EntityManager, actor: string, action: string, detail: Record<string, unknown>): Promise<void> {
  await em.query(`INSERT INTO audit_events (event_key, actor, action, detail, at) VALUES ($1, $2, $3, $4, now())`, [
    `api:${randomUUID()}`,
    actor,
    action,
    detail,
  ]);
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

function toDto(r: ReaderRow, agreement: ReaderDto['agreement']): ReaderDto {
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
