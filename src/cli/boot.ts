import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { DataSource } from 'typeorm';

import type { Config } from '../config/config';
import { ConfigError, loadConfig } from '../config/config';
import { openDatabase } from '../db/data-source';
import type { EmbeddedPostgresHandle } from '../db/embedded';
import { startEmbeddedPostgres } from '../db/embedded';
import type { SeedResult } from '../db/seed';
import { seedRoster } from '../db/seed';
import type { Logger } from '../logger';
import { createLogger } from '../logger';
import { isListening } from '../temporal/dev-server';
import { newPayloadKey, parsePayloadKeys } from '../temporal/payload-codec';

/** The default local Postgres tried before falling back to an embedded one. */
const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/readflow';

/** Loads and validates the configuration once, or prints every problem and exits. */
export function bootConfig(): Config {
  try {
    // The one place ReadFlow reads the environment.
    const config = loadConfig(process.env);
    const withSecret = config.deidSecret ? config : { ...config, deidSecret: devSecret(config) };
    return withDevPayloadKeys(withSecret);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\nSee .env.example for every variable.\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** Outside production, a random de-identification secret kept under the data dir (so UIDs stay stable across restarts). */
function devSecret(config: Config): string {
  const file = join(config.dataDir, 'deid-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(config.dataDir, { recursive: true });
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return secret;
}

/**
 * Outside production (where READFLOW_PAYLOAD_KEYS is required), Temporal payloads are still encrypted: with a random key
 * kept under the data dir, so the dev server's SQLite and UI hold no readings in clear either (see SECURITY.md).
 */
function withDevPayloadKeys(config: Config): Config {
  if (config.security.payloadKeys?.length || config.env === 'production') return config;
  const file = join(config.dataDir, 'payload-keys');
  let text: string;
  if (existsSync(file)) text = readFileSync(file, 'utf8').trim();
  else {
    mkdirSync(config.dataDir, { recursive: true });
    text = newPayloadKey('dev1');
    writeFileSync(file, `${text}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return { ...config, security: { ...config.security, payloadKeys: parsePayloadKeys(text) } };
}

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
    if (mode === 'never' || (mode === 'auto' && (await isListening('127.0.0.1:5432')))) {
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
