import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

import type { ToolchainConfig } from '../config/toolchain';

import { isExecutable, runGoInstall, withBuildLock } from './go-install';

/** The Temporal CLI version ReadFlow builds: the newest tag whose go.mod has no `replace` directive. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const MODULE = 'github.com/temporalio/cli/cmd/temporal';

/** Where to look for the CLI and how to build it: the toolchain config (src/config/toolchain.ts), plus hooks. */
export interface CliLocator extends ToolchainConfig {
  log?: (line: string) => void;
  /** The Go toolchain to build with (default `go` on PATH). */
  goBinary?: string;
}

export class TemporalCliError extends Error {
  override name = 'TemporalCliError';
}

/** Finds `temporal` without building: TEMPORAL_CLI, then PATH, then the per-user cache. */
export function findTemporalCli(opts: ToolchainConfig): { path: string; source: 'TEMPORAL_CLI' | 'PATH' | 'cache' } | null {
  if (opts.temporalCli) {
    if (!isExecutable(opts.temporalCli)) {
      throw new TemporalCliError(`TEMPORAL_CLI=${opts.temporalCli} is not an executable file`);
    }
    return { path: opts.temporalCli, source: 'TEMPORAL_CLI' };
  }
  for (const dir of opts.searchPath.split(delimiter)) {
    if (dir && isExecutable(join(dir, 'temporal'))) return { path: join(dir, 'temporal'), source: 'PATH' };
  }
  const cached = join(opts.cacheDir, 'bin', 'temporal');
  const marker = `${cached}.version`;
  if (isExecutable(cached) && existsSync(marker) && readFileSync(marker, 'utf8').trim() === TEMPORAL_CLI_VERSION) {
    return { path: cached, source: 'cache' };
  }
  return null;
}

/**
 * Returns a usable `temporal` binary, building it into the per-user cache with `go install`
 * when none is found. The first build takes minutes; progress is logged as packages compile.
 */
export async function ensureTemporalCli(opts: CliLocator): Promise<string> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const found = findTemporalCli(opts);
  if (found) return found.path;
  mkdirSync(opts.cacheDir, { recursive: true });
  return withBuildLock(join(opts.cacheDir, 'bin.build-lock'), log, () => buildTemporalCli(opts, log));
}

/** Builds the CLI into the cache (under the build lock; another process may have built it while this one waited). */
async function buildTemporalCli(opts: CliLocator, log: (line: string) => void): Promise<string> {
  const found = findTemporalCli(opts);
  if (found) return found.path;

  const goBinary = opts.goBinary ?? 'go';
  const go = spawnSync(goBinary, ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    throw new TemporalCliError(
      'No Temporal CLI found (TEMPORAL_CLI, PATH, or the ReadFlow cache) and Go is not installed to build one.\n' +
        `Install Go (https://go.dev/dl/) and re-run, or install the CLI yourself and set TEMPORAL_CLI=/path/to/temporal\n` +
        `(for example: GOBIN=~/.cache/readflow/bin go install ${MODULE}@${TEMPORAL_CLI_VERSION}).`,
    );
  }
  const cacheBin = join(opts.cacheDir, 'bin');
  const staging = join(opts.cacheDir, `staging-${process.pid}`);
  mkdirSync(cacheBin, { recursive: true });
  mkdirSync(staging, { recursive: true });
  log(
    `Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with ${go.stdout.trim()} into ${cacheBin} ` +
      '(first time only; this takes a few minutes on 2 cores)…',
  );
  const started = Date.now();
  await runGoInstall({
    goBinary,
    targets: [`${MODULE}@${TEMPORAL_CLI_VERSION}`],
    gobin: staging,
    env: opts.buildEnv,
    log,
    fail: (message) => new TemporalCliError(message),
  });
  const target = join(cacheBin, 'temporal');
  renameSync(join(staging, 'temporal'), target);
  rmSync(staging, { recursive: true, force: true });
  writeFileSync(`${target}.version`, `${TEMPORAL_CLI_VERSION}\n`);
  log(`Temporal CLI ready at ${target} (built in ${Math.round((Date.now() - started) / 1000)}s).`);
  return target;
}
