import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The Temporal CLI version ReadFlow builds: the newest tag whose go.mod has no `replace` directive. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const MODULE = 'github.com/temporalio/cli/cmd/temporal';

export interface CliLocator {
  /** An explicit path (TEMPORAL_CLI); used as is. */
  configuredPath?: string;
  /** PATH to search (defaults to the process PATH). */
  searchPath?: string;
  /** Per-user cache root; default `$XDG_CACHE_HOME/readflow` or `~/.cache/readflow`. */
  cacheDir?: string;
  log?: (line: string) => void;
  /** The Go toolchain to build with (default `go` on PATH). */
  goBinary?: string;
}

export class TemporalCliError extends Error {
  override name = 'TemporalCliError';
}

/** The per-user cache directory (outside any checkout, so fresh clones reuse the build). */
export function defaultCacheDir(env: Record<string, string | undefined> = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'readflow');
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds `temporal` without building: TEMPORAL_CLI, then PATH, then the per-user cache. */
export function findTemporalCli(opts: CliLocator = {}): { path: string; source: 'TEMPORAL_CLI' | 'PATH' | 'cache' } | null {
  if (opts.configuredPath) {
    if (!isExecutable(opts.configuredPath)) {
      throw new TemporalCliError(`TEMPORAL_CLI=${opts.configuredPath} is not an executable file`);
    }
    return { path: opts.configuredPath, source: 'TEMPORAL_CLI' };
  }
  for (const dir of (opts.searchPath ?? process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, 'temporal'))) return { path: join(dir, 'temporal'), source: 'PATH' };
  }
  const cached = join(opts.cacheDir ?? defaultCacheDir(), 'bin', 'temporal');
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
export async function ensureTemporalCli(opts: CliLocator = {}): Promise<string> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
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
  const cacheBin = join(opts.cacheDir ?? defaultCacheDir(), 'bin');
  const staging = join(opts.cacheDir ?? defaultCacheDir(), `staging-${process.pid}`);
  mkdirSync(cacheBin, { recursive: true });
  mkdirSync(staging, { recursive: true });
  log(
    `Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with ${go.stdout.trim()} into ${cacheBin} ` +
      '(first time only; this takes a few minutes on 2 cores)…',
  );
  const started = Date.now();
  let compiled = 0;
  let downloaded = 0;
  let lastLine = '';
  await new Promise<void>((resolve, reject) => {
    const child = spawn(goBinary, ['install', '-v', `${MODULE}@${TEMPORAL_CLI_VERSION}`], {
      env: { ...process.env, GOBIN: staging, GOFLAGS: process.env.GOFLAGS ?? '-mod=mod' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail: string[] = [];
    const onData = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        if (line.startsWith('go: downloading')) downloaded++;
        else compiled++;
        lastLine = line.trim();
        tail.push(line);
        if (tail.length > 40) tail.shift();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setInterval(() => {
      const s = Math.round((Date.now() - started) / 1000);
      log(`  … ${s}s: ${downloaded} modules downloaded, ${compiled} packages compiled (${lastLine.slice(0, 80)})`);
    }, 15_000);
    child.on('error', (e) => {
      clearInterval(timer);
      reject(e);
    });
    child.on('exit', (code) => {
      clearInterval(timer);
      if (code === 0) resolve();
      else
        reject(
          new TemporalCliError(
            `go install ${MODULE}@${TEMPORAL_CLI_VERSION} failed with exit code ${code}:\n${tail.join('\n')}`,
          ),
        );
    });
  });
  const target = join(cacheBin, 'temporal');
  renameSync(join(staging, 'temporal'), target);
  writeFileSync(`${target}.version`, `${TEMPORAL_CLI_VERSION}\n`);
  log(`Temporal CLI ready at ${target} (built in ${Math.round((Date.now() - started) / 1000)}s).`);
  return target;
}
