/**
 * API benchmark: the radiologists' inbox (`GET /api/v1/me/tasks`) against a bare Nest route of the same app
 * (`GET /api/v1/ping`: same global guards, middleware and filter, no database), with 17 concurrent readers, each
 * connection using its own reader's token. autocannon runs in-process against the real app (createApiApp) on an
 * ephemeral loopback port, over a fresh database seeded with 17 readers × 40 tasks (20 open) and migrated schema.
 * The app runs in a worker thread of this process, so that the load generator (main thread) does not share its
 * event loop (on a 2-core machine: one core each, Postgres in between).
 *
 * Run: `npm run bench:api` (builds, then `node dist/bench/api.js`). Needs Postgres: DATABASE_URL, else
 * postgres://postgres@127.0.0.1:5432. Temporal is not contacted (a lazy client; neither route uses it).
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
import { LocalBlobStore } from '../src/storage/blob-store';

const READERS = 17;
const TASKS_PER_READER = 40;
const DURATION_S = Number(process.argv[2] ?? 10);

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

function run(url: string, path: string, tokens: string[] | undefined, duration: number): Promise<Result> {
  let next = 0;
  return autocannon({
    url: `${url}${path}`,
    connections: READERS,
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
    parentPort!.postMessage({ port, tokens });
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}

/** Main thread: starts the app's thread, then drives the load. */
async function main(): Promise<void> {
  const server = new Worker(__filename, { workerData: { role: 'server' } });
  const ready = await new Promise<{ port: number; tokens: string[] }>((resolve, reject) => {
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
