import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { load } from 'js-yaml';

import type { ApiHarness } from '../support/api-harness';
import { ensureDefaultRoster, eventually, freshCxr, startApiHarness, workflowBundle } from '../support/api-harness';
import { testDataConverter } from '../support/services';

interface ScanTask {
  taskId: string;
  readerId: string;
  slot: number;
  status: string;
}

/**
 * Issue 10, item 2: whoever reaches Temporal used to read every reading before release. Payloads are now encrypted by
 * the codec (src/temporal/payload-codec.ts) in every worker and client; the history fetched WITHOUT the codec holds no
 * reading, comment, reason or file name in clear; the history still replays; operators decode through the API's codec
 * endpoint (managers only).
 */
describe('security: Temporal payloads are encrypted', () => {
  let h: ApiHarness;
  let manager: string;
  let scanId: string;
  let history: temporal.api.history.v1.IHistory;
  const tag = randomUUID().slice(0, 8);
  const secrets = {
    file: `DOE-JOHN-${tag}.dcm`,
    comment: `nodule behind the heart ${tag}`,
    reason: `duplicate of an earlier film ${tag}`,
  };

  // Upload → reading → a submission → cancel → completed, on a shared 2-core machine: allow minutes.
  beforeAll(async () => {
    h = await startApiHarness({ worker: true, env: { READFLOW_TASK_DEADLINE: '1h' } });
    await ensureDefaultRoster(h.ds);
    manager = await h.addReader(`${h.prefix}-mgr`, 'manager');

    const upload = await h.http().post('/api/v1/scans').set(h.bearer(manager)).field('split', 'train').attach('file', freshCxr(), secrets.file).expect(202);
    scanId = upload.body.scanId;
    const detail = await eventually(async () => {
      const res = await h.http().get(`/api/v1/scans/${scanId}`).set(h.bearer(manager));
      return res.status === 200 && res.body.stage === 'reading' ? res.body : undefined;
    }, 60_000, 'the scan to reach reading');
    const task = (detail.tasks as ScanTask[]).find((t) => t.status === 'open') as ScanTask;
    const reading = { boxes: [{ label: 'Cardiomegaly', x_min: 300, y_min: 500, x_max: 700, y_max: 800 }], globalLabels: ['Tuberculosis'], comment: secrets.comment };
    await h.http().post(`/api/v1/tasks/${task.taskId}/submission`).set(h.bearer(await h.tokenFor(task.readerId))).send(reading).expect(200);
    const cancelled = await h.http().post(`/api/v1/scans/${scanId}/cancel`).set(h.bearer(manager)).send({ reason: secrets.reason });
    expect(cancelled.status).toBeLessThan(300);
    await eventually(async () => {
      const d = await h.temporal.client.workflow.getHandle(scanId).describe();
      return d.status.name === 'COMPLETED' ? d : undefined;
    }, 60_000, 'the workflow to complete');

    // A client WITHOUT the codec: what the Temporal server, its database, its UI and `temporal workflow show` see.
    const plainClient = new Client({ connection: h.temporal.connection, namespace: h.config.temporal.namespace });
    history = await plainClient.workflow.getHandle(scanId).fetchHistory();
  }, 300_000);
  afterAll(async () => {
    await h?.close();
  });

  it('the history holds no reading, comment, reason or file name in clear', () => {
    const bytes = Buffer.from(temporal.api.history.v1.History.encode(history).finish());
    expect(bytes.length).toBeGreaterThan(1000);
    for (const clear of [secrets.file, secrets.comment, secrets.reason, 'Cardiomegaly', 'Tuberculosis', tag]) {
      expect({ clear, found: bytes.includes(clear) }).toEqual({ clear, found: false });
    }
    // Every payload is encrypted, and the search attributes operators filter on stay readable.
    expect(bytes.includes('binary/encrypted')).toBe(true);
    // Every Payloads list (inputs, results, update arguments, activity inputs) is encrypted; search attributes are a map
    // of their own and stay readable.
    const lists: temporal.api.common.v1.IPayload[][] = [];
    // The SDK's own patch markers (`patched()`) carry the patch id, a name from our code, as plain JSON: not data.
    const isPatchMarker = (k: string, x: unknown): boolean =>
      k === 'markerRecordedEventAttributes' && (x as { markerName?: string } | null)?.markerName === 'core_patch';
    // A local activity's marker (the projection writes') holds its result, which is ours and encrypted, and the SDK's
    // own bookkeeping in `data`: plain JSON of ids, attempt and times, checked below to hold nothing else.
    type Marker = { markerName?: string; details?: Record<string, { payloads?: temporal.api.common.v1.IPayload[] }> };
    const localActivityData: temporal.api.common.v1.IPayload[] = [];
    const isLocalActivityMarker = (k: string, x: unknown): x is Marker =>
      k === 'markerRecordedEventAttributes' && (x as Marker | null)?.markerName === 'core_local_activity';
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
        for (const [k, x] of Object.entries(v)) {
          if (k === 'payloads' && Array.isArray(x)) lists.push(x as temporal.api.common.v1.IPayload[]);
          else if (isLocalActivityMarker(k, x)) {
            for (const [name, detail] of Object.entries(x.details ?? {})) {
              if (name === 'data') localActivityData.push(...(detail.payloads ?? []));
              else walk(detail);
            }
          } else if (k !== 'searchAttributes' && k !== 'upsertWorkflowSearchAttributesEventAttributes' && !isPatchMarker(k, x)) walk(x);
        }
      }
    };
    walk(history.events);
    expect(lists.length).toBeGreaterThan(5);
    expect(localActivityData.length).toBeGreaterThan(0);
    const bookkeeping = new Set(['seq', 'attempt', 'activity_id', 'activity_type', 'complete_time', 'backoff', 'original_schedule_time']);
    for (const p of localActivityData) {
      const fields = Object.keys(JSON.parse(Buffer.from(p.data ?? []).toString()) as object);
      expect(fields.filter((f) => !bookkeeping.has(f))).toEqual([]);
    }
    const encodings = new Set(lists.flat().map((p) => Buffer.from(p.metadata?.encoding ?? []).toString()));
    expect([...encodings]).toEqual(['binary/encrypted']);
    expect(bytes.includes(scanId)).toBe(true);
  });

  it('the history decodes with the codec (the secrets are there, so the check above can fail) and replays', async () => {
    const decoded = await h.temporal.client.workflow.getHandle(scanId).result();
    expect(decoded).toMatchObject({ scanId, stage: 'cancelled', cancelled: { reason: secrets.reason } });
    const replay = await Worker.runReplayHistory({ workflowBundle: await workflowBundle(), dataConverter: testDataConverter() }, history, scanId);
    expect(replay).toBeUndefined();
  });

  it('the codec endpoint decodes for managers only, with CORS for the Temporal UI origin only', async () => {
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    expect(started).toBeDefined();
    const toJson = (p: temporal.api.common.v1.IPayload) => ({
      metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
      data: Buffer.from(p.data ?? []).toString('base64'),
    });
    const body = { payloads: [toJson(started!)] };
    const res = await h.http().post('/api/v1/temporal-codec/decode').set(h.bearer(manager)).set('X-Namespace', h.config.temporal.namespace).send(body).expect(200);
    const out = res.body.payloads[0];
    expect(Buffer.from(out.metadata.encoding, 'base64').toString()).toBe('json/plain');
    // The decoded input is the scan's (its upload's file name is never in it: issue 11).
    const decoded = Buffer.from(out.data, 'base64').toString();
    expect(JSON.parse(decoded)).toMatchObject({ scanId, split: 'train' });
    expect(decoded).not.toContain(secrets.file);

    const reader = await h.addReader(`${h.prefix}-rd`, 'radiologist');
    await h.http().post('/api/v1/temporal-codec/decode').set(h.bearer(reader)).send(body).expect(403);
    await h.http().post('/api/v1/temporal-codec/decode').send(body).expect(401);
    await h.http().post('/api/v1/temporal-codec/decode').set(h.bearer(manager)).set('X-Namespace', 'other').send(body).expect(403);
    await h.http().post('/api/v1/temporal-codec/decode').set(h.bearer(manager)).send({ payloads: [{ data: '%%%' }] }).expect(422);

    const uiOrigin = new URL(h.config.temporal.uiUrl).origin;
    const pre = await h.http().options('/api/v1/temporal-codec/decode').set('Origin', uiOrigin).set('Access-Control-Request-Method', 'POST').expect(204);
    expect(pre.headers['access-control-allow-origin']).toBe(uiOrigin);
    expect(pre.headers['access-control-allow-headers']).toMatch(/X-Namespace/);
    const evil = await h.http().options('/api/v1/temporal-codec/decode').set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'POST');
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('a codec session lets the Temporal UI decode with a cookie (managers only, codec path only, ended at sign-out)', async () => {
    const started = history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads![0];
    const body = {
      payloads: [
        {
          metadata: Object.fromEntries(Object.entries(started.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
          data: Buffer.from(started.data ?? []).toString('base64'),
        },
      ],
    };
    const session = await h.http().post('/api/v1/temporal-codec/session').set(h.bearer(manager)).expect(204);
    const setCookie = String(session.headers['set-cookie']);
    expect(setCookie).toMatch(/^readflow_codec=rf_[^;]+; Path=\/api\/v1\/temporal-codec; Max-Age=43200; HttpOnly; SameSite=Strict$/);
    const cookie = setCookie.split(';')[0];
    // What the UI sends with "include cross-origin credentials": the cookie, no Authorization header.
    const uiOrigin = new URL(h.config.temporal.uiUrl).origin;
    const res = await h.http().post('/api/v1/temporal-codec/decode').set('Cookie', cookie).set('Origin', uiOrigin).send(body).expect(200);
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(JSON.parse(Buffer.from(res.body.payloads[0].data, 'base64').toString())).toMatchObject({ scanId });
    // The cookie authenticates nothing outside the codec path.
    await h.http().get('/api/v1/scans').set('Cookie', cookie).expect(401);
    // A reader gets no session; a made-up cookie decodes nothing.
    const reader = await h.addReader(`${h.prefix}-rd2`, 'radiologist');
    await h.http().post('/api/v1/temporal-codec/session').set(h.bearer(reader)).expect(403);
    await h.http().post('/api/v1/temporal-codec/decode').set('Cookie', 'readflow_codec=rf_madeupmadeupmadeupmadeup').send(body).expect(401);
    // Sign-out clears it.
    const ended = await h.http().delete('/api/v1/temporal-codec/session').set('Cookie', cookie).expect(204);
    expect(String(ended.headers['set-cookie'])).toMatch(/^readflow_codec=; Path=\/api\/v1\/temporal-codec; Max-Age=0;/);
  });

  it('docker-compose.yml keeps Temporal gRPC and UI off public interfaces and requires payload keys', () => {
    const compose = load(readFileSync(join(__dirname, '../../docker-compose.yml'), 'utf8')) as {
      services: Record<string, { ports?: string[]; environment?: Record<string, string> }>;
      'x-readflow-env': Record<string, string>;
    };
    for (const [name, svc] of Object.entries(compose.services)) {
      if (!name.startsWith('temporal')) continue;
      for (const port of svc.ports ?? []) expect({ name, port, loopback: /^127\.0\.0\.1:/.test(String(port)) }).toEqual({ name, port, loopback: true });
    }
    expect(compose['x-readflow-env'].READFLOW_PAYLOAD_KEYS).toMatch(/READFLOW_PAYLOAD_KEYS:\?/);
  });
});

describe('security: mTLS to Temporal (production shape)', () => {
  it('`npm run certs` makes a CA, a server and a client certificate, and ReadFlow presents the client one', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const tls = await import('node:tls');
    const { Connection } = await import('@temporalio/client');
    const { temporalConnectionOptions } = await import('../../src/temporal/connect');
    const dir = mkdtempSync(join(tmpdir(), 'readflow-certs-'));
    try {
      execFileSync('sh', [join(__dirname, '../../scripts/certs.sh'), dir], { stdio: 'pipe' });
      // A TLS server standing in for the Temporal frontend, requiring a client certificate from the same CA.
      const seen: { authorized: boolean; cn?: string }[] = [];
      const server = tls.createServer(
        { cert: readFileSync(join(dir, 'temporal-server.pem')), key: readFileSync(join(dir, 'temporal-server.key')), ca: readFileSync(join(dir, 'ca.pem')), requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] },
        (socket) => {
          seen.push({ authorized: socket.authorized, cn: socket.getPeerCertificate().subject?.CN as string | undefined });
          socket.destroy();
        },
      );
      const refused: string[] = [];
      server.on('tlsClientError', (err) => refused.push(err.message));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as { port: number }).port;
      const security = {
        temporalTls: { certFile: join(dir, 'readflow-client.pem'), keyFile: join(dir, 'readflow-client.key'), caFile: join(dir, 'ca.pem'), serverName: 'temporal' },
      };
      const opts = temporalConnectionOptions(`127.0.0.1:${port}`, security);
      expect(opts.tls).toBeTruthy();
      await Connection.connect({ ...opts, connectTimeout: '5s' }).then((c) => c.close(), () => undefined);
      server.close();
      expect({ seen: seen.length > 0, refused }).toEqual({ seen: true, refused: [] });
      expect(seen[0]).toEqual({ authorized: true, cn: 'readflow' });
      // Without TLS settings, nothing is presented: plain gRPC (the dev server on loopback).
      expect(temporalConnectionOptions('127.0.0.1:7233', {}).tls).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
