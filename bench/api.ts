/**
 * API benchmark: the radiologists' inbox (`GET /api/v1/me/tasks`) against a bare Nest route of the same app
 * (`GET /api/v1/ping`: same global guards, middleware and filter, no database), with 17 concurrent readers, each
 * connection using its own reader's token. autocannon runs in-process against the real app (createApiApp) on an
 * ephemeral loopback port, over a fresh database seeded with 17 readers × 40 tasks (20 open) and migrated schema.
 * The app runs in a worker thread of this process, so that the load generator (main thread) does not share its
 * event loop (on a 2-core machine: one core each, Postgres in between).
 *
 * PNG previews (issue #14): a synthetic 16-bit film (12 bits stored, film grain so that it compresses like a real
 * one) of `--png-side` × `--png-side` pixels (default 3000), fetched by its reader as `?format=png`: the first render
 * (each request with another window level, so nothing is cached: decode, window, PNG encode in a render thread) and
 * the cached PNG, against the same image's DICOM download (baseline: bytes from the store, no rendering).
 *
 * Run: `npm run bench:api [-- <seconds per endpoint> [--png-side N] [--png-renders N]]` (builds, then
 * `node dist/bench/api.js`). Needs Postgres: DATABASE_URL, else postgres://postgres@127.0.0.1:5432. Temporal is not
 * contacted (a lazy client; no route measured uses it).
 * Target (issue #6): inbox ≥ 40 % of the bare route's requests/s, inbox p99 < 50 ms.
 */
import 'reflect-metadata';

import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

import autocannon from 'autocannon';
import type { Client as AutocannonClient, Result } from 'autocannon';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';

import { createApiApp } from '../src/api/bootstrap';
import { loadConfig } from '../src/config/config';
import { dropDatabase, openDatabase } from '../src/db/data-source';
import { hashToken, newToken } from '../src/db/tokens';
import { syntheticChest } from '../src/simulate/dicom';
import { Rng } from '../src/simulate/random';
import { drawTruth } from '../src/simulate/truth';
import { LocalBlobStore } from '../src/storage/blob-store';

const READERS = 17;
const TASKS_PER_READER = 40;
const args = process.argv.slice(2);
function option(name: string, fallback: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}
const DURATION_S = Number(args.find((a, i) => /^\d+$/.test(a) && !args[i - 1]?.startsWith('--')) ?? 10);
/** Side of the square 16-bit film of the PNG rows. */
const PNG_SIDE = option('--png-side', 3000);
/** First renders timed (each a distinct window level). */
const PNG_RENDERS = option('--png-renders', 12);
/** Concurrent clients of the cached PNG and DICOM rows. */
const IMAGE_CONNECTIONS = 4;

function summary(r: Result): { rps: number; p50: number; p99: number; errors: number; non2xx: number; total: number } {
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    total: r.requests.total,
  };
}

function run(url: string, path: string, tokens: string[] | undefined, duration: number, connections = READERS): Promise<Result> {
  let next = 0;
  return autocannon({
    url: `${url}${path}`,
    connections,
    duration,
    // Each connection is one reader with its own token.
    setupClient: (client: AutocannonClient) => {
      if (tokens) client.setHeaders({ authorization: `Bearer ${tokens[next++ % tokens.length]}` });
    },
  });
}

/** Worker thread: seeds the database, serves the app, reports its port and the tokens, stops on request. */
async function serve(): Promise<void> {
  const config = loadConfig({ ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'silent', PORT: '0', READFLOW_RATE_LIMIT_PER_MINUTE: '100000000', READFLOW_DEID_SECRET: process.env.READFLOW_DEID_SECRET || 'bench-secret-'.repeat(4) });
  const base = new URL(config.database.url ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  base.pathname = `/readflow_bench_api_${process.pid}`;
  const dbUrl = base.toString();
  const ds = await openDatabase(dbUrl, { poolSize: 10 });
  const connection = Connection.lazy({ address: config.temporal.address });
  const store = new LocalBlobStore(`${config.dataDir}/bench-api-store`);
  let app: Awaited<ReturnType<typeof createApiApp>> | undefined;
  const stop = async (): Promise<void> => {
    await app?.close();
    await connection.close().catch(() => undefined);
    await ds.destroy();
    await dropDatabase(dbUrl);
  };
  try {
    const tokens: string[] = [];
    for (let i = 1; i <= READERS; i++) {
      const id = `rad${String(i).padStart(2, '0')}`;
      await ds.query(`INSERT INTO readers (id, display_name, role, senior) VALUES ($1, $1, 'radiologist', $2)`, [id, i <= 3]);
      const token = newToken();
      await ds.query(`INSERT INTO api_tokens (reader_id, token_hash) VALUES ($1, $2)`, [id, hashToken(token)]);
      tokens.push(token);
    }
    const scans = Math.ceil((READERS * TASKS_PER_READER) / 3);
    await ds.query(
      `INSERT INTO scans (id, split, policy, stage, image_id, rows, columns)
       SELECT 'scan-' || lpad(g::text, 24, '0'), 'train', 'independent-3', 'reading', md5(g::text), 2048, 2048 FROM generate_series(1, $1) g`,
      [scans],
    );
    await ds.query(
      `INSERT INTO tasks (id, scan_id, reader_id, role, slot, status, assigned_at, due_at)
       SELECT gen_random_uuid(), 'scan-' || lpad((1 + g / 3)::text, 24, '0'), 'rad' || lpad((1 + g % $1)::text, 2, '0'), 'reader', g % 3,
              CASE WHEN (g / $1) % 2 = 0 THEN 'open' ELSE 'submitted' END, now() - interval '1 hour', now() + make_interval(mins => g)
         FROM generate_series(0, $2 - 1) g`,
      [READERS, READERS * TASKS_PER_READER],
    );
    // The PNG rows' film: a submitted task of rad01 (its inbox keeps 20 open tasks), the film in the de-identified store.
    const rng = new Rng('bench-api-png');
    const film = syntheticChest({ runId: '77', n: 1, rows: PNG_SIDE, columns: PNG_SIDE, modality: 'DX', encoding: 'explicit', truth: drawTruth(rng, PNG_SIDE, PNG_SIDE), rng, noise: 48 }).bytes;
    const imageId = 'b'.repeat(32);
    await store.put('deidentified', film, { key: imageId });
    await ds.query(
      `INSERT INTO scans (id, split, policy, stage, image_id, rows, columns, transfer_syntax, deidentified_key)
       VALUES ('scan-png', 'train', 'independent-3', 'reading', $1, $2, $2, '1.2.840.10008.1.2.1', $3)`,
      [imageId, PNG_SIDE, imageId],
    );
    const pngTask = '00000000-0000-4000-8000-000000000001';
    await ds.query(
      `INSERT INTO tasks (id, scan_id, reader_id, role, slot, status, assigned_at, due_at, submitted_at)
       VALUES ($1, 'scan-png', 'rad01', 'reader', 0, 'submitted', now(), now(), now())`,
      [pngTask],
    );
    await ds.query('ANALYZE');
    app = await createApiApp({
      config,
      dataSource: ds,
      temporalClient: new Client({ connection, namespace: config.temporal.namespace }),
      store,
      logger: pino({ level: 'silent' }),
    });
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as { port: number };
    parentPort!.once('message', () => {
      stop().then(
        () => parentPort!.postMessage({ stopped: true }),
        (e: unknown) => parentPort!.postMessage({ error: String(e) }),
      );
    });
    parentPort!.postMessage({ port, tokens, pngTask, filmBytes: film.length });
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}

/** Main thread: starts the app's thread, then drives the load. */
async function main(): Promise<void> {
  const server = new Worker(__filename, { workerData: { role: 'server' }, argv: process.argv.slice(2) });
  const ready = await new Promise<{ port: number; tokens: string[]; pngTask: string; filmBytes: number }>((resolve, reject) => {
    server.once('message', resolve);
    server.once('error', reject);
  });
  const { tokens } = ready;
  const url = `http://127.0.0.1:${ready.port}`;
  try {
    // Sanity: the inbox answers each reader with their 20 open tasks.
    const probe = await fetch(`${url}/api/v1/me/tasks`, { headers: { authorization: `Bearer ${tokens[0]}` } });
    const body = (await probe.json()) as { items: unknown[] };
    if (probe.status !== 200 || body.items.length !== 20) throw new Error(`inbox probe failed: ${probe.status} ${JSON.stringify(body).slice(0, 200)}`);

    process.stdout.write(`ReadFlow API bench: ${READERS} concurrent readers (1 connection each), ${DURATION_S} s per endpoint, Node ${process.version}\n`);
    await run(url, '/api/v1/ping', undefined, 2); // warm-up
    await run(url, '/api/v1/me/tasks', tokens, 2);
    const bare = summary(await run(url, '/api/v1/ping', undefined, DURATION_S));
    const inbox = summary(await run(url, '/api/v1/me/tasks', tokens, DURATION_S));
    const row = (name: string, s: ReturnType<typeof summary>) =>
      `${name.padEnd(40)} ${s.rps.toFixed(0).padStart(6)} req/s   p50 ${String(s.p50).padStart(3)} ms   p99 ${String(s.p99).padStart(3)} ms   ${s.total} requests, ${s.non2xx} non-2xx, ${s.errors} errors\n`;
    process.stdout.write(row('GET /api/v1/ping (bare Nest route)', bare));
    process.stdout.write(row('GET /api/v1/me/tasks (inbox, 20 items)', inbox));
    const ratio = inbox.rps / bare.rps;
    process.stdout.write(
      `inbox/bare throughput ratio: ${(ratio * 100).toFixed(1)} % (target ≥ 40 %: ${ratio >= 0.4 ? 'met' : 'NOT met'}); ` +
        `inbox p99 ${inbox.p99} ms (target < 50 ms: ${inbox.p99 < 50 ? 'met' : 'NOT met'})\n`,
    );
    if (inbox.non2xx || inbox.errors || bare.non2xx || bare.errors) process.exitCode = 1;

    // PNG previews of a PNG_SIDE² 16-bit film, against its DICOM download (fetch loops: bodies of megabytes).
    const image = `/api/v1/tasks/${ready.pngTask}/image`;
    const auth = { authorization: `Bearer ${tokens[0]}` };
    const timed = async (path: string): Promise<{ ms: number; bytes: number }> => {
      const t = performance.now();
      const res = await fetch(`${url}${path}`, { headers: auth });
      const body = Buffer.from(await res.arrayBuffer());
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${body.toString().slice(0, 200)}`);
      return { ms: performance.now() - t, bytes: body.length };
    };
    const pct = (xs: number[], q: number): number => {
      const sorted = [...xs].sort((a, b) => a - b);
      return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
    };
    /** `connections` clients fetching `path` in a loop for `seconds`. */
    const loop = async (path: string, seconds: number, connections: number): Promise<{ rps: number; p50: number; p99: number; n: number; bytes: number }> => {
      const ms: number[] = [];
      let bytes = 0;
      const until = performance.now() + seconds * 1000;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: connections }, async () => {
          while (performance.now() < until) {
            const r = await timed(path);
            ms.push(r.ms);
            bytes = r.bytes;
          }
        }),
      );
      return { rps: ms.length / ((performance.now() - started) / 1000), p50: pct(ms, 0.5), p99: pct(ms, 0.99), n: ms.length, bytes };
    };
    const firstMs: number[] = [];
    let pngBytes = 0;
    for (let i = 0; i < PNG_RENDERS; i++) {
      const r = await timed(`${image}?format=png&level=${1000 + i}`); // another level each time: a full render
      firstMs.push(r.ms);
      pngBytes = r.bytes;
    }
    const first = { rps: 1000 / pct(firstMs, 0.5), p50: pct(firstMs, 0.5), p99: pct(firstMs, 0.99), n: PNG_RENDERS, bytes: pngBytes };
    await timed(`${image}?format=png&level=900`); // into the cache
    const cached = await loop(`${image}?format=png&level=900`, DURATION_S, IMAGE_CONNECTIONS);
    const dicom = await loop(image, DURATION_S, IMAGE_CONNECTIONS);
    const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
    const imageRow = (name: string, r: typeof first, what: string): string =>
      `${name.padEnd(40)} ${r.rps.toFixed(1).padStart(6)} req/s   p50 ${r.p50.toFixed(0).padStart(4)} ms   p99 ${r.p99.toFixed(0).padStart(4)} ms   ${r.n} ${what}\n`;
    process.stdout.write(`\nPNG previews of a ${PNG_SIDE}×${PNG_SIDE} 16-bit film (DICOM ${mb(ready.filmBytes)}, PNG ${mb(pngBytes)}):\n`);
    process.stdout.write(imageRow('GET …/image (DICOM download, baseline)', dicom, `requests, ${IMAGE_CONNECTIONS} connections`));
    process.stdout.write(imageRow('GET …/image?format=png (cached)', cached, `requests, ${IMAGE_CONNECTIONS} connections`));
    process.stdout.write(imageRow('GET …/image?format=png (first render)', first, 'sequential renders, each a new window level'));
    process.stdout.write(
      `first render p99 / DICOM p99: ${(first.p99 / dicom.p99).toFixed(2)}×; cached PNG p99 / DICOM p99: ${(cached.p99 / dicom.p99).toFixed(2)}×; ` +
        `first render p99 / cached PNG p99: ${(first.p99 / cached.p99).toFixed(1)}×\n`,
    );
  } finally {
    server.postMessage('stop');
    await new Promise((resolve) => server.once('message', resolve));
    await server.terminate();
  }
}

if (isMainThread) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench:api failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
} else if ((workerData as { role?: string } | null)?.role === 'server') {
  serve().catch((err: unknown) => {
    process.stderr.write(`bench:api server failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
