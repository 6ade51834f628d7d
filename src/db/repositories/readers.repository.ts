import type { RosterEntry } from '../../domain/assignment';
import type { ReaderRole } from '../../domain/vocabulary';
import type { Db } from './sql';

/** A member of the roster. */
export interface ReaderRecord {
  id: string;
  display_name: string;
  role: ReaderRole;
  senior: boolean;
  active: boolean;
  open_task_cap: number;
  created_at: Date;
}

/** A reader with their workload figures. */
export interface ReaderStatsRecord extends ReaderRecord {
  open_tasks: string;
  completed_tasks: string;
  median_read_seconds: number | null;
}

/** A new member of the roster. */
export interface ReaderInsert {
  id: string;
  displayName: string;
  role: ReaderRole;
  senior: boolean;
  active: boolean;
  openTaskCap: number;
}

/** Changes to a reader (undefined: unchanged). */
export interface ReaderPatch {
  displayName?: string;
  senior?: boolean;
  active?: boolean;
  openTaskCap?: number;
}

/** Per-reader counts and median read time, each backed by ix_tasks_reader_status_due. */
const WITH_STATS = `
  SELECT r.id, r.display_name, r.role, r.senior, r.active, r.open_task_cap, r.created_at,
         (SELECT count(*) FROM tasks t WHERE t.reader_id = r.id AND t.status IN ('open', 'reserved')) AS open_tasks,
         (SELECT count(*) FROM tasks t WHERE t.reader_id = r.id AND t.status = 'submitted') AS completed_tasks,
         (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.submitted_at - t.assigned_at))
            FROM tasks t WHERE t.reader_id = r.id AND t.status = 'submitted' AND t.submitted_at IS NOT NULL
         ) AS median_read_seconds
    FROM readers r`;

const PATCH_COLUMNS: ReadonlyArray<[keyof ReaderPatch, string]> = [
  ['displayName', 'display_name'],
  ['senior', 'senior'],
  ['active', 'active'],
  ['openTaskCap', 'open_task_cap'],
];

/** Data access of `readers`, the roster (with the task counts that describe each reader's workload). */
export class ReadersRepository {
  constructor(private readonly db: Db) {}

  async get(id: string): Promise<ReaderRecord | undefined> {
    const rows: ReaderRecord[] = await this.db.query(
      `SELECT id, display_name, role, senior, active, open_task_cap, created_at FROM readers WHERE id = $1`,
      [id],
    );
    return rows[0];
  }

  /** Readers by id (`limit + 1` rows after `afterId`), optionally of one role, with their workload. */
  page(filter: { role?: ReaderRole }, page: { limit: number; afterId?: string }): Promise<ReaderStatsRecord[]> {
    const params: unknown[] = [];
    const where: string[] = [];
    if (filter.role) where.push(`r.role = $${params.push(filter.role)}`);
    if (page.afterId !== undefined) where.push(`r.id > $${params.push(page.afterId)}`);
    return this.db.query(
      `${WITH_STATS} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY r.id LIMIT $${params.push(page.limit + 1)}`,
      params,
    );
  }

  async withStats(id: string): Promise<ReaderStatsRecord | undefined> {
    const rows: ReaderStatsRecord[] = await this.db.query(`${WITH_STATS} WHERE r.id = $1`, [id]);
    return rows[0];
  }

  /** Every reader of one role, by id (the board's per-reader figures name them). */
  ofRole(role: ReaderRole): Promise<ReaderRecord[]> {
    return this.db.query(
      `SELECT id, display_name, role, senior, active, open_task_cap, created_at FROM readers WHERE role = $1 ORDER BY id`,
      [role],
    );
  }

  /** Inserts a reader; false when the id is taken. */
  async insert(r: ReaderInsert): Promise<boolean> {
    const inserted: unknown[] = await this.db.query(
      `INSERT INTO readers (id, display_name, role, senior, active, open_task_cap)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [r.id, r.displayName, r.role, r.senior, r.active, r.openTaskCap],
    );
    return inserted.length > 0;
  }

  /** Locks a reader's row for the transaction (`FOR UPDATE`) and returns its role and active flag. */
  async lock(id: string): Promise<{ role: ReaderRole; active: boolean } | undefined> {
    const rows: { role: ReaderRole; active: boolean }[] = await this.db.query(`SELECT role, active FROM readers WHERE id = $1 FOR UPDATE`, [id]);
    return rows[0];
  }

  /** Locks every other active admin (so two concurrent deactivations cannot both pass the last-admin check); their count. */
  async lockOtherActiveAdmins(id: string): Promise<number> {
    const rows: unknown[] = await this.db.query(`SELECT id FROM readers WHERE role = 'admin' AND active AND id <> $1 FOR UPDATE`, [id]);
    return rows.length;
  }

  async update(id: string, patch: ReaderPatch): Promise<void> {
    const sets: string[] = [];
    const params: unknown[] = [id];
    for (const [key, col] of PATCH_COLUMNS) {
      if (patch[key] !== undefined) sets.push(`${col} = $${params.push(patch[key])}`);
    }
    if (sets.length === 0) return;
    await this.db.query(`UPDATE readers SET ${sets.join(', ')}, updated_at = now() WHERE id = $1`, params);
  }

  /**
   * Active and inactive radiologists with their open-task counts, assignments so far and last assignment (the workflow's
   * `loadRoster`, and every reservation under the capacity lock). Open tasks are counted live from the `reserved`/`open`
   * rows (ix_tasks_status_due: the open work, bounded by the caps); assignments so far and the last one come from
   * `reader_task_counts`, kept by the database with every task insert (a whole-table aggregate grew with the campaign:
   * `npm run bench:reservation`).
   */
  async roster(): Promise<RosterEntry[]> {
    const rows: {
      id: string;
      active: boolean;
      senior: boolean;
      open_task_cap: number;
      open_tasks: string;
      assigned_count: string;
      last_assigned_at: Date | null;
    }[] = await this.db.query(
      `SELECT r.id, r.active, r.senior, r.open_task_cap,
              COALESCE(o.open_tasks, 0) AS open_tasks, COALESCE(t.assigned_count, 0) AS assigned_count, t.last_assigned_at
         FROM readers r
         LEFT JOIN (SELECT reader_id, count(*) AS open_tasks FROM tasks WHERE status IN ('open', 'reserved') GROUP BY reader_id) o
           ON o.reader_id = r.id
         LEFT JOIN reader_task_counts t ON t.reader_id = r.id
        WHERE r.role = 'radiologist'
        ORDER BY r.id`,
    );
    return rows.map((r) => {
      const entry: RosterEntry = {
        readerId: r.id,
        active: r.active,
        senior: r.senior,
        openTasks: Number(r.open_tasks),
        openTaskCap: r.open_task_cap,
        assignedCount: Number(r.assigned_count),
      };
      if (r.last_assigned_at) entry.lastAssignedAt = new Date(r.last_assigned_at).getTime();
      return entry;
    });
  }
}
