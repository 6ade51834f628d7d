import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, promises as fsp, statSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';

import { Connection } from '@temporalio/client';
import pino from 'pino';
import { Client } from 'pg';

import { dropDatabase, ensureDatabase } from '../db/data-source';
import type { DevServerHandle } from '../temporal/dev-server';
import { startDevServer } from '../temporal/dev-server';
import type { ProcessUsage } from './resources';
import { pidsWithArg, sumUsage, usageOf } from './resources';

/**
 * A whole ReadFlow started and supervised by the simulator, as separate OS processes so that faults are real:
 * a Temporal dev server (`temporal server start-dev`, SQLite file under the run directory), the worker
 * (`node dist/src/cli/worker.js`) and the API (`node dist/src/cli/api.js`), on a fresh Postgres database.
 * Chaos mode kills and restarts them (same database file, same ports). Child output goes to `<dir>/logs/`.
 */
export interface StackOptions {
  /** Run directory: Temporal SQLite file, storage, logs. */
  dir: string;
  temporalCli: string;
  /** Postgres server URL (any database; the stack creates its own database on it). */
  postgresUrl: string;
  /** Database name to create (dropped at `stop({ drop: true })`). */
  database: string;
  taskDeadline?: string;
  reviewDeadline?: string;
  /** The system environment the stack's processes inherit (PATH, HOME). */
  systemEnv?: { PATH?: string; HOME?: string };
  /** Extra environment for the worker and the API. */
  env?: Record<string, string>;
  /**
   * Put the storage directory on its own filesystem of this size (a tmpfs: needs root), so chaos can fill it up. When
   * the mount is refused the fault is reported as skipped with the reason.
   */
  storageQuotaBytes?: number;
  log: (line: string) => void;
}

type Role = 'worker' | 'api';

/** The repository root (where package.json and dist/ are), from this file's location in src/ or dist/src/. */
export function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + __dirname);
    dir = up;
  }
  return dir;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`${what}: the process exited (${child.exitCode})`);
    if (await fn().catch(() => false)) return;
    if (Date.now() > until) throw new Error(`${what}: not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** See {@link Stack.resources}. */
export interface StackResources {
  worker?: ProcessUsage;
  api?: ProcessUsage;
  temporal?: ProcessUsage;
  postgres: { processes: number; cpuSeconds: number; peakRssMiB: number };
  temporalDbMiB: number;
  postgresDbMiB: number;
}

export class Stack {
  readonly adminToken = `rf_sim_${randomBytes(18).toString('hex')}`;
  readonly deidSecret = randomBytes(24).toString('hex');
  /** One payload key for the worker and the API (each would otherwise race to create the dev key file). */
  readonly payloadKeys = `sim1:${randomBytes(32).toString('base64')}`;
  readonly databaseUrl: string;
  temporalAddress = '';
  apiPort = 0;
  private temporal?: DevServerHandle;
  private readonly children = new Map<Role, ChildProcess>();
  private readonly restarts: Record<'worker' | 'api' | 'temporal', number> = { worker: 0, api: 0, temporal: 0 };
  private uiPort = 0;
  private readonly quiet = pino({ level: 'silent' });

  constructor(private readonly opts: StackOptions) {
    const u = new URL(opts.postgresUrl);
    u.pathname = `/${opts.database}`;
    this.databaseUrl = u.toString();
    mkdirSync(path.join(opts.dir, 'logs'), { recursive: true });
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  get importDir(): string {
    return path.join(this.opts.dir, 'import');
  }

  get restartCounts(): Readonly<Record<string, number>> {
    return { ...this.restarts };
  }

  /** Why the storage directory could not get a filesystem of its own (undefined when it has one, or none was asked). */
  storageUnavailable?: string;
  private storageMounted = false;

  get storageDir(): string {
    return path.join(this.opts.dir, 'storage');
  }

  async start(): Promise<void> {
    if (this.opts.storageQuotaBytes) this.mountStorage(this.opts.storageQuotaBytes);
    else if (this.opts.storageQuotaBytes === 0) this.storageUnavailable = 'the run needs more storage than a RAM-backed tmpfs should take (1 GiB)';
    await ensureDatabase(this.databaseUrl);
    this.temporalAddress = `127.0.0.1:${await freePort()}`;
    this.uiPort = await freePort();
    this.apiPort = await freePort();
    mkdirSync(this.importDir, { recursive: true });
    await this.startTemporal();
    await this.startChild('worker');
    await this.startChild('api');
  }

  private async startTemporal(): Promise<void> {
    this.temporal = await startDevServer({
      cliPath: this.opts.temporalCli,
      address: this.temporalAddress,
      namespace: 'readflow',
      uiPort: this.uiPort,
      dbFile: path.join(this.opts.dir, 'temporal.sqlite'),
      logger: this.quiet,
    });
  }

  private env(role: Role): NodeJS.ProcessEnv {
    const { dir } = this.opts;
    return {
      PATH: this.opts.systemEnv?.PATH,
      HOME: this.opts.systemEnv?.HOME,
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(role === 'api' ? this.apiPort : 0),
      READFLOW_DATA_DIR: dir,
      STORAGE_DIR: path.join(dir, 'storage'),
      READFLOW_IMPORT_DIR: this.importDir,
      DATABASE_URL: this.databaseUrl,
      READFLOW_EMBEDDED_PG: 'never',
      TEMPORAL_ADDRESS: this.temporalAddress,
      TEMPORAL_NAMESPACE: 'readflow',
      TEMPORAL_TASK_QUEUE: 'readflow',
      TEMPORAL_START_DEV_SERVER: 'false',
      READFLOW_ADMIN_TOKEN: this.adminToken,
      READFLOW_DEID_SECRET: this.deidSecret,
      READFLOW_PAYLOAD_KEYS: this.payloadKeys,
      READFLOW_RATE_LIMIT_PER_MINUTE: '1000000',
      READFLOW_SEED_ROSTER: 'true',
      ...(this.opts.taskDeadline ? { READFLOW_TASK_DEADLINE: this.opts.taskDeadline } : {}),
      ...(this.opts.reviewDeadline ? { READFLOW_REVIEW_DEADLINE: this.opts.reviewDeadline } : {}),
      ...this.opts.env,
    };
  }

  private async startChild(role: Role): Promise<void> {
    const script = path.join(repoRoot(), 'dist', 'src', 'cli', `${role}.js`);
    if (!existsSync(script)) throw new Error(`${script} is missing: run \`npm run build\` first`);
    const out = createWriteStream(path.join(this.opts.dir, 'logs', `${role}.log`), { flags: 'a' });
    const child = spawn(process.execPath, [script], { env: this.env(role), stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
    const kill = (): void => {
      child.kill('SIGKILL');
    };
    process.once('exit', kill);
    child.once('exit', () => process.removeListener('exit', kill));
    this.children.set(role, child);
    if (role === 'api') {
      await waitFor('API /readyz', async () => (await fetch(`${this.apiUrl}/readyz`)).ok, 300_000, child);
    } else {
      // Ready when this process polls the task queue (the SDK's default identity is `<pid>@<host>`).
      // The worker bundles the workflows at start: minutes on a loaded 2-core machine.
      await waitFor('worker polling', () => this.polledBy(child.pid as number), 300_000, child);
    }
  }

  private async polledBy(pid: number): Promise<boolean> {
    const connection = await Connection.connect({ address: this.temporalAddress, connectTimeout: '2s' });
    try {
      const r = await connection.workflowService.describeTaskQueue({
        namespace: 'readflow',
        taskQueue: { name: 'readflow' },
        taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
      });
      return (r.pollers ?? []).some((p) => p.identity?.startsWith(`${pid}@`));
    } finally {
      await connection.close();
    }
  }

  private async stopChild(role: Role, signal: NodeJS.Signals): Promise<void> {
    const child = this.children.get(role);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  /** SIGKILLs the worker (in-flight activities and workflow tasks are lost) and starts a new one. */
  async killWorker(): Promise<void> {
    await this.stopChild('worker', 'SIGKILL');
    this.restarts.worker++;
    await this.startChild('worker');
  }

  /** Stops the Temporal dev server and starts it again on the same SQLite file and port. */
  async restartTemporal(downMs = 0): Promise<void> {
    await this.temporal?.stop();
    if (downMs) await new Promise((r) => setTimeout(r, downMs));
    this.restarts.temporal++;
    await this.startTemporal();
  }

  /** Restarts the API process (SIGTERM, then a new one on the same port). */
  async restartApi(): Promise<void> {
    await this.stopChild('api', 'SIGTERM');
    this.restarts.api++;
    await this.startChild('api');
  }

  /**
   * A Postgres outage for this database: refuses new connections (ALLOW_CONNECTIONS false) and terminates every
   * backend connected to it (pg_terminate_backend), for `ms`, then allows connections again.
   */
  async databaseOutage(ms: number): Promise<number> {
    const name = this.opts.database;
    const admin = new Client({ connectionString: this.opts.postgresUrl });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
      let terminated = 0;
      const until = Date.now() + ms;
      while (Date.now() < until) {
        const r = await admin.query<{ n: number }>(
          `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
          [name],
        );
        terminated += r.rows[0].n;
        await new Promise((res) => setTimeout(res, 250));
      }
      return terminated;
    } finally {
      await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`).catch(() => undefined);
      await admin.end();
    }
  }

  /** A tmpfs of `bytes` on the storage directory (before anything writes there). */
  private mountStorage(bytes: number): void {
    mkdirSync(this.storageDir, { recursive: true });
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', this.storageDir], { stdio: 'pipe' });
      this.storageMounted = true;
    } catch (err) {
      this.storageUnavailable = `cannot mount a tmpfs on the storage directory: ${String((err as { stderr?: Buffer }).stderr ?? err).trim().split('\n')[0]}`;
    }
  }

  /**
   * Fills the storage filesystem to the last byte for `ms`, then frees it: uploads answer 507 meanwhile and ingest
   * activities retry. Returns the bytes it took, or why it could not.
   */
  async fillStorage(ms: number): Promise<{ filled: number } | { skipped: string }> {
    if (!this.storageMounted) return { skipped: this.storageUnavailable ?? 'no storage quota configured' };
    const filler = path.join(this.storageDir, '.chaos-filler');
    const chunk = Buffer.alloc(1024 * 1024);
    let filled = 0;
    const fh = await fsp.open(filler, 'w');
    try {
      for (;;) {
        try {
          const { bytesWritten } = await fh.write(chunk);
          filled += bytesWritten;
          if (bytesWritten < chunk.length) break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
      // The last pages too, so that even a small write fails.
      for (let size = 64 * 1024; size >= 512; size /= 2) {
        try {
          filled += (await fh.write(Buffer.alloc(size))).bytesWritten;
        } catch {
          /* full at this size: try smaller */
        }
      }
      await new Promise((r) => setTimeout(r, ms));
    } finally {
      await fh.close();
      await fsp.rm(filler, { force: true });
    }
    return { filled };
  }

  /**
   * What the run cost so far: CPU seconds and peak RSS of the worker, the API and the Temporal dev server (since their
   * last start), of the Postgres backends connected to the run's database (they live as long as their pool's
   * connections), and the size of the Temporal SQLite file and of the Postgres database.
   */
  async resources(): Promise<StackResources> {
    const dbFile = path.join(this.opts.dir, 'temporal.sqlite');
    const size = (f: string): number => {
      try {
        return statSync(f).size;
      } catch {
        return 0;
      }
    };
    const mib = (bytes: number): number => Math.round(bytes / 104857.6) / 10;
    const admin = new Client({ connectionString: this.opts.postgresUrl });
    let backends: number[] = [];
    let postgresBytes = 0;
    try {
      await admin.connect();
      const r = await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1`, [this.opts.database]);
      backends = r.rows.map((x) => x.pid);
      postgresBytes = Number((await admin.query<{ n: string }>(`SELECT pg_database_size($1) AS n`, [this.opts.database])).rows[0].n);
    } catch {
      // the figures stay empty
    } finally {
      await admin.end().catch(() => undefined);
    }
    const pid = (role: Role): number | undefined => this.children.get(role)?.pid;
    const usage = (p: number | undefined) => (p === undefined ? undefined : usageOf(p));
    return {
      worker: usage(pid('worker')),
      api: usage(pid('api')),
      temporal: usage(pidsWithArg(dbFile).find((p) => p !== process.pid)),
      postgres: sumUsage(backends),
      temporalDbMiB: mib(size(dbFile) + size(`${dbFile}-wal`)),
      postgresDbMiB: mib(postgresBytes),
    };
  }

  /** Stops everything; drops the database when asked. */
  async stop(opts: { drop?: boolean } = {}): Promise<void> {
    await this.stopChild('api', 'SIGTERM').catch(() => undefined);
    await this.stopChild('worker', 'SIGTERM').catch(() => undefined);
    await this.temporal?.stop().catch(() => undefined);
    if (this.storageMounted) {
      try {
        execFileSync('umount', [this.storageDir], { stdio: 'pipe' });
        this.storageMounted = false;
      } catch (err) {
        this.opts.log(`could not unmount ${this.storageDir}: ${String(err)}`);
      }
    }
    if (opts.drop) await dropDatabase(this.databaseUrl).catch(() => undefined);
  }
}
