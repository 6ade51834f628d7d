import request from 'supertest';

import type { ApiHarness } from '../support/api-harness';
import { startApiHarness } from '../support/api-harness';

/** Platform, auth, roster, audit and quarantine: everything that needs no scan workflow. */
describe('API platform (real Postgres, real Temporal dev server)', () => {
  let h: ApiHarness;
  let admin: string;
  let manager: string;
  let rad: string;

  beforeAll(async () => {
    h = await startApiHarness();
    admin = await h.addReader(`${h.prefix}-admin`, 'admin');
    manager = await h.addReader(`${h.prefix}-mgr`, 'manager');
    // No capacity: the workflows of other test files running against the same database never assign to it.
    rad = await h.addReader(`${h.prefix}-rad`, 'radiologist', { openTaskCap: 0 });
  });
  afterAll(async () => {
    await h?.close();
  });

  describe('health, readiness, metrics', () => {
    it('GET /healthz and /readyz answer outside /api/v1', async () => {
      await request(h.server).get('/healthz').expect(200, { status: 'ok' });
      const ready = await request(h.server).get('/readyz').expect(200);
      expect(ready.body).toEqual({ status: 'ok', checks: { postgres: 'ok', temporal: 'ok' } });
      await request(h.server).get('/api/v1/healthz').expect(404);
    });

    it('GET /metrics exposes HTTP latency histograms and task gauges in Prometheus text format', async () => {
      await request(h.server).get('/api/v1/ping').expect(200, { pong: true });
      const res = await request(h.server).get('/metrics').expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(res.text).toMatch(/readflow_http_request_duration_seconds_bucket\{.*route="\/api\/v1\/ping".*\}/);
      for (const name of ['readflow_tasks_open', 'readflow_tasks_overdue', 'readflow_submissions_total', 'readflow_reassignments_total', 'readflow_scans', 'readflow_ingest_requests_total']) {
        expect(res.text).toContain(`# TYPE ${name} `);
      }
    });

    it('sends helmet headers', async () => {
      const res = await request(h.server).get('/healthz').expect(200);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      // HSTS only over https (SECURITY.md); this app's PUBLIC_URL is plain http.
      expect(res.headers['strict-transport-security']).toBeUndefined();
      expect(res.headers['x-powered-by']).toBeUndefined();
    });
  });

  describe('problem+json and authentication', () => {
    it('an unknown route is a 404 problem', async () => {
      const res = await request(h.server).get('/api/v1/nope').set(h.bearer(admin)).expect(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ type: 'https://readflow.dev/problems/not-found', status: 404, title: 'Not Found' });
    });

    it('missing, malformed, unknown tokens are 401 problems with WWW-Authenticate', async () => {
      for (const headers of [{}, { Authorization: 'Basic abc' }, { Authorization: 'Bearer short' }, { Authorization: 'Bearer rf_this-token-does-not-exist-anywhere' }]) {
        const res = await request(h.server).get('/api/v1/me/tasks').set(headers).expect(401);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
        expect(res.body).toMatchObject({ type: 'https://readflow.dev/problems/unauthorized', status: 401 });
      }
    });

    it('the wrong role is a 403 problem', async () => {
      const res = await request(h.server).get('/api/v1/readers').set(h.bearer(rad)).expect(403);
      expect(res.body).toMatchObject({ type: 'https://readflow.dev/problems/forbidden', status: 403 });
      await request(h.server).post(`/api/v1/readers/${h.prefix}-rad/token`).set(h.bearer(manager)).expect(403);
    });

    it('a malformed JSON body is a 422 naming the problem, not a 400', async () => {
      const res = await request(h.server)
        .post('/api/v1/readers')
        .set(h.bearer(manager))
        .set('Content-Type', 'application/json')
        .send('{"id": "x",')
        .expect(422);
      expect(res.body.type).toBe('https://readflow.dev/problems/validation-failed');
      expect(res.body.errors[0]).toMatchObject({ path: '', code: 'invalid-json' });
    });

    it('a body over the JSON limit is a 413 problem', async () => {
      const res = await request(h.server)
        .post('/api/v1/readers')
        .set(h.bearer(manager))
        .send({ id: 'big', displayName: 'x'.repeat(300 * 1024) })
        .expect(413);
      expect(res.body.type).toBe('https://readflow.dev/problems/payload-too-large');
    });

    it('DTO violations are a 422 listing every field with its path and code', async () => {
      const res = await request(h.server)
        .post('/api/v1/readers')
        .set(h.bearer(manager))
        .send({ id: 'Not Valid!', openTaskCap: -1, role: 'janitor', extra: true })
        .expect(422);
      const paths = (res.body.errors as { path: string; code: string }[]).map((e) => `${e.path}:${e.code}`).sort();
      expect(paths).toEqual(
        expect.arrayContaining(['displayName:required', 'extra:unknown-field', 'id:invalid-format', 'openTaskCap:out-of-range', 'role:invalid-value']),
      );
    });

    it('rate limits per token with a 429 problem', async () => {
      const limited = await startApiHarness({ env: { READFLOW_RATE_LIMIT_PER_MINUTE: '3' } });
      try {
        const t1 = await limited.addReader(`${limited.prefix}-r1`, 'radiologist', { openTaskCap: 0 });
        const t2 = await limited.addReader(`${limited.prefix}-r2`, 'radiologist', { openTaskCap: 0 });
        for (let i = 0; i < 3; i++) await request(limited.server).get('/api/v1/me/tasks').set(limited.bearer(t1)).expect(200);
        const res = await request(limited.server).get('/api/v1/me/tasks').set(limited.bearer(t1)).expect(429);
        expect(res.body.type).toBe('https://readflow.dev/problems/rate-limited');
        // Another token is not affected.
        await request(limited.server).get('/api/v1/me/tasks').set(limited.bearer(t2)).expect(200);
      } finally {
        await limited.close();
      }
    });
  });

  describe('roster', () => {
    it('creates a reader (token shown once), lists, patches, and rotates its token (admin)', async () => {
      const id = `${h.prefix}-new`;
      // Only an admin's creation comes with a token (SECURITY.md: who may create readers).
      const created = await request(h.server)
        .post('/api/v1/readers')
        .set(h.bearer(admin))
        .send({ id, displayName: 'New Reader', senior: true, active: false, openTaskCap: 7 })
        .expect(201);
      expect(created.body).toMatchObject({ id, role: 'radiologist', senior: true, active: false, openTaskCap: 7, openTasks: 0, completedTasks: 0, medianReadSeconds: null, agreement: null });
      expect(created.body.token).toMatch(/^rf_/);
      const stored: { token_hash: string }[] = await h.ds.query(`SELECT token_hash FROM api_tokens WHERE reader_id = $1`, [id]);
      expect(stored[0].token_hash).not.toContain(created.body.token);

      // Inactive: the token is refused until the reader is activated.
      const inactive = await request(h.server).get('/api/v1/me/tasks').set(h.bearer(created.body.token)).expect(401);
      expect(inactive.body.detail).toMatch(/deactivated/);
      await request(h.server).post('/api/v1/readers').set(h.bearer(manager)).send({ id, displayName: 'Again' }).expect(409);
      await request(h.server).post('/api/v1/readers').set(h.bearer(manager)).send({ id: `${h.prefix}-m2`, displayName: 'M', role: 'manager' }).expect(403);

      const got = await request(h.server).get(`/api/v1/readers/${id}`).set(h.bearer(manager)).expect(200);
      expect(got.body).not.toHaveProperty('token');
      // Active without capacity (other test files' workflows never assign to it).
      const patched = await request(h.server).patch(`/api/v1/readers/${id}`).set(h.bearer(manager)).send({ openTaskCap: 0, displayName: 'Renamed', active: true }).expect(200);
      expect(patched.body).toMatchObject({ openTaskCap: 0, displayName: 'Renamed', active: true });
      await request(h.server).get('/api/v1/me/tasks').set(h.bearer(created.body.token)).expect(200);
      await request(h.server).patch(`/api/v1/readers/${h.prefix}-ghost`).set(h.bearer(manager)).send({ openTaskCap: 1 }).expect(404);

      const rotated = await request(h.server).post(`/api/v1/readers/${id}/token`).set(h.bearer(admin)).expect(201);
      expect(rotated.body.token).toMatch(/^rf_/);
      await request(h.server).get('/api/v1/me/tasks').set(h.bearer(created.body.token)).expect(401);
      await request(h.server).get('/api/v1/me/tasks').set(h.bearer(rotated.body.token)).expect(200);
      await request(h.server).post(`/api/v1/readers/${h.prefix}-ghost/token`).set(h.bearer(admin)).expect(404);
      const trail: { actor: string; action: string }[] = await h.ds.query(
        `SELECT actor, action FROM audit_events WHERE detail->>'readerId' = $1 ORDER BY id`,
        [id],
      );
      expect(trail).toEqual([
        { actor: `${h.prefix}-admin`, action: 'reader:created' },
        { actor: `${h.prefix}-mgr`, action: 'reader:updated' },
        { actor: `${h.prefix}-admin`, action: 'reader:token-rotated' },
      ]);
    });

    it('paginates the roster by cursor without gaps or repeats', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: request.Response = await request(h.server)
          .get('/api/v1/readers')
          .query({ limit: 2, ...(cursor ? { cursor } : {}) })
          .set(h.bearer(manager))
          .expect(200);
        seen.push(...res.body.items.map((r: { id: string }) => r.id));
        cursor = res.body.nextCursor;
      } while (cursor);
      const all: { id: string }[] = await h.ds.query(`SELECT id FROM readers ORDER BY id`);
      expect(seen).toEqual(all.map((r) => r.id).filter((id) => seen.includes(id)));
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(expect.arrayContaining([`${h.prefix}-admin`, `${h.prefix}-mgr`, `${h.prefix}-rad`]));
      await request(h.server).get('/api/v1/readers').query({ cursor: 'garbage!' }).set(h.bearer(manager)).expect(422);
    });

    it('reports median read time from submitted tasks (percentile_cont)', async () => {
      const id = `${h.prefix}-stats`;
      await h.addReader(id, 'radiologist', { active: false });
      const scanId = `scan-${h.prefix}stats`;
      await h.ds.query(`INSERT INTO scans (id, split, policy, stage) VALUES ($1, 'train', 'independent-3', 'reading')`, [scanId]);
      const minutes = [10, 20, 60];
      for (const [i, m] of minutes.entries()) {
        await h.ds.query(
          `INSERT INTO tasks (id, scan_id, reader_id, role, slot, round, status, assigned_at, due_at, submitted_at)
           VALUES (gen_random_uuid(), $1, $2, 'reader', $3, $3, 'submitted', now() - interval '2 hours', now() + interval '1 day',
                   now() - interval '2 hours' + make_interval(mins => $4))`,
          [scanId, id, i, m],
        );
      }
      const res = await request(h.server).get(`/api/v1/readers/${id}`).set(h.bearer(manager)).expect(200);
      expect(res.body).toMatchObject({ completedTasks: 3, openTasks: 0, medianReadSeconds: 1200 });
    });
  });

  describe('audit and quarantine lists', () => {
    it('lists the audit trail of a scan oldest first, paginated', async () => {
      const scanId = `scan-${h.prefix}audit`;
      for (let i = 0; i < 5; i++) {
        await h.ds.query(
          `INSERT INTO audit_events (event_key, scan_id, actor, action, detail, at) VALUES ($1, $2, 'workflow', $3, $4, now() + make_interval(secs => $5))`,
          [`${scanId}-${i}`, scanId, `step.${i}`, { i }, i],
        );
      }
      const actions: string[] = [];
      let cursor: string | null = null;
      do {
        const res: request.Response = await request(h.server)
          .get('/api/v1/audit')
          .query({ scanId, limit: 2, ...(cursor ? { cursor } : {}) })
          .set(h.bearer(manager))
          .expect(200);
        actions.push(...res.body.items.map((e: { action: string }) => e.action));
        cursor = res.body.nextCursor;
      } while (cursor);
      expect(actions).toEqual(['step.0', 'step.1', 'step.2', 'step.3', 'step.4']);
      await request(h.server).get('/api/v1/audit').set(h.bearer(rad)).expect(403);
      const all = await request(h.server).get('/api/v1/audit').query({ limit: 1 }).set(h.bearer(admin)).expect(200);
      expect(all.body.items).toHaveLength(1);
      expect(all.body.nextCursor).toEqual(expect.any(String));
    });

    it('lists quarantined inputs newest first, paginated', async () => {
      for (let i = 0; i < 3; i++) {
        await h.ds.query(
          `INSERT INTO quarantined_inputs (sha256, filename, reason, detail, size_bytes, created_at) VALUES ($1, $2, 'not-dicom', 'no DICM', 12, now() + make_interval(secs => $3))`,
          [`${h.prefix}${String(i).padStart(57, '0')}`, `${h.prefix}-${i}.dcm`, 1000 + i],
        );
      }
      const res = await request(h.server).get('/api/v1/quarantine').query({ limit: 2 }).set(h.bearer(manager)).expect(200);
      expect(res.body.items.map((q: { filename: string }) => q.filename)).toEqual([`${h.prefix}-2.dcm`, `${h.prefix}-1.dcm`]);
      const next = await request(h.server).get('/api/v1/quarantine').query({ limit: 2, cursor: res.body.nextCursor }).set(h.bearer(manager)).expect(200);
      expect(next.body.items[0]).toMatchObject({ filename: `${h.prefix}-0.dcm`, reason: 'not-dicom', sizeBytes: 12 });
    });
  });
});
