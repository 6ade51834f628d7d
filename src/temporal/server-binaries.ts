import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';

import type { ToolchainConfig } from '../config/toolchain';
import type { GoProduct } from './go-install';
import { findGoProduct, goInstall, GoInstallError } from './go-install';

/**
 * The production-shaped Temporal binaries `npm run start:cluster` runs, pinned and built once with `go install`
 * into the per-user cache (both main packages are called `server`, so each product has its own directory):
 * - `<cache>/temporal-server-v1.29.1/{temporal-server,temporal-sql-tool}`
 * - `<cache>/temporal-ui-server-v2.42.1/temporal-ui-server`
 * The server module (its schema/ and config/ directories) is read from the Go module cache.
 */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const TEMPORAL_UI_SERVER_VERSION = 'v2.42.1';
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';

export function serverProduct(cacheDir: string): GoProduct {
  return {
    label: `Temporal server ${TEMPORAL_SERVER_VERSION} and SQL tool`,
    version: TEMPORAL_SERVER_VERSION,
    dir: join(cacheDir, `temporal-server-${TEMPORAL_SERVER_VERSION}`),
    packages: [
      { pkg: `${TEMPORAL_SERVER_MODULE}/cmd/server`, installedAs: 'server', name: 'temporal-server' },
      { pkg: `${TEMPORAL_SERVER_MODULE}/cmd/tools/sql`, installedAs: 'sql', name: 'temporal-sql-tool' },
    ],
  };
}

export function uiServerProduct(cacheDir: string): GoProduct {
  return {
    label: `Temporal UI server ${TEMPORAL_UI_SERVER_VERSION}`,
    version: TEMPORAL_UI_SERVER_VERSION,
    dir: join(cacheDir, `temporal-ui-server-${TEMPORAL_UI_SERVER_VERSION}`),
    packages: [{ pkg: 'github.com/temporalio/ui-server/v2/cmd/server', installedAs: 'server', name: 'temporal-ui-server' }],
  };
}

export interface ServerBinaries {
  server: string;
  sqlTool: string;
  uiServer: string;
  /** The server module's source in the Go module cache (schema/postgresql/v12/…, config/). */
  serverModuleDir: string;
}

export interface ServerBinariesOptions {
  /** Explicit binaries (TEMPORAL_SERVER_BIN, TEMPORAL_SQL_TOOL_BIN, TEMPORAL_UI_SERVER_BIN), used as they are. */
  configured?: { server?: string; sqlTool?: string; uiServer?: string };
  /** The per-user cache and the environment `go install` runs with (src/config/toolchain.ts). */
  toolchain: ToolchainConfig;
  goBinary?: string;
  log?: (line: string) => void;
}

function checkExecutable(path: string, variable: string): string {
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    throw new GoInstallError(`${variable}=${path} is not an executable file`);
  }
}

/** Where the Go module cache keeps `go.temporal.io/server@<version>` (downloaded by `go mod download` if missing). */
export function serverModuleDir(toolchain: ToolchainConfig, goBinary = 'go', log: (line: string) => void = () => undefined): string {
  const env = spawnSync(goBinary, ['env', 'GOMODCACHE'], { encoding: 'utf8', env: { ...toolchain.buildEnv } });
  if (env.error || env.status !== 0) {
    throw new GoInstallError(
      `The Temporal schema files come from the Go module ${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION} and Go is not installed.\n` +
        'Install Go (https://go.dev/dl/) and re-run.',
    );
  }
  const dir = join(env.stdout.trim(), `${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`);
  if (!existsSync(join(dir, 'schema', 'postgresql', 'v12'))) {
    log(`Downloading ${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION} into the Go module cache (schema files)…`);
    const dl = spawnSync(goBinary, ['mod', 'download', `${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`], {
      encoding: 'utf8',
      env: { ...toolchain.buildEnv },
    });
    if (dl.status !== 0 || !existsSync(join(dir, 'schema'))) {
      throw new GoInstallError(`go mod download ${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION} failed:\n${dl.stderr}`);
    }
  }
  return dir;
}

/** The binaries without building: configured paths, else the cache; null when something must be built. */
export function findServerBinaries(opts: ServerBinariesOptions): Omit<ServerBinaries, 'serverModuleDir'> | null {
  const server = findGoProduct(serverProduct(opts.toolchain.cacheDir));
  const ui = findGoProduct(uiServerProduct(opts.toolchain.cacheDir));
  const c = opts.configured ?? {};
  const s = c.server ? checkExecutable(c.server, 'TEMPORAL_SERVER_BIN') : server?.['temporal-server'];
  const t = c.sqlTool ? checkExecutable(c.sqlTool, 'TEMPORAL_SQL_TOOL_BIN') : server?.['temporal-sql-tool'];
  const u = c.uiServer ? checkExecutable(c.uiServer, 'TEMPORAL_UI_SERVER_BIN') : ui?.['temporal-ui-server'];
  return s && t && u ? { server: s, sqlTool: t, uiServer: u } : null;
}

/**
 * Returns the server, SQL tool and UI server, building whatever is missing (the server first: it takes minutes on
 * a cold build cache, the UI server about 20 s), and the server module's directory for the schema files.
 */
export async function ensureServerBinaries(opts: ServerBinariesOptions): Promise<ServerBinaries> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const c = opts.configured ?? {};
  const goOpts = { goBinary: opts.goBinary, log, env: opts.toolchain.buildEnv };
  let server = c.server ? checkExecutable(c.server, 'TEMPORAL_SERVER_BIN') : undefined;
  let sqlTool = c.sqlTool ? checkExecutable(c.sqlTool, 'TEMPORAL_SQL_TOOL_BIN') : undefined;
  if (!server || !sqlTool) {
    const built = await goInstall(serverProduct(opts.toolchain.cacheDir), goOpts);
    server ??= built['temporal-server'];
    sqlTool ??= built['temporal-sql-tool'];
  }
  const uiServer = c.uiServer
    ? checkExecutable(c.uiServer, 'TEMPORAL_UI_SERVER_BIN')
    : (await goInstall(uiServerProduct(opts.toolchain.cacheDir), goOpts))['temporal-ui-server'];
  return { server, sqlTool, uiServer, serverModuleDir: serverModuleDir(opts.toolchain, opts.goBinary, log) };
}
