import { createHash, randomUUID } from 'node:crypto';
import * as net from 'node:net';

import type { INestApplication } from '@nestjs/common';
import { parse } from 'csv-parse/sync';
import pino from 'pino';
import request from 'supertest';
import type { DataSource } from 'typeorm';

import { createApiApp } from '../../src/api/bootstrap';
import type { ReaderRole } from '../../src/db/entities';
import { createDataSource, dropDatabase, openDatabase } from '../../src/db/data-source';
import { hashToken, newToken } from '../../src/db/tokens';
import { LocalBlobStore } from '../../src/storage/blob-store';
import type { ApiHarness, ScanTask } from '../support/api-harness';
import { eventually, freshCxr, startApiHarness, startReadingApp } from '../support/api-harness';
import { connectTemporal, testConfig, testServices } from '../support/services';

/** A TCP proxy to the run's Postgres that can be cut, like a database outage. */
async function postgresProxy(): Promise<{ url: string; cut(): Promise<void> }> {
  const target = new URL(testServices().databaseUrl);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(target.toString());
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    async cut() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

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


const reading = { boxes: [{ label: 'Cardiomegaly', x_min: 300, y_min: 500, x_max: 700, y_max: 800 }], globalLabels: ['Pneumonia'] };

/** Defects found by QA on the running service, one describe block each (a real worker runs the scans). */
describe('API fixes (real Postgres, real Temporal dev server, real worker)', () => {
  let h: ApiHarness;
  let admin: string;
  let manager: string;

  const upload = async (bytes: Buffer, fields: { split?: string; policy?: string } = {}, expect = 202): Promise<string> => {
    const res = await h
      .http()
      .post('/api/v1/scans')
      .set(h.bearer(manager))
      .field('split', fields.split ?? 'train')
      .field('policy', fields.policy ?? 'independent-3')
      .attach('file', bytes, 'scan.dcm')
      .expect(expect);
    return res.body.scanId as string;
  };
  const scan = async (scanId: string): Promise<{ stage: string; tasks: ScanTask[]; [k: string]: unknown }> =>
    (await h.http().get(`/api/v1/scans/${scanId}`).set(h.bearer(manager)).expect(200)).body;
  const untilOpen = (scanId: string, role: string, n: number): Promise<ScanTask[]> =>
    eventually(async () => {
      const s = await scan(scanId).catch(() => undefined);
      const open = s?.tasks.filter((t) => t.status === 'open' && t.role === role) ?? [];
      return open.length === n ? open : undefined;
    }, 60_000, `${n} open ${role} tasks`);
  const cancel = (scanId: string, reason?: string) =>
    h.http().post(`/api/v1/scans/${scanId}/cancel`).set(h.bearer(manager)).send(reason ? { reason } : {});

  beforeAll(async () => {
    ({ h, manager } = await startReadingApp({ env: { READFLOW_TASK_DEADLINE: '1h', READFLOW_REVIEW_DEADLINE: '1h' } }));
    admin = await h.addReader(`${h.prefix}-admin`, 'admin');
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

  describe('error messages that say what is wrong', () => {
    let scanId: string;
    let t0: ScanTask;
    let token: string;

    beforeAll(async () => {
      scanId = await upload(freshCxr());
      [t0] = await untilOpen(scanId, 'reader', 3);
      token = await h.tokenFor(t0.readerId);
    });
    afterAll(async () => {
      await cancel(scanId);
    });

    it('submission shape and content problems: one type (invalid-submission), every problem, body paths in errors and detail', async () => {
      const res = await h.http().post(`/api/v1/tasks/${t0.taskId}/submission`).set(h.bearer(token)).send({ boxes: 'x', globalLabels: [1] }).expect(422);
      expect(res.body.type).toBe('https://readflow.dev/problems/invalid-submission');
      const problems = (res.body.errors as { path: string; code: string; message: string }[]).map((e) => `${e.path}:${e.code}`);
      expect(problems).toEqual(expect.arrayContaining(['boxes:invalid-type', 'globalLabels[0]:invalid-type']));
      expect(JSON.stringify(res.body)).not.toMatch(/1000 elements/);
      expect(res.body.detail).toContain('boxes');
      expect(res.body.detail).toContain('globalLabels[0]');

      const content = await h
        .http()
        .post(`/api/v1/tasks/${t0.taskId}/submission`)
        .set(h.bearer(token))
        .send({ boxes: [{ label: 'Not a label', x_min: 1, y_min: 1, x_max: 5, y_max: 5 }], globalLabels: [] })
        .expect(422);
      expect(content.body.type).toBe('https://readflow.dev/problems/invalid-submission');
      expect(content.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'boxes[0].label' })]));
      expect(content.body.detail).toContain('boxes[0].label');
      expect(content.body.detail).not.toContain('reading.');

      // Edge problems (unknown field, bad decision) on the same endpoint: the same problem type.
      const edge = await h.http().post(`/api/v1/tasks/${t0.taskId}/submission`).set(h.bearer(token)).send({ ...reading, score: 1 }).expect(422);
      expect(edge.body).toMatchObject({ type: 'https://readflow.dev/problems/invalid-submission', errors: [expect.objectContaining({ path: 'score', code: 'unknown-field' })] });
      const decision = await h.http().post(`/api/v1/tasks/${t0.taskId}/submission`).set(h.bearer(token)).send({ ...reading, decision: 'maybe' }).expect(422);
      expect(decision.body.type).toBe('https://readflow.dev/problems/invalid-submission');
    });

    it('a body that is not a JSON object says so (422), on submissions as invalid-submission', async () => {
      for (const body of ['null', '"x"', '42', '[1]']) {
        const res = await h.http().post('/api/v1/readers').set(h.bearer(manager)).set('Content-Type', 'application/json').send(body).expect(422);
        expect(res.body).toMatchObject({ type: 'https://readflow.dev/problems/validation-failed', detail: 'The body must be a JSON object.' });
      }
      const sub = await h.http().post(`/api/v1/tasks/${t0.taskId}/submission`).set(h.bearer(token)).set('Content-Type', 'application/json').send('null').expect(422);
      expect(sub.body).toMatchObject({ type: 'https://readflow.dev/problems/invalid-submission', detail: 'The body must be a JSON object.' });
      const broken = await h.http().post('/api/v1/readers').set(h.bearer(manager)).set('Content-Type', 'application/json').send('{"id":').expect(422);
      expect(broken.body.detail).toBe('The body is not valid JSON.');
    });

    it('?limit=abc is one problem: not an integer', async () => {
      const res = await h.http().get('/api/v1/me/tasks').query({ limit: 'abc' }).set(h.bearer(token)).expect(422);
      expect(res.body.errors).toEqual([{ path: 'limit', code: 'invalid-type', message: expect.stringMatching(/integer/) }]);
      expect(res.body.detail).toMatch(/limit.*integer/);
      const big = await h.http().get('/api/v1/me/tasks').query({ limit: 1000 }).set(h.bearer(token)).expect(422);
      expect(big.body.errors).toEqual([expect.objectContaining({ path: 'limit', code: 'out-of-range' })]);
    });

    it('a wrong token is "unknown or revoked", a missing one "required"', async () => {
      for (const auth of ['Bearer short', 'Bearer rf_this-token-does-not-exist-anywhere']) {
        const res = await h.http().get('/api/v1/me/tasks').set('Authorization', auth).expect(401);
        expect(res.body.detail).toBe('The token is unknown or revoked.');
      }
      expect((await h.http().get('/api/v1/me/tasks').expect(401)).body.detail).toMatch(/required/);
      expect((await h.http().get('/api/v1/me/tasks').set('Authorization', 'Basic abc').expect(401)).body.detail).toMatch(/Bearer scheme/);
    });

    it('a reassigned task: "Task … is reassigned: a manager reassigned…", not the status twice; an unknown target reader is a 422 on toReaderId', async () => {
      const unknown = await h.http().post(`/api/v1/tasks/${t0.taskId}/reassign`).set(h.bearer(manager)).send({ toReaderId: `${h.prefix}-nobody` }).expect(422);
      expect(unknown.body).toMatchObject({ type: 'https://readflow.dev/problems/validation-failed', errors: [expect.objectContaining({ path: 'toReaderId' })] });
      await h.http().post(`/api/v1/tasks/${t0.taskId}/reassign`).set(h.bearer(manager)).send({ toReaderId: `${h.prefix}-mgr` }).expect(422);
      await h.http().post(`/api/v1/tasks/${t0.taskId}/reassign`).set(h.bearer(manager)).send({}).expect(200);
      const again = await h.http().post(`/api/v1/tasks/${t0.taskId}/reassign`).set(h.bearer(manager)).send({}).expect(409);
      expect(again.body.detail).toBe(`Task ${t0.taskId} is reassigned.`);
      const late = await h.http().post(`/api/v1/tasks/${t0.taskId}/submission`).set(h.bearer(token)).send(reading).expect(409);
      expect(late.body.detail).toMatch(new RegExp(`^Task ${t0.taskId} is reassigned: a manager reassigned`));
      expect(late.body.detail).not.toMatch(/is reassigned: the task is reassigned/);
    });

    it('a cancelled scan’s labels: 409 saying it was cancelled', async () => {
      const other = await upload(freshCxr());
      await untilOpen(other, 'reader', 3);
      await cancel(other, 'wrong patient').expect(200);
      const res = await h.http().get(`/api/v1/scans/${other}/labels`).set(h.bearer(manager)).expect(409);
      expect(res.body.detail).toMatch(/cancelled/);
      expect(res.body.detail).not.toMatch(/once it is released/);
    });

    it('an upload over the limit names the limit (413)', async () => {
      const small = await startApiHarness({ env: { READFLOW_MAX_UPLOAD_BYTES: '1024' } });
      try {
        const m = await small.addReader(`${small.prefix}-mgr`, 'manager');
        const res = await small.http().post('/api/v1/scans').set(small.bearer(m)).field('split', 'train').attach('file', Buffer.alloc(4096, 1), 'big.dcm').expect(413);
        expect(res.body.detail).toBe('The uploaded file is larger than the limit of 1 KiB (1024 bytes).');
      } finally {
        await small.close();
      }
    });
  });

  describe('OpenAPI matches the API', () => {
    it('SubmissionDto: comment is a string, boxes and globalLabels optional; token rotation is admin-only; opaque bearer tokens', async () => {
      const doc = (await h.http().get('/api/v1/openapi.json').expect(200)).body as {
        paths: Record<string, Record<string, { responses: Record<string, { description: string }> }>>;
        components: { schemas: Record<string, { required?: string[]; properties: Record<string, { type?: string }> }>; securitySchemes: Record<string, { bearerFormat?: string }> };
      };
      const sub = doc.components.schemas.SubmissionDto;
      expect(sub.properties.comment.type).toBe('string');
      expect(sub.required ?? []).not.toEqual(expect.arrayContaining(['boxes']));
      expect(sub.required ?? []).not.toEqual(expect.arrayContaining(['globalLabels']));
      expect(doc.paths['/api/v1/readers/{readerId}/token'].post.responses['403'].description).toBe('Not an admin');
      expect(doc.components.securitySchemes.bearer.bearerFormat).not.toBe('JWT');
      expect(doc.paths['/readyz'].get.responses['503']).toBeDefined();
    });
  });

  describe('a Postgres outage', () => {
    it('is a 503 service-unavailable problem with Retry-After (not a 500), and /readyz keeps its checks', async () => {
      const proxy = await postgresProxy();
      const ds = createDataSource(proxy.url, { poolSize: 2 });
      await ds.initialize();
      const app = await createApiApp({
        config: h.config,
        dataSource: ds,
        temporalClient: h.temporal.client,
        store: h.store,
        logger: pino({ level: 'silent' }),
      });
      try {
        const cached = await h.addReader(`${h.prefix}-outage1`, 'manager');
        const uncached = await h.addReader(`${h.prefix}-outage2`, 'manager');
        await request(app.getHttpServer()).get('/api/v1/scans').set(h.bearer(cached)).expect(200);
        await request(app.getHttpServer()).get('/readyz').expect(200);
        await proxy.cut();
        // The token is cached: the service's query fails.
        const res = await request(app.getHttpServer()).get('/api/v1/scans').set(h.bearer(cached)).expect(503);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(res.headers['retry-after']).toMatch(/^\d+$/);
        expect(res.body).toMatchObject({ type: 'https://readflow.dev/problems/service-unavailable', status: 503, detail: expect.stringMatching(/database/) });
        // Authentication itself needs the database.
        const auth = await request(app.getHttpServer()).get('/api/v1/me/tasks').set(h.bearer(uncached)).expect(503);
        expect(auth.body.type).toBe('https://readflow.dev/problems/service-unavailable');
        const ready = await request(app.getHttpServer()).get('/readyz').expect(503);
        expect(ready.headers['retry-after']).toBeDefined();
        expect(ready.body).toMatchObject({ type: 'https://readflow.dev/problems/service-unavailable', status: 503, checks: { temporal: 'ok' } });
        expect(ready.body.checks.postgres).not.toBe('ok');
      } finally {
        await app.close();
        await ds.destroy().catch(() => undefined);
      }
    });
  });

  describe('exports carry the final labels', () => {
    it('a consensus-5 test scan (edit, return, resubmit, confirm): CSVs default to the consensus for split=test, COCO uses the final labels', async () => {
      const scanId = await upload(freshCxr(), { split: 'test', policy: 'consensus-5' });
      const tasks = await untilOpen(scanId, 'reader', 3);
      for (const t of tasks) {
        const token = await h.tokenFor(t.readerId);
        const r = { boxes: [{ label: 'Cardiomegaly', x_min: 300 + t.slot * 4, y_min: 500, x_max: 700, y_max: 800 }], globalLabels: ['Pneumonia'] };
        await h.http().post(`/api/v1/tasks/${t.taskId}/submission`).set(h.bearer(token)).send(r).expect(200);
      }
      const reviewTask = (round: number, slot: number) =>
        eventually(async () => {
          const s = await scan(scanId);
          return s.tasks.find((t) => t.role === 'reviewer' && t.status === 'open' && t.round === round && t.slot === slot);
        }, 60_000, `review round ${round} slot ${slot}`);
      const submitAs = async (t: ScanTask, body: Record<string, unknown>) =>
        h.http().post(`/api/v1/tasks/${t.taskId}/submission`).set(h.bearer(await h.tokenFor(t.readerId))).send(body).expect(200);

      const edited = {
        boxes: [
          { label: 'Cardiomegaly', x_min: 301, y_min: 501, x_max: 699, y_max: 799 },
          { label: 'Aortic enlargement', x_min: 100, y_min: 100, x_max: 200, y_max: 220 },
        ],
        globalLabels: ['Pneumonia'],
        decision: 'submit',
      };
      await submitAs(await reviewTask(1, 0), edited);
      await submitAs(await reviewTask(1, 1), { decision: 'return', reason: 'the aortic box is too small' });
      const final = { ...edited, boxes: [edited.boxes[0], { label: 'Aortic enlargement', x_min: 90, y_min: 90, x_max: 240, y_max: 260 }], globalLabels: ['Pneumonia', 'Other diseases'] };
      await submitAs(await reviewTask(2, 0), final);
      await submitAs(await reviewTask(2, 1), { decision: 'confirm' });
      const labels = await eventually(async () => {
        const res = await h.http().get(`/api/v1/scans/${scanId}/labels`).set(h.bearer(manager));
        return res.status === 200 ? res.body : undefined;
      }, 60_000, 'release');
      expect(labels.final.globalLabels.sort()).toEqual(['Other diseases', 'Pneumonia']);
      const imageId = labels.imageId as string;
      const mine = (text: string) => (parse(text, { columns: true }) as Record<string, string>[]).filter((r) => r.image_id === imageId);

      // annotations: the consensus by default for split=test, the readers on request.
      const ann = await h.http().get('/api/v1/exports/annotations.csv?split=test').set(h.bearer(manager)).expect(200);
      expect(ann.headers['content-disposition']).toBe('attachment; filename="annotations_test.csv"');
      const annRows = mine(ann.text);
      // The consensus layout of the release's test files: no rad_id column.
      expect(Object.keys(annRows[0])).toEqual(['image_id', 'class_name', 'x_min', 'y_min', 'x_max', 'y_max']);
      expect(annRows.map((r) => `${r.class_name}:${r.x_min}`).sort()).toEqual(['Aortic enlargement:90', 'Cardiomegaly:301']);
      const readersCsv = await h.http().get('/api/v1/exports/annotations.csv?split=test&labels=readers').set(h.bearer(manager)).expect(200);
      expect(readersCsv.headers['content-disposition']).toBe('attachment; filename="annotations_test_readers.csv"');
      // Readers appear under their stable pseudonyms (R<n>), never their login ids.
      const pseudonyms = new Map<string, string>(
        ((await h.ds.query(`SELECT reader_id, pseudonym FROM reader_pseudonyms`)) as { reader_id: string; pseudonym: string }[]).map((p) => [p.reader_id, p.pseudonym]),
      );
      expect(mine(readersCsv.text).map((r) => r.rad_id).sort()).toEqual(tasks.map((t) => pseudonyms.get(t.readerId)).sort());
      expect(mine(readersCsv.text).every((r) => /^R\d+$/.test(r.rad_id))).toBe(true);

      const imageLabels = mine((await h.http().get('/api/v1/exports/image_labels.csv?split=test').set(h.bearer(manager)).expect(200)).text);
      expect(imageLabels).toHaveLength(1);
      expect(imageLabels[0]).toMatchObject({ 'Aortic enlargement': '1', Cardiomegaly: '1', Pneumonia: '1', 'Other disease': '1' });
      expect(imageLabels[0]).not.toHaveProperty('rad_id');

      const kaggle = await h.http().get('/api/v1/exports/kaggle.csv?split=test&labels=final').set(h.bearer(manager)).expect(200);
      expect(kaggle.headers['content-disposition']).toBe('attachment; filename="kaggle_test.csv"');
      expect(mine(kaggle.text).map((r) => `${r.rad_id}:${r.class_name}`).sort()).toEqual(['consensus:Aortic enlargement', 'consensus:Cardiomegaly']);
      await h.http().get('/api/v1/exports/kaggle.csv?split=test&labels=fused').set(h.bearer(manager)).expect(422);

      const coco = JSON.parse((await h.http().get('/api/v1/exports/coco.json?split=test').set(h.bearer(manager)).expect(200)).text) as {
        images: { id: number; image_id: string; global_labels: string[] }[];
        annotations: { image_id: number; bbox: number[]; score: number }[];
        categories: { id: number; name: string }[];
      };
      const img = coco.images.find((i) => i.image_id === imageId)!;
      expect(img.global_labels.sort()).toEqual(['Other diseases', 'Pneumonia']);
      const anns = coco.annotations.filter((a) => a.image_id === img.id);
      expect(anns.map((a) => a.bbox).sort()).toEqual([
        [301, 501, 398, 298],
        [90, 90, 150, 170],
      ].sort());
    });
  });

  describe('images of tasks taken away', () => {
    it('a reader whose task was reassigned gets 404 on its image; a reader who submitted still sees theirs; managers see all', async () => {
      const scanId = await upload(freshCxr());
      try {
        const [a, b] = await untilOpen(scanId, 'reader', 3);
        const [ta, tb] = [await h.tokenFor(a.readerId), await h.tokenFor(b.readerId)];
        await h.http().get(`/api/v1/tasks/${a.taskId}/image`).set(h.bearer(ta)).expect(200);
        const moved = await h.http().post(`/api/v1/tasks/${a.taskId}/reassign`).set(h.bearer(manager)).send({}).expect(200);
        for (const q of ['', '?format=png']) {
          const res = await h.http().get(`/api/v1/tasks/${a.taskId}/image${q}`).set(h.bearer(ta)).expect(404);
          expect(res.body.detail).toMatch(/reassigned/);
        }
        await h.http().get(`/api/v1/tasks/${a.taskId}/image`).set(h.bearer(manager)).expect(200);
        await h.http().get(`/api/v1/tasks/${moved.body.newTaskId}/image`).set(h.bearer(await h.tokenFor(moved.body.readerId))).expect(200);
        // The task itself stays visible to its old reader (status reassigned), only the image is gone.
        await h.http().get(`/api/v1/tasks/${a.taskId}`).set(h.bearer(ta)).expect(200);

        await h.http().post(`/api/v1/tasks/${b.taskId}/submission`).set(h.bearer(tb)).send(reading).expect(200);
        await h.http().get(`/api/v1/tasks/${b.taskId}/image?format=png`).set(h.bearer(tb)).expect(200);
      } finally {
        await cancel(scanId);
      }
    });
  });

  describe('batches', () => {
    it('refuses up front what cannot work (422): empty list, empty path, paths outside the import directory', async () => {
      const post = (body: Record<string, unknown>) => h.http().post('/api/v1/batches').set(h.bearer(manager)).send({ split: 'train', ...body });
      expect((await post({ files: [] }).expect(422)).body.errors).toEqual([expect.objectContaining({ path: 'files' })]);
      expect((await post({ files: ['a.dcm', ''] }).expect(422)).body.errors).toEqual([expect.objectContaining({ path: 'files' })]);
      const outside = await post({ directory: '/nonexistent' }).expect(422);
      expect(outside.body.errors).toEqual([expect.objectContaining({ path: 'directory', code: 'outside-import-dir' })]);
      const dotdot = await post({ files: ['ok.dcm', '../../etc/passwd'] }).expect(422);
      expect(dotdot.body.errors).toEqual([expect.objectContaining({ path: 'files[1]', code: 'outside-import-dir' })]);
    });

    it('a batch whose workflow failed reports state "failed" with the failure, not "listing" forever', async () => {
      const started = await h.http().post('/api/v1/batches').set(h.bearer(manager)).send({ split: 'train', directory: 'no-such-directory' }).expect(202);
      const failed = await eventually(async () => {
        const res = await h.http().get(`/api/v1/batches/${started.body.batchId}`).set(h.bearer(manager)).expect(200);
        return res.body.state === 'failed' ? res.body : undefined;
      }, 60_000, 'the batch to fail');
      expect(failed).toMatchObject({ batchId: started.body.batchId, failure: expect.stringMatching(/no-such-directory|ENOENT/), finishedAt: expect.any(String) });
      expect(failed.counts).toMatchObject({ listed: 0, started: 0 });
    });
  });

  describe('scan detail and export names', () => {
    it('GET /scans/{id} of a cancelled scan shows who cancelled it and why', async () => {
      const scanId = await upload(freshCxr());
      await untilOpen(scanId, 'reader', 3);
      const before = await scan(scanId);
      expect(before).toMatchObject({ cancelledBy: null, cancelReason: null });
      await cancel(scanId, 'duplicate of another study').expect(200);
      const after = await eventually(async () => {
        const s = await scan(scanId);
        return s.stage === 'cancelled' ? s : undefined;
      }, 10_000, 'the cancelled stage');
      expect(after).toMatchObject({ cancelledBy: `${h.prefix}-mgr`, cancelReason: 'duplicate of another study' });
    });

    it('the Kaggle export downloads as kaggle_{split}.csv', async () => {
      for (const split of ['train', 'test']) {
        const res = await h.http().get(`/api/v1/exports/kaggle.csv?split=${split}`).set(h.bearer(manager)).expect(200);
        expect(res.headers['content-disposition']).toBe(`attachment; filename="kaggle_${split}.csv"`);
      }
    });
  });

  describe('re-uploads', () => {
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

    it('the same file with another split or policy is a 409 naming the existing scan; the same settings a 200; no copy left in incoming/', async () => {
      const bytes = freshCxr();
      const scanId = await upload(bytes, { split: 'train' });
      try {
        await untilOpen(scanId, 'reader', 3);
        for (const fields of [{ split: 'test' }, { split: 'train', policy: 'consensus-5' }]) {
          const res = await h
            .http()
            .post('/api/v1/scans')
            .set(h.bearer(manager))
            .field('split', fields.split)
            .field('policy', fields.policy ?? 'independent-3')
            .attach('file', bytes, 'again.dcm')
            .expect(409);
          expect(res.body).toMatchObject({
            type: 'https://readflow.dev/problems/scan-exists-with-other-settings',
            scanId,
            split: 'train',
            policy: 'independent-3',
          });
          expect(res.body.detail).toContain(scanId);
          expect(await h.store.stat('incoming', sha(bytes))).toBeNull();
        }
        // The tasks are in the inbox a moment before the stage write: wait for `reading` to compare with it.
        await eventually(async () => ((await scan(scanId)).stage === 'reading' ? true : undefined), 10_000, 'the reading stage');
        const same = await h.http().post('/api/v1/scans').set(h.bearer(manager)).field('split', 'train').attach('file', bytes, 'again.dcm').expect(200);
        expect(same.body).toMatchObject({ scanId, stage: 'reading' });
        expect(await h.store.stat('incoming', sha(bytes))).toBeNull();
      } finally {
        await cancel(scanId);
      }
    });

    it('a corrected file with the SOP Instance UID of a quarantined scan is ingested again (202, a new run)', async () => {
      const good = freshCxr();
      const broken = good.subarray(0, good.length - 4096);
      const scanId = await upload(broken, { split: 'train' });
      await eventually(async () => ((await scan(scanId).catch(() => undefined))?.stage === 'quarantined' ? true : undefined), 60_000, 'quarantine');
      // The same broken bytes: the existing (quarantined) scan, nothing new.
      const again = await h.http().post('/api/v1/scans').set(h.bearer(manager)).field('split', 'train').attach('file', broken, 'broken.dcm').expect(200);
      expect(again.body).toMatchObject({ scanId, stage: 'quarantined' });
      expect(await h.store.stat('incoming', sha(broken))).toBeNull();

      const fixed = await upload(good, { split: 'test', policy: 'independent-5' });
      expect(fixed).toBe(scanId);
      try {
        await untilOpen(scanId, 'reader', 5);
        const s = await eventually(async () => {
          const x = await scan(scanId);
          return x.stage === 'reading' ? x : undefined;
        }, 10_000, 'the reading stage');
        expect(s).toMatchObject({ stage: 'reading', split: 'test', policy: 'independent-5', quarantineReason: null });
        // Both runs are in the audit trail: the second run's events are not swallowed by the first run's keys.
        const stages: { action: string }[] = await h.ds.query(
          `SELECT action FROM audit_events WHERE scan_id = $1 AND action = 'stage:ingesting'`,
          [scanId],
        );
        expect(stages).toHaveLength(2);
        const assigned: { n: number }[] = await h.ds.query(
          `SELECT count(*)::int AS n FROM audit_events WHERE scan_id = $1 AND action LIKE 'task:assigned%'`,
          [scanId],
        );
        expect(assigned[0].n).toBeGreaterThanOrEqual(5);
      } finally {
        await cancel(scanId);
      }
    });
  });
});
