import { randomUUID } from 'node:crypto';

import type { ApiHarness } from '../support/api-harness';
import { startApiHarness } from '../support/api-harness';
import { INBOX_SQL, MANAGER_TASKS_SQL } from '../../src/db/repositories';

/** Every route of issue #6 (OpenAPI paths, without the `/api/v1` server prefix they are documented under). */
const ROUTES: [method: string, path: string][] = [
  ['get', '/api/v1/me/tasks'],
  ['get', '/api/v1/tasks/{taskId}'],
  ['get', '/api/v1/tasks/{taskId}/image'],
  ['post', '/api/v1/tasks/{taskId}/submission'],
  ['post', '/api/v1/scans'],
  ['post', '/api/v1/batches'],
  ['get', '/api/v1/batches/{batchId}'],
  ['get', '/api/v1/scans'],
  ['get', '/api/v1/scans/{scanId}'],
  ['get', '/api/v1/tasks'],
  ['post', '/api/v1/tasks/{taskId}/reassign'],
  ['post', '/api/v1/tasks/{taskId}/extend'],
  ['post', '/api/v1/scans/{scanId}/cancel'],
  ['post', '/api/v1/scans/{scanId}/resume'],
  ['get', '/api/v1/readers'],
  ['post', '/api/v1/readers'],
  ['patch', '/api/v1/readers/{readerId}'],
  ['post', '/api/v1/readers/{readerId}/token'],
  ['get', '/api/v1/scans/{scanId}/labels'],
  ['get', '/api/v1/exports/{kind}.csv'],
  ['get', '/api/v1/exports/coco.json'],
  ['get', '/api/v1/quarantine'],
  ['get', '/api/v1/audit'],
  ['get', '/healthz'],
  ['get', '/readyz'],
];

function planOf(rows: { 'QUERY PLAN': string }[]): string {
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

describe('API queries: OpenAPI coverage, inbox and overdue plans, keyset pagination', () => {
  let h: ApiHarness;
  let manager: string;

  beforeAll(async () => {
    h = await startApiHarness();
    manager = await h.addReader(`${h.prefix}-mgr`, 'manager');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('documents every route in OpenAPI 3 at /api/v1/openapi.json, and serves Swagger UI at /docs', async () => {
    const res = await h.http().get('/api/v1/openapi.json').expect(200);
    const doc = res.body as { openapi: string; paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } };
    expect(doc.openapi).toMatch(/^3\./);
    const missing = ROUTES.filter(([m, p]) => !doc.paths[p]?.[m]).map(([m, p]) => `${m.toUpperCase()} ${p}`);
    expect(missing).toEqual([]);
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['InboxPageDto', 'SubmissionDto', 'TaskDetailDto', 'ReaderDto']));
    const ui = await h.http().get('/docs').redirects(1).expect(200);
    expect(ui.text).toContain('swagger');
  });

  describe('with 20 000 tasks (rolled back afterwards)', () => {
    const reader = `q-${randomUUID().slice(0, 8)}`;

    /** Runs `fn` in a transaction with many tasks seeded, then rolls back (the run's database is shared). */
    async function withSeededTasks(fn: (q: (sql: string, p?: unknown[]) => Promise<unknown[]>) => Promise<void>): Promise<void> {
      const qr = h.ds.createQueryRunner();
      await qr.connect();
      await qr.startTransaction();
      try {
        await qr.query(`INSERT INTO readers (id, display_name, role, active) SELECT $1 || '-' || g, 'Q', 'radiologist', false FROM generate_series(0, 99) g`, [reader]);
        await qr.query(`INSERT INTO scans (id, split, policy, stage, image_id) SELECT $1 || '-' || g, 'train', 'independent-3', 'reading', md5($1 || g) FROM generate_series(0, 6666) g`, [reader]);
        await qr.query(
          `INSERT INTO tasks (id, scan_id, reader_id, role, slot, status, assigned_at, due_at)
           SELECT gen_random_uuid(), $1 || '-' || (g / 3), $1 || '-' || (g % 100), 'reader', g % 3,
                  (ARRAY['open','submitted','expired'])[1 + g % 3], now() - interval '1 day', now() + make_interval(mins => (g % 5000) - 2500)
             FROM generate_series(0, 19999) g`,
          [reader],
        );
        await qr.query('ANALYZE tasks');
        await qr.query('ANALYZE scans');
        await fn((sql, p) => qr.query(sql, p));
      } finally {
        await qr.rollbackTransaction();
        await qr.release();
      }
    }

    it('EXPLAIN: the inbox uses ix_tasks_reader_status_due, the overdue list ix_tasks_status_due (no sort), scans their indexes', async () => {
      await withSeededTasks(async (q) => {
        const inbox = planOf((await q(`EXPLAIN ${INBOX_SQL(false)}`, [`${reader}-7`, 'open', 51])) as never);
        // One reader's open tasks are few (capped): the planner may sort them after the index lookup.
        expect(inbox).toContain('ix_tasks_reader_status_due');
        expect(inbox).not.toMatch(/Seq Scan on tasks/);
        const inboxNext = planOf((await q(`EXPLAIN ${INBOX_SQL(true)}`, [`${reader}-7`, 'open', 51, new Date().toISOString(), randomUUID()])) as never);
        expect(inboxNext).toContain('ix_tasks_reader_status_due');
        expect(inboxNext).not.toMatch(/Seq Scan on tasks/);
        const overdue = planOf((await q(`EXPLAIN ${MANAGER_TASKS_SQL({ reader: false, overdue: true, cursor: false })}`, ['open', 51])) as never);
        // Thousands of open tasks: read in index order, no sort, stopping at the page size.
        expect(overdue).toContain('ix_tasks_status_due');
        expect(overdue).not.toMatch(/Seq Scan on tasks|Sort/);
        const overdueByReader = planOf(
          (await q(`EXPLAIN ${MANAGER_TASKS_SQL({ reader: true, overdue: true, cursor: true })}`, ['open', 51, `${reader}-3`, new Date(0).toISOString(), randomUUID()])) as never,
        );
        expect(overdueByReader).toContain('ix_tasks_reader_status_due');
        const scansByStage = planOf((await q(`EXPLAIN SELECT id FROM scans WHERE stage = 'reading' ORDER BY created_at DESC, id DESC LIMIT 51`)) as never);
        // (Every seeded scan is in reading, so the planner may as well walk ix_scans_created.)
        expect(scansByStage).toMatch(/Index Scan (Backward )?using ix_scans_(stage_)?created/);
        expect(scansByStage).not.toMatch(/Seq Scan|Sort/);
        const scansBySplit = planOf((await q(`EXPLAIN SELECT id FROM scans WHERE split = 'train' ORDER BY created_at DESC, id DESC LIMIT 51`)) as never);
        expect(scansBySplit).toMatch(/Index Scan (Backward )?using ix_scans_(split_)?created/);
        expect(scansBySplit).not.toMatch(/Seq Scan|Sort/);
      });
    });
  });

  it('pages the inbox and the overdue list by cursor, in deadline order, without gaps or repeats', async () => {
    const id = `${h.prefix}-pager`;
    const token = await h.addReader(id, 'radiologist', { openTaskCap: 0 });
    const scanIds: string[] = [];
    for (let i = 0; i < 7; i++) {
      const scanId = `scan-${h.prefix}p${i}`;
      scanIds.push(scanId);
      await h.ds.query(`INSERT INTO scans (id, split, policy, stage, image_id) VALUES ($1, 'train', 'independent-3', 'reading', md5($1))`, [scanId]);
      // Two tasks share a deadline (the id breaks the tie); three are overdue.
      await h.ds.query(
        `INSERT INTO tasks (id, scan_id, reader_id, role, slot, status, assigned_at, due_at)
         VALUES (gen_random_uuid(), $1, $2, 'reader', 0, 'open', now() - interval '1 day', date_trunc('second', now()) + make_interval(mins => $3))`,
        [scanId, id, i === 4 ? 25 : (i - 3) * 10 + 5],
      );
    }
    const seen: { taskId: string; dueAt: string }[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: { taskId: string; dueAt: string }[]; nextCursor: string | null } } = await h
        .http()
        .get('/api/v1/me/tasks')
        .query({ limit: 2, ...(cursor ? { cursor } : {}) })
        .set(h.bearer(token))
        .expect(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items);
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect(new Set(seen.map((s) => s.taskId)).size).toBe(7);
    const dues = seen.map((s) => s.dueAt);
    expect([...dues].sort()).toEqual(dues);

    const overdue: string[] = [];
    cursor = null;
    do {
      const res: { body: { items: { taskId: string; overdue: boolean; readerId: string }[]; nextCursor: string | null } } = await h
        .http()
        .get('/api/v1/tasks')
        .query({ overdue: 'true', readerId: id, limit: 1, ...(cursor ? { cursor } : {}) })
        .set(h.bearer(manager))
        .expect(200);
      for (const t of res.body.items) expect(t).toMatchObject({ overdue: true, readerId: id });
      overdue.push(...res.body.items.map((t) => t.taskId));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(overdue).toEqual(seen.slice(0, 3).map((s) => s.taskId));

    await h.http().get('/api/v1/me/tasks').query({ cursor: Buffer.from('["x"]').toString('base64url') }).set(h.bearer(token)).expect(422);
    await h.http().get('/api/v1/me/tasks').query({ status: 'bogus' }).set(h.bearer(token)).expect(422);
    await h.http().get('/api/v1/me/tasks').query({ limit: 1000 }).set(h.bearer(token)).expect(422);
    await h.ds.query(`DELETE FROM scans WHERE id = ANY($1)`, [scanIds]);
  });

  it('pages the scan list newest first', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const scanId = `scan-${h.prefix}l${i}`;
      ids.push(scanId);
      await h.ds.query(
        `INSERT INTO scans (id, split, policy, stage, created_at) VALUES ($1, 'test', 'independent-3', 'needs-attention', now() + make_interval(secs => $2))`,
        [scanId, 3600 + i],
      );
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: { scanId: string }[]; nextCursor: string | null } } = await h
        .http()
        .get('/api/v1/scans')
        .query({ stage: 'needs-attention', split: 'test', limit: 2, ...(cursor ? { cursor } : {}) })
        .set(h.bearer(manager))
        .expect(200);
      seen.push(...res.body.items.map((s) => s.scanId));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen.filter((s) => ids.includes(s))).toEqual([...ids].reverse());
    await h.ds.query(`DELETE FROM scans WHERE id = ANY($1)`, [ids]);
  });
});
