import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Config } from './config';
import { loadConfig } from './config';
import { newPayloadKey, parsePayloadKeys } from '../temporal/payload-codec';
import { ConfigError } from './errors';
import type { IngestClientConfig } from './ingest-client';
import { loadIngestClientConfig } from './ingest-client';
import type { ToolchainConfig } from './toolchain';
import { loadToolchainConfig } from './toolchain';

/**
 * The one place ReadFlow reads `process.env`: each entry point boots the configuration it needs once, and a bad
 * configuration prints every problem and exits (status 2).
 */
function orExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\nSee .env.example for every variable.\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** The servers' configuration (`npm start`, `npm run worker`, `npm run api`). */
export function bootConfig(): Config {
  return orExit(() => withDevPayloadKeys(loadConfig(process.env, { devDeidSecret })));
}

/** The ingest client's configuration (`npm run ingest`): the API's URL and a token, flags first. */
export function bootIngestClientConfig(flags: { url?: string; token?: string }): IngestClientConfig {
  return orExit(() => loadIngestClientConfig(process.env, flags));
}

/** Where the Temporal CLI is found or built (`npm run temporal:provision`). */
export function bootToolchainConfig(): ToolchainConfig {
  return orExit(() => loadToolchainConfig(process.env));
}

/**
 * Outside production, a random de-identification secret kept under the data dir (so UIDs and scan ids stay stable
 * across restarts), created on first start with mode 0600.
 */
export function devDeidSecret(dataDir: string): string {
  const file = join(dataDir, 'deid-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
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
