import { randomUUID } from 'node:crypto';

import type { INestApplication } from '@nestjs/common';
import pino from 'pino';
import request from 'supertest';
import type { DataSource } from 'typeorm';

import { createApiApp } from '../../src/api/bootstrap';
import type { ReaderRole } from '../../src/db/entities';
import { dropDatabase, openDatabase } from '../../src/db/data-source';
import { hashToken, newToken } from '../../src/db/tokens';
import { LocalBlobStore } from '../../src/storage/blob-store';
import type { ApiHarness } from '../support/api-harness';
import { startApiHarness } from '../support/api-harness';
import { connectTemporal, testConfig, testServices } from '../support/services';

/** An app on a fresh, migrated database of its own (for checks that need the whole roster to themselves). */
async function isolatedApp(): Promise<{
  app: INestApplication;
  ds: DataSource;
  addReader(id: string, role: ReaderRole): Promise<string>;
  http(): ReturnType<typeof request>;
  bearer(token: string): { Authorization: string };
  close(): Promise<void>;
}> {
  const url = new URL(testServices().databaseUrl);
  url.pathname = `/readflow_iso_${randomUUID().slice(0, 8)}`;
  const ds = await openDatabase(url.toString(), { poolSize: 2 });
  const temporal = await connectTemporal();
  const app = await createApiApp({
    config: testConfig({ READFLOW_RATE_LIMIT_PER_MINUTE: '100000' }),
    dataSource: ds,
    temporalClient: temporal.client,
    store: new LocalBlobStore(`/tmp/readflow-iso-${randomUUID()}`),
    logger: pino({ level: 'silent' }),
  });
  return {
    app,
    ds,
    async addReader(id, role) {
      await ds.query(`INSERT INTO readers (id, display_name, role, active, open_task_cap) VALUES ($1, $1, $2, true, 0)`, [id, role]);
      const token = newToken();
      await ds.query(`INSERT INTO api_tokens (reader_id, token_hash) VALUES ($1, $2)`, [id, hashToken(token)]);
      return token;
    },
    http: () => request(app.getHttpServer()),
    bearer: (token) => ({ Authorization: `Bearer ${token}` }),
    async close() {
      await app.close();
      await ds.destroy();
      await temporal.close();
      await dropDatabase(url.toString());
    },
  };
}

/** Defects found by QA on the running service, one describe block each (no scan workflow needed). */
describe('API fixes (real Postgres, real Temporal dev server)', () => {
  let h: ApiHarness;
  let admin: string;
  let manager: string;

  beforeAll(async () => {
    h = await startApiHarness();
    admin = await h.addReader(`${h.prefix}-admin`, 'admin');
    manager = await h.addReader(`${h.prefix}-mgr`, 'manager');
  });
  afterAll(async () => {
    await h?.close();
  });

  describe('deactivated readers and role boundaries', () => {
    it('a deactivated reader’s token is refused at once (401, despite the auth cache), and works again once reactivated', async () => {
      const id = `${h.prefix}-m2`;
      const token = await h.addReader(id, 'manager');
      // Warm the auth cache.
      await h.http().get('/api/v1/me/tasks').set(h.bearer(token)).expect(200);
      await h.http().patch(`/api/v1/readers/${id}`).set(h.bearer(admin)).send({ active: false }).expect(200);
      const refused = await h.http().get('/api/v1/me/tasks').set(h.bearer(token)).expect(401);
      expect(refused.body).toMatchObject({ type: 'https://readflow.dev/problems/unauthorized', detail: expect.stringMatching(/this account is deactivated/i) });
      await h.http().get('/api/v1/scans').set(h.bearer(token)).expect(401);
      await h.http().patch(`/api/v1/readers/${id}`).set(h.bearer(admin)).send({ active: true }).expect(200);
      await h.http().get('/api/v1/me/tasks').set(h.bearer(token)).expect(200);
    });

    it('only an admin changes managers and admins; managers still change radiologists', async () => {
      const forbidden = await h.http().patch(`/api/v1/readers/${h.prefix}-admin`).set(h.bearer(manager)).send({ active: false }).expect(403);
      expect(forbidden.body.type).toBe('https://readflow.dev/problems/forbidden');
      await h.http().patch(`/api/v1/readers/${h.prefix}-mgr`).set(h.bearer(manager)).send({ displayName: 'Me' }).expect(403);
      const other = `${h.prefix}-m3`;
      await h.addReader(other, 'manager');
      await h.http().patch(`/api/v1/readers/${other}`).set(h.bearer(manager)).send({ active: false }).expect(403);
      const rows: { active: boolean }[] = await h.ds.query(`SELECT active FROM readers WHERE id = ANY($1)`, [[`${h.prefix}-admin`, other]]);
      expect(rows.every((r) => r.active)).toBe(true);
      // The admin token still works.
      await h.http().get('/api/v1/readers').set(h.bearer(admin)).expect(200);
      const rad = `${h.prefix}-r1`;
      await h.addReader(rad, 'radiologist', { openTaskCap: 0 });
      await h.http().patch(`/api/v1/readers/${rad}`).set(h.bearer(manager)).send({ active: false }).expect(200);
      await h.http().patch(`/api/v1/readers/${other}`).set(h.bearer(admin)).send({ displayName: 'Renamed by admin' }).expect(200);
    });

    it('nobody deactivates their own account, nor the last active admin', async () => {
      const self = await h.http().patch(`/api/v1/readers/${h.prefix}-admin`).set(h.bearer(admin)).send({ active: false }).expect(409);
      expect(self.body.detail).toMatch(/your own account/);
      await h.http().get('/api/v1/readers').set(h.bearer(admin)).expect(200);
      // A second admin may deactivate the first while another active admin remains.
      const admin2 = `${h.prefix}-admin2`;
      const admin2Token = await h.addReader(admin2, 'admin');
      await h.http().patch(`/api/v1/readers/${h.prefix}-admin`).set(h.bearer(admin2Token)).send({ active: false }).expect(200);
      await h.http().patch(`/api/v1/readers/${h.prefix}-admin`).set(h.bearer(admin2Token)).send({ active: true }).expect(200);
      // In a database of its own (the run's roster is shared by every test file): the last active admin stays.
      const iso = await isolatedApp();
      try {
        const [a1, a2] = [await iso.addReader('a1', 'admin'), await iso.addReader('a2', 'admin')];
        await iso.http().patch('/api/v1/readers/a1').set(iso.bearer(a2)).send({ active: false }).expect(200);
        const last = await iso.http().patch('/api/v1/readers/a2').set(iso.bearer(a2)).send({ active: false }).expect(409);
        expect(last.body.type).toBe('https://readflow.dev/problems/invalid-state');
        await iso.http().patch('/api/v1/readers/a1').set(iso.bearer(a2)).send({ active: true }).expect(200);
        await iso.http().patch('/api/v1/readers/a2').set(iso.bearer(a1)).send({ active: false }).expect(200);
        const lastAgain = await iso.http().patch('/api/v1/readers/a1').set(iso.bearer(a1)).send({ active: false }).expect(409);
        expect(lastAgain.body.detail).toMatch(/own account|last active admin/);
      } finally {
        await iso.close();
      }
    });
  });
});
