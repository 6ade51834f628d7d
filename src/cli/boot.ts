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
import { supervise } from './supervisor';

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
 * With `onGiveUp`, an embedded Postgres that dies is restarted (same data directory, backoff, `config.restartTries`
 * tries in a row) and `onGiveUp` is called when it cannot be kept up; the connection pool reconnects by itself.
 */
export async function bootDatabase(config: Config, logger: Logger, opts: { onGiveUp?: (err: Error) => void } = {}): Promise<Database> {
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
  const onGiveUp = opts.onGiveUp;
  const supervised =
    embedded && onGiveUp
      ? supervise({ name: 'embedded Postgres', logger, first: embedded, restart: () => embedded!.restart(), maxRestarts: config.restartTries, onGiveUp })
      : undefined;
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
      if (supervised) await supervised.stop();
      else await embedded?.stop();
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

/**
 * What a launcher (`npm start`, `npm run start:cluster`) started, stopped in reverse order: on Ctrl-C or SIGTERM, when
 * starting fails, or when the launcher gives up.
 */
export class ProcessStack {
  private readonly items: Array<{ name: string; stop: () => Promise<void> }> = [];
  /** True once stopping has begun (supervisors stop restarting). */
  stopping = false;

  constructor(private readonly logger: Logger) {}

  push(item: { name: string; stop: () => Promise<void> }): void {
    this.items.push(item);
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    for (const item of this.items.reverse()) {
      try {
        await item.stop();
      } catch (err) {
        this.logger.error({ err, component: item.name }, 'Failed to stop cleanly');
      }
    }
    this.items.length = 0;
  }

  /** Stops everything on SIGINT/SIGTERM; runs `start`; when it fails, logs `<what> failed to start`, stops and exits 1. */
  async run(what: string, start: () => Promise<void>): Promise<void> {
    onShutdown(this.logger, () => this.stopAll());
    try {
      await start();
    } catch (err) {
      this.logger.error({ err }, `${what} failed to start`);
      await this.stopAll();
      process.exit(1);
    }
  }
}
