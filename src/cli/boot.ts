import type { DataSource } from 'typeorm';

import type { Config } from '../config/config';
import { openDatabase } from '../db/data-source';
import type { EmbeddedPostgresHandle } from '../db/embedded';
import { startEmbeddedPostgres } from '../db/embedded';
import type { SeedResult } from '../db/seed';
import { seedRoster } from '../db/seed';
import type { Logger } from '../logger';
import { createLogger } from '../logger';
import { acceptsTcpConnections } from '../net/tcp';

export { bootConfig } from '../config/boot';

/** The default local Postgres tried before falling back to an embedded one. */
const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/readflow';

export interface Database {
  dataSource: DataSource;
  url: string;
  kind: 'configured' | 'local' | 'embedded';
  seed: SeedResult;
  close(): Promise<void>;
}

/**
 * Connects to Postgres: DATABASE_URL if set; else the local server on 127.0.0.1:5432 if it answers;
 * else (or with READFLOW_EMBEDDED_PG=always) an embedded Postgres under the data dir. Creates the database, runs migrations, seeds the roster.
 */
export async function bootDatabase(config: Config, logger: Logger): Promise<Database> {
  let url = config.database.url;
  let kind: Database['kind'] = 'configured';
  let embedded: EmbeddedPostgresHandle | undefined;
  if (!url) {
    const mode = config.database.embedded;
    if (mode === 'never' || (mode === 'auto' && (await acceptsTcpConnections('127.0.0.1:5432')))) {
      url = LOCAL_POSTGRES;
      kind = 'local';
    } else {
      embedded = await startEmbeddedPostgres({
        dataDir: config.dataDir,
        port: config.database.embeddedPort,
        logger,
      });
      url = embedded.url;
      kind = 'embedded';
    }
  }
  const dataSource = await openDatabase(url);
  logger.info({ database: redactUrl(url), kind }, 'Postgres ready (migrations applied)');
  const seed = await seedRoster(dataSource, { seed: config.seedRoster, adminToken: config.adminToken });
  return {
    dataSource,
    url,
    kind,
    seed,
    close: async () => {
      await dataSource.destroy();
      await embedded?.stop();
    },
  };
}

export function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

export function bootLogger(config: Config, name: string): Logger {
  return createLogger(config, name);
}

/** Prints the tokens issued on first start (development only; they are stored hashed and never shown again). */
export function printFirstStartTokens(config: Config, seed: SeedResult): void {
  if (!seed.created || Object.keys(seed.tokens).length === 0) return;
  if (config.env === 'production') return;
  const lines = Object.entries(seed.tokens).map(([id, token]) => `  ${id.padEnd(8)} ${token}`);
  process.stdout.write(
    `\nFirst start: seeded the roster. API tokens (shown once, stored hashed):\n${lines.join('\n')}\n\n`,
  );
}

/** Runs `fn` on SIGINT/SIGTERM once; a second signal forces exit. */
export function onShutdown(logger: Logger, fn: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn('Second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'Shutting down');
    fn().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'Error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
