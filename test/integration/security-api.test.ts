import request from 'supertest';

import type { ApiHarness } from '../support/api-harness';
import { startApiHarness } from '../support/api-harness';

/** Issue 10, items 4, 6, 7, 8 and 10: rate limits, deep JSON, crafted cursors and paths, caching, headers, ops routes. */
describe('security: API hardening', () => {
  let h: ApiHarness;
  let manager: string;
  let reader: string;

  beforeAll(async () => {
    h = await startApiHarness();
    manager = await h.addReader(`${h.prefix}-mgr`, 'manager');
    reader = await h.addReader(`${h.prefix}-rd`, 'radiologist', { openTaskCap: 0 });
  });
  afterAll(async () => {
    await h?.close();
  });

  describe('rate limiting (item 4)', () => {
    let limited: ApiHarness;
    beforeAll(async () => {
      limited = await startApiHarness({ env: { READFLOW_RATE_LIMIT_PER_MINUTE: '4', READFLOW_RATE_LIMIT_ANONYMOUS_PER_MINUTE: '3' } });
    });
    afterAll(async () => {
      await limited?.close();
    });

    it('one bucket per verified account across routes, with a standard Retry-After', async () => {
      const t = await limited.addReader(`${limited.prefix}-a`, 'radiologist', { openTaskCap: 0 });
      const other = await limited.addReader(`${limited.prefix}-b`, 'radiologist', { openTaskCap: 0 });
      const s = limited.server;
      await request(s).get('/api/v1/me/tasks').set(limited.bearer(t)).expect(200);
      await request(s).get('/api/v1/me').set(limited.bearer(t)).expect(200);
      await request(s).get('/api/v1/me/tasks').query({ limit: 5 }).set(limited.bearer(t)).expect(200);
      await request(s).get('/api/v1/me').set(limited.bearer(t)).expect(200);
      const res = await request(s).get('/api/v1/me').set(limited.bearer(t)).expect(429);
      expect(res.body.type).toBe('https://readflow.dev/problems/rate-limited');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(Object.keys(res.headers).filter((k) => k.startsWith('retry-after-'))).toEqual([]);
      // A second token of the same account shares the bucket; another account does not.
      const t2 = await limited.tokenFor(`${limited.prefix}-a`);
      await request(s).get('/api/v1/me').set(limited.bearer(t2)).expect(429);
      await request(s).get('/api/v1/me').set(limited.bearer(other)).expect(200);
    });

    it('made-up tokens and anonymous calls share a bucket per client address; a spoofed X-Forwarded-For changes nothing', async () => {
      const s = limited.server;
      for (let i = 0; i < 3; i += 1) {
        await request(s).get('/api/v1/me').set('X-Forwarded-For', `203.0.113.${i}`).set('Authorization', `Bearer rf_madeup${i}${'x'.repeat(20)}`).expect(401);
      }
      await request(s).get('/api/v1/me').set('X-Forwarded-For', '203.0.113.99').set('Authorization', `Bearer rf_madeup9${'x'.repeat(20)}`).expect(429);
      await request(s).get('/api/v1/me').set('X-Forwarded-For', '198.51.100.7').expect(429);
    });

    it('health, readiness and metrics are never limited', async () => {
      for (let i = 0; i < 8; i += 1) {
        await request(limited.server).get('/healthz').expect(200);
        await request(limited.server).get('/metrics').expect(200);
      }
    });
  });

  it('deeply nested JSON is a prompt 422, not a 500 (item 6)', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const res = await h.http().post('/api/v1/readers').set(h.bearer(manager)).set('Content-Type', 'application/json').send(`{"id":${deep}}`).expect(422);
    expect(JSON.stringify(res.body)).toContain('too-deep');
    // Brackets inside strings do not count; ordinary bodies pass.
    await h.http().post('/api/v1/readers').set(h.bearer(manager)).send({ id: `${h.prefix}-deep`, displayName: '[[[[['.repeat(30) }).expect(201);
  });

  it('crafted cursors and NUL in path parameters are 422, not 500 (item 7)', async () => {
    const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const crafted = [
      b64(['2026-13-45T00:00:00.000000Z', '00000000-0000-0000-0000-000000000000']),
      b64(['not-a-date', '00000000-0000-0000-0000-000000000000']),
      b64(['2026-01-01T00:00:00.000000Z', 'a\u0000b']),
      'not base64 !',
    ];
    for (const cursor of crafted) {
      await h.http().get('/api/v1/scans').query({ cursor }).set(h.bearer(manager)).expect(422);
      await h.http().get('/api/v1/quarantine').query({ cursor }).set(h.bearer(manager)).expect(422);
    }
    // Quarantine ids are uuids (the query casts them): anything else is refused before Postgres sees it.
    await h.http().get('/api/v1/quarantine').query({ cursor: b64(['2026-01-01T00:00:00.000000Z', 'x']) }).set(h.bearer(manager)).expect(422);
    await h.http().get('/api/v1/scans').query({ cursor: b64(['2026-01-01T00:00:00.000000Z', 'scan-x']) }).set(h.bearer(manager)).expect(200);
    await h.http().get('/api/v1/audit').query({ cursor: b64(['abc']) }).set(h.bearer(manager)).expect(422);
    await h.http().get('/api/v1/audit').query({ scanId: 'scan-x', cursor: b64(['2026-01-01T00:00:00.000000Z', 'abc']) }).set(h.bearer(manager)).expect(422);
    await h.http().get('/api/v1/readers').query({ cursor: b64(['a\u0000']) }).set(h.bearer(manager)).expect(422);
    for (const path of ['/api/v1/readers/rad%0001', '/api/v1/scans/scan-%00', '/api/v1/tasks/%00/image']) {
      const res = await h.http().get(path).set(h.bearer(manager));
      expect({ path, status: res.status }).toEqual({ path, status: 422 });
    }
  });

  it('authenticated JSON is no-store; images must be revalidated (item 8)', async () => {
    const me = await h.http().get('/api/v1/me/tasks').set(h.bearer(reader)).expect(200);
    expect(me.headers['cache-control']).toBe('no-store');
    const scans = await h.http().get('/api/v1/scans').set(h.bearer(manager)).expect(200);
    expect(scans.headers['cache-control']).toBe('no-store');
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const imageService = readFileSync(join(__dirname, '../../src/api/tasks/image.service.ts'), 'utf8');
    expect(imageService).not.toMatch(/max-age=\d+/);
    expect(readFileSync(join(__dirname, '../../src/web/public/api.js'), 'utf8')).toMatch(/cache: raw \? 'no-cache'/);
  });

  it('no HSTS over http; CSP without unsafe-inline or https: for the page (item 10)', async () => {
    const page = await h.http().get('/api/v1/me').set(h.bearer(reader)).expect(200);
    expect(page.headers['strict-transport-security']).toBeUndefined();
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toMatch(/style-src[^;]*https:/);
  });

  it('only an admin gives a new reader credentials; a manager’s new radiologist comes without a token (item 9)', async () => {
    const admin = await h.addReader(`${h.prefix}-adm`, 'admin');
    const byManager = await h.http().post('/api/v1/readers').set(h.bearer(manager)).send({ id: `${h.prefix}-sock`, displayName: 'Sock Puppet' }).expect(201);
    expect(byManager.body.token).toBeNull();
    const tokens = await h.ds.query(`SELECT count(*)::int AS n FROM api_tokens WHERE reader_id = $1`, [`${h.prefix}-sock`]);
    expect(tokens[0].n).toBe(0);
    // The manager cannot issue one either; an admin can.
    await h.http().post(`/api/v1/readers/${h.prefix}-sock/token`).set(h.bearer(manager)).expect(403);
    const issued = await h.http().post(`/api/v1/readers/${h.prefix}-sock/token`).set(h.bearer(admin)).expect(201);
    expect(issued.body.token).toMatch(/^rf_/);
    const byAdmin = await h.http().post('/api/v1/readers').set(h.bearer(admin)).send({ id: `${h.prefix}-real`, displayName: 'Real' }).expect(201);
    expect(byAdmin.body.token).toMatch(/^rf_/);
  });

  it('a deadline beyond the horizon (year 9999) is a 422 (item 9)', async () => {
    const res = await h.http().post('/api/v1/tasks/00000000-0000-4000-8000-000000000000/extend').set(h.bearer(manager)).send({ dueAt: '9999-12-31T00:00:00Z' }).expect(422);
    expect(res.body.detail).toMatch(/READFLOW_DEADLINE_HORIZON/);
  });

  it('the batch 422 does not reveal the server’s import path (item 10)', async () => {
    const res = await h.http().post('/api/v1/batches').set(h.bearer(manager)).send({ directory: '/etc', split: 'train' }).expect(422);
    expect(JSON.stringify(res.body)).not.toContain(h.importDir);
    expect(JSON.stringify(res.body)).toContain('outside-import-dir');
  });

  describe('/metrics and /docs (item 10)', () => {
    let prod: ApiHarness;
    beforeAll(async () => {
      prod = await startApiHarness({ env: { READFLOW_PROTECT_OPS_ENDPOINTS: 'true' } });
    });
    afterAll(async () => {
      await prod?.close();
    });

    it('need a manager or admin token when protected (the production default); health stays open', async () => {
      const mgr = await prod.addReader(`${prod.prefix}-m`, 'manager');
      const rad = await prod.addReader(`${prod.prefix}-r`, 'radiologist');
      for (const path of ['/metrics', '/docs', '/api/v1/openapi.json']) {
        await request(prod.server).get(path).expect(401);
        await request(prod.server).get(path).set(prod.bearer(rad)).expect(403);
        const ok = await request(prod.server).get(path).set(prod.bearer(mgr)).redirects(0);
        expect({ path, ok: ok.status < 400 }).toEqual({ path, ok: true });
      }
      await request(prod.server).get('/healthz').expect(200);
      // Unprotected outside production unless asked: the development default.
      await request(h.server).get('/metrics').expect(200);
    });
  });
});
