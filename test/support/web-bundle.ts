import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/** Newest modification time under `dir` (files only), 0 when it does not exist. */
function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  const st = statSync(dir);
  if (!st.isDirectory()) return st.mtimeMs;
  return readdirSync(dir).reduce((m, name) => Math.max(m, newest(path.join(dir, name))), 0);
}

/**
 * `npm test` serves the same bundled page as `npm start`: the bundle (dist/web, made by `vite build` in `npm run
 * build`) is rebuilt here when it is missing or older than the page's sources, the Vite config or the lock file.
 */
export function ensureWebBundle(log: (line: string) => void): void {
  const built = path.join(ROOT, 'dist', 'web', 'index.html');
  const builtAt = existsSync(built) ? statSync(built).mtimeMs : 0;
  const sources = Math.max(
    newest(path.join(ROOT, 'src', 'web', 'public')),
    newest(path.join(ROOT, 'vite.config.mjs')),
    newest(path.join(ROOT, 'package-lock.json')),
  );
  if (builtAt >= sources) return;
  const started = Date.now();
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  log(`[global-setup] web page bundled into dist/web (${Date.now() - started} ms)`);
}
