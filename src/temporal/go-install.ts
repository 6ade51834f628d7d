import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Builds pinned Go binaries once into a directory of the per-user cache with `go install`, with progress lines,
 * and finds them there afterwards. Used for the production Temporal server, its SQL tool and the UI server
 * (src/temporal/server-binaries.ts).
 */

export class GoInstallError extends Error {
  override name = 'GoInstallError';
}

export interface GoPackage {
  /** Import path of the main package, e.g. `go.temporal.io/server/cmd/server`. */
  pkg: string;
  /** The binary `go install` writes (the last path element), e.g. `server`. */
  installedAs: string;
  /** The name it is kept under in the cache, e.g. `temporal-server`. */
  name: string;
}

export interface GoProduct {
  /** Human name in progress lines, e.g. `Temporal server v1.29.1`. */
  label: string;
  version: string;
  packages: GoPackage[];
  /** Cache directory holding this product's binaries (its own GOBIN: binaries of several products share names). */
  dir: string;
}

/** True when `path` is a file this process may execute. */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const MARKER = '.version';

/** The product's binaries by name when they are all built at the pinned version; null otherwise. */
export function findGoProduct(product: GoProduct): Record<string, string> | null {
  const marker = join(product.dir, MARKER);
  if (!existsSync(marker) || readFileSync(marker, 'utf8').trim() !== product.version) return null;
  const out: Record<string, string> = {};
  for (const p of product.packages) {
    const path = join(product.dir, p.name);
    if (!isExecutable(path)) return null;
    out[p.name] = path;
  }
  return out;
}

/** The `go` toolchain's version line, or a clear error naming what to install. */
export function requireGo(goBinary: string, what: string, manual: string): string {
  const go = spawnSync(goBinary, ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    throw new GoInstallError(
      `${what} is not built yet and Go is not installed to build it.\n` +
        `Install Go (https://go.dev/dl/) and re-run, or build it yourself:\n  ${manual}`,
    );
  }
  return go.stdout.trim();
}

/** True when a process with this pid exists (signal 0 probes without touching it). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `build` while holding a lock directory (mkdir is atomic), so that processes provisioning the same cache at once
 * (parallel test runs, `npm start` beside `npm test`) build once: the others wait, logging who holds the lock, then
 * run `build` themselves, which finds the binary and returns. A lock left by a dead process is taken over.
 */
export async function withBuildLock<T>(
  lockDir: string,
  log: (line: string) => void,
  build: () => Promise<T>,
  pollMs = 2_000,
): Promise<T> {
  const owner = join(lockDir, 'pid');
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lockDir, { recursive: false });
      writeFileSync(owner, `${process.pid}\n`);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number.parseInt(existsSync(owner) ? readFileSync(owner, 'utf8') : '', 10);
      if (Number.isInteger(pid) && !alive(pid)) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (!announced) log(`Waiting for another build in progress${Number.isInteger(pid) ? ` (pid ${pid})` : ''}: ${lockDir}`);
      announced = true;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
  try {
    return await build();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

/**
 * Runs `go install -v <targets>` with GOBIN set, logging a progress line (modules downloaded, packages compiled, the
 * last package) every 15 s; rejects with `fail(message)` carrying the last 40 lines of go's output. Shared by the
 * Temporal CLI build (temporal-cli.ts) and the server binaries (goInstall below).
 */
export async function runGoInstall(opts: {
  goBinary: string;
  targets: readonly string[];
  gobin: string;
  env: Readonly<Record<string, string | undefined>>;
  log: (line: string) => void;
  /** Prefix of progress lines (e.g. the product's name and a space), empty for none. */
  label?: string;
  progressEveryMs?: number;
  fail: (message: string) => Error;
}): Promise<void> {
  const started = Date.now();
  let compiled = 0;
  let downloaded = 0;
  let lastLine = '';
  const tail: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(opts.goBinary, ['install', '-v', ...opts.targets], {
      env: { ...opts.env, GOBIN: opts.gobin },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
      opts.log(`  … ${opts.label ?? ''}${s}s: ${downloaded} modules downloaded, ${compiled} packages compiled (${lastLine.slice(0, 80)})`);
    }, opts.progressEveryMs ?? 15_000);
    child.on('error', (e) => {
      clearInterval(timer);
      reject(opts.fail(`could not run ${opts.goBinary}: ${e.message}`));
    });
    child.on('exit', (code) => {
      clearInterval(timer);
      if (code === 0) resolve();
      else reject(opts.fail(`go install ${opts.targets.join(' ')} failed with exit code ${code}:\n${tail.join('\n')}`));
    });
  });
}

/** `go install` of the product's packages into a staging GOBIN, then moved into place with a version marker. */
export async function goInstall(
  product: GoProduct,
  opts: { goBinary?: string; log: (line: string) => void; progressEveryMs?: number; /** The environment go runs with (GOFLAGS, HOME, GOPROXY…). */ env: Readonly<Record<string, string | undefined>> },
): Promise<Record<string, string>> {
  const found = findGoProduct(product);
  if (found) return found;
  mkdirSync(dirname(product.dir), { recursive: true });
  return withBuildLock(`${product.dir}.build-lock`, opts.log, () => goInstallUnlocked(product, opts));
}

async function goInstallUnlocked(
  product: GoProduct,
  opts: Parameters<typeof goInstall>[1],
): Promise<Record<string, string>> {
  const found = findGoProduct(product);
  if (found) return found;
  const goBinary = opts.goBinary ?? 'go';
  const targets = product.packages.map((p) => `${p.pkg}@${product.version}`);
  const goVersion = requireGo(
    goBinary,
    product.label,
    `GOBIN=${product.dir} go install ${targets.join(' ')}`,
  );
  const staging = `${product.dir}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  opts.log(`Building ${product.label} with ${goVersion} into ${product.dir} (first time only; minutes on 2 cores)…`);
  const started = Date.now();
  try {
    await runGoInstall({
      goBinary,
      targets,
      gobin: staging,
      env: { ...opts.env, GOFLAGS: opts.env.GOFLAGS ?? '-mod=mod' },
      log: opts.log,
      label: `${product.label} `,
      progressEveryMs: opts.progressEveryMs,
      fail: (message) => new GoInstallError(message),
    });
    mkdirSync(product.dir, { recursive: true });
    rmSync(join(product.dir, MARKER), { force: true });
    for (const p of product.packages) renameSync(join(staging, p.installedAs), join(product.dir, p.name));
    writeFileSync(join(product.dir, MARKER), `${product.version}\n`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  opts.log(`${product.label} ready in ${product.dir} (built in ${Math.round((Date.now() - started) / 1000)}s).`);
  const built = findGoProduct(product);
  if (!built) throw new GoInstallError(`${product.label}: binaries missing in ${product.dir} after go install`);
  return built;
}
