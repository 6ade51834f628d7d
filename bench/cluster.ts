/**
 * Lifecycle throughput with instant readers, on three Temporal shapes in the same run:
 *   A. the SQLite dev server (`temporal server start-dev`, a file under a temp dir: what `npm start` runs) + 1 worker;
 *   B. the production server (`temporal-server` 1.29.1, Postgres persistence and SQL visibility) + 1 worker process;
 *   C. the same Postgres-backed server + 2 worker processes.
 * Workers are real `dist/src/cli/worker.js` processes. N scans (default 60; independent-3 and consensus-5 mixed) are
 * staged from a real radiograph, started, and read by instant simulated readers (the inbox projection in Postgres,
 * submissions through the `submitReading` update, reviews with the fused proposal) until all are released.
 * Prints scans/s, the ratios against A, and the CPU seconds each process used (which one limits the configuration).
 *
 * Run: `npm run bench:cluster [scans]`. Needs Postgres at DATABASE_URL (default postgres://postgres@127.0.0.1:5432),
 * the Temporal CLI and the server binaries (built on first use, as `npm run start:cluster` does).
 */
import 'reflect-metadata';

import { execFileSync } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Client, Connection } from '@temporalio/client';
import type { DataSource } from 'typeorm';

import { dropDatabase, openDatabase } from '../src/db/data-source';
import { seedRoster } from '../src/db/seed';
import type { PolicyName } from '../src/domain';
import { DEFAULT_POLICIES } from '../src/domain';
import { stageIncoming } from '../src/ingest/stage-incoming';
import { LocalBlobStore } from '../src/storage/blob-store';
import { ensureNamespace, pgTargetFromUrl, prepareTemporalDatabases, startTemporalServer } from '../src/temporal/cluster-server';
import { startDevServer } from '../src/temporal/dev-server';
import type { ManagedProcess } from '../src/temporal/managed-process';
import { spawnManaged } from '../src/temporal/managed-process';
import { ensureServerBinaries } from '../src/temporal/server-binaries';
import { ensureTemporalCli } from '../src/temporal/temporal-cli';
import type { ScanLifecycleInput } from '../src/workflows/scan-lifecycle.messages';
import { createLogger } from '../src/logger';
import { loadToolchainConfig } from '../src/config/toolchain';
import { answerTask, pool, radiographCopy, slotReading } from './support';

const SCANS = Number(process.argv[2] ?? 60);
const POLICIES: PolicyName[] = ['independent-3', 'independent-3', 'consensus-5'];
const SECRET = 'bench-secret-bench-secret-bench-secret-0123';
const CXR = path.resolve(process.cwd(), 'test/fixtures/dicom/cxr/dicom_00000001_000.dcm');
const WORKER_JS = path.resolve(__dirname, '../src/cli/worker.js');
const TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) of a process and its descendants. */
function cpuSeconds(pid: number, withDescendants = true): number {
  const children = new Map<number, number[]>();
  for (const line of execFileSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' }).split('\n')) {
    const [p, pp] = line.trim().split(/\s+/).map(Number);
    if (p) children.set(pp, [...(children.get(pp) ?? []), p]);
  }
  let total = 0;
  const visit = (p: number): void => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(f[11]) + Number(f[12])) / TICKS;
    } catch {
      /* gone */
    }
    if (withDescendants) for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return total;
}

/** CPU seconds of every Postgres process on the machine (live ones: backends that exited meanwhile are missed). */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const line of execFileSync('ps', ['-eo', 'pid=,comm='], { encoding: 'utf8' }).split('\n')) {
    const [pid, comm] = line.trim().split(/\s+/);
    if (comm === 'postgres') total += cpuSeconds(Number(pid), false);
  }
  return total;
}

function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

interface Result {
  name: string;
  wallS: number;
  scansPerS: number;
  cpu: Record<string, number>;
}

async function runCampaign(opts: {
  name: string;
  address: string;
  namespace: string;
  ds: DataSource;
  dbUrl: string;
  store: LocalBlobStore;
  storeDir: string;
  workers: number;
  offset: number;
  server: () => number;
}): Promise<Result> {
  const taskQueue = `bench-cluster-${opts.offset}`;
  const batchId = `bench-cluster-${opts.offset}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATABASE_URL: opts.dbUrl,
    TEMPORAL_ADDRESS: opts.address,
    TEMPORAL_NAMESPACE: opts.namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    TEMPORAL_START_DEV_SERVER: 'false',
    READFLOW_DEID_SECRET: SECRET,
    READFLOW_SEED_ROSTER: 'false',
    STORAGE_DIR: opts.storeDir,
    READFLOW_DATA_DIR: path.join(opts.storeDir, 'data'),
  };
  const workers: ManagedProcess[] = [];
  for (let i = 0; i < opts.workers; i++) {
    workers.push(spawnManaged({ name: `worker-${i + 1}`, command: process.execPath, args: [WORKER_JS], env, logFile: path.join(opts.storeDir, `${taskQueue}-w${i}.log`) }));
  }
  const connection = await Connection.connect({ address: opts.address });
  const client = new Client({ connection, namespace: opts.namespace });
  const nih = readFileSync(CXR);
  const inputs: ScanLifecycleInput[] = [];
  for (let i = 0; i < SCANS; i++) {
    const name = POLICIES[i % POLICIES.length];
    const staged = await stageIncoming({ store: opts.store, deidSecret: SECRET, maxDicomBytes: 64 * 1024 * 1024 }, radiographCopy(nih, opts.offset + i, '6'));
    inputs.push({ scanId: staged.scanId, sourceKey: staged.sourceKey, split: name === 'consensus-5' ? 'test' : 'train', policy: DEFAULT_POLICIES[name], batchId });
  }
  // Give the worker processes time to start polling (their boot is not what is measured).
  await new Promise((r) => setTimeout(r, 8000));
  const cpu0 = { server: cpuSeconds(opts.server()), workers: workers.map((w) => cpuSeconds(w.pid)), postgres: postgresCpuSeconds(), bench: selfCpuSeconds() };
  const started = Date.now();
  await pool(inputs, 20, async (input) => {
    await client.workflow.start('scanLifecycle', { taskQueue, workflowId: input.scanId, args: [input], workflowIdConflictPolicy: 'USE_EXISTING', workflowIdReusePolicy: 'REJECT_DUPLICATE' });
  });
  const ids = inputs.map((x) => x.scanId);
  const answered = new Set<string>();
  let done = false;
  const readers = (async () => {
    while (!done) {
      const open: { id: string; scan_id: string; reader_id: string; role: string; slot: number }[] = await opts.ds.query(
        `SELECT id, scan_id, reader_id, role, slot FROM tasks WHERE status = 'open' AND scan_id = ANY($1) ORDER BY assigned_at`,
        [ids],
      );
      await pool(open.filter((t) => !answered.has(t.id)), 16, async (t) => {
        answered.add(t.id);
        try {
          await answerTask(client, t, slotReading(t.slot, ['Pneumonia']));
        } catch {
          answered.delete(t.id);
        }
      });
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  for (;;) {
    const [{ n }] = await opts.ds.query(`SELECT count(*)::int AS n FROM scans WHERE batch_id = $1 AND stage = 'released'`, [batchId]);
    if (n === SCANS) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const wallS = (Date.now() - started) / 1000;
  done = true;
  await readers;
  const cpu: Record<string, number> = { 'temporal server': cpuSeconds(opts.server()) - cpu0.server };
  workers.forEach((w, i) => (cpu[`worker ${i + 1}`] = cpuSeconds(w.pid) - cpu0.workers[i]));
  cpu.postgres = postgresCpuSeconds() - cpu0.postgres;
  cpu['bench (client + readers)'] = selfCpuSeconds() - cpu0.bench;
  await Promise.all(workers.map((w) => w.stop()));
  await connection.close();
  return { name: opts.name, wallS, scansPerS: SCANS / wallS, cpu };
}

async function main(): Promise<void> {
  const logger = createLogger({ logLevel: 'warn', env: 'production' }, 'bench-cluster');
  const base = new URL(process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres');
  const dbName = (s: string): string => `readflow_bench_cluster_${process.pid}${s}`;
  const url = (name: string): string => Object.assign(new URL(base), { pathname: `/${name}` }).toString();
  const dbUrl = url(dbName(''));
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'readflow-bench-cluster-'));
  await fsp.chmod(tmp, 0o755);
  const store = new LocalBlobStore(tmp);
  const ds = await openDatabase(dbUrl, { poolSize: 8 });
  await seedRoster(ds, { seed: true });
  const results: Result[] = [];
  const stops: Array<() => Promise<void>> = [];
  try {
    const toolchain = loadToolchainConfig(process.env);
    const cli = await ensureTemporalCli(toolchain);
    const binaries = await ensureServerBinaries({ toolchain });
    // Below 32768: Temporal keeps membership ports in a smallint column.
    const freePortBase = 20_000 + (process.pid % 600) * 20;

    // A. SQLite dev server.
    const devAddress = `127.0.0.1:${freePortBase}`;
    const dev = await startDevServer({ cliPath: cli, address: devAddress, namespace: 'readflow', uiPort: freePortBase + 1, dbFile: path.join(tmp, 'temporal.sqlite'), logger });
    const devPid = (): number => Number(execFileSync('pgrep', ['-n', '-f', '--', `db-filename ${path.join(tmp, 'temporal.sqlite')}`], { encoding: 'utf8' }).trim());
    process.stdout.write(`A. SQLite dev server, 1 worker, ${SCANS} scans…\n`);
    results.push(await runCampaign({ name: 'SQLite dev server, 1 worker', address: devAddress, namespace: 'readflow', ds, dbUrl, store, storeDir: tmp, workers: 1, offset: 0, server: devPid }));
    await dev.stop();

    // B, C. Postgres-backed server.
    const pg = pgTargetFromUrl(dbUrl);
    const temporalDb = dbName('_t');
    const visibilityDb = dbName('_v');
    stops.push(() => dropDatabase(url(temporalDb)), () => dropDatabase(url(visibilityDb)));
    await prepareTemporalDatabases({ sqlTool: binaries.sqlTool, serverModuleDir: binaries.serverModuleDir, pg, temporalDb, visibilityDb, log: () => undefined });
    const address = `127.0.0.1:${freePortBase + 2}`;
    const server = await startTemporalServer({
      binary: binaries.server,
      logFile: path.join(tmp, 'temporal-server.log'),
      address,
      portBase: freePortBase + 3,
      historyShards: 4,
      pg,
      temporalDb,
      visibilityDb,
      dir: path.join(tmp, 'server'),
    });
    stops.unshift(() => server.stop());
    await ensureNamespace({ address, namespace: 'readflow', retentionMs: 86_400_000 });
    for (const workers of [1, 2]) {
      process.stdout.write(`${workers === 1 ? 'B' : 'C'}. Postgres-backed temporal-server, ${workers} worker(s), ${SCANS} scans…\n`);
      results.push(await runCampaign({ name: `Postgres server, ${workers} worker${workers > 1 ? 's' : ''}`, address, namespace: 'readflow', ds, dbUrl, store, storeDir: tmp, workers, offset: workers * 100_000, server: () => server.pid }));
    }
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
    await ds.destroy();
    await dropDatabase(dbUrl);
    await fsp.rm(tmp, { recursive: true, force: true });
  }

  const baseline = results[0].scansPerS;
  process.stdout.write(`\nLifecycle throughput, instant readers, ${SCANS} scans each (${POLICIES.join(', ')}), ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}:\n`);
  for (const r of results) {
    const cpu = Object.entries(r.cpu)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v.toFixed(1)} s (${Math.round((100 * v) / r.wallS)}%)`)
      .join(', ');
    process.stdout.write(`  ${r.name.padEnd(30)} ${r.wallS.toFixed(1).padStart(6)} s  ${r.scansPerS.toFixed(2)} scans/s  ×${(r.scansPerS / baseline).toFixed(2)} vs SQLite\n      CPU: ${cpu}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
