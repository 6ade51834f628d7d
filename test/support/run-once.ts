/**
 * Work that every test file of an integration run would otherwise repeat, done once per run and shared by the Jest
 * workers: the workflow bundle (webpack over src/workflows, seconds of CPU per file) and the compiled CLI in dist/
 * (`tsc -p tsconfig.build.json`, which the files that spawn the built CLI need). global-setup makes the run's
 * directory (READFLOW_TEST_RUN_DIR); the first worker to need a result builds it under a lock file, the others wait
 * for it. Sources do not change during a run, so a result built at its start holds for all of it. Outside a run (no
 * directory), each caller does the work itself, as before.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleWorkflowCode } from '@temporalio/worker';

import { WORKFLOWS_PATH } from '../../src/temporal/worker';

const ROOT = path.resolve(__dirname, '../..');

/** The run's shared directory (made by global-setup, removed by global-teardown), if any. */
export function runDir(): string | undefined {
  return process.env.READFLOW_TEST_RUN_DIR || undefined;
}

const exists = (p: string): Promise<boolean> =>
  fsp.access(p).then(
    () => true,
    () => false,
  );

/**
 * Runs `build` once per run for `name`: the first caller takes `<name>.lock` and writes `<name>.done` when `build`
 * succeeded; the others wait for `.done` (or, if the builder failed or vanished, build themselves).
 */
async function once(name: string, build: () => Promise<void>, waitMs = 300_000): Promise<void> {
  const dir = runDir();
  if (!dir) return build();
  const done = path.join(dir, `${name}.done`);
  if (await exists(done)) return;
  const lock = path.join(dir, `${name}.lock`);
  const mine = await fsp
    .writeFile(lock, String(process.pid), { flag: 'wx' })
    .then(() => true)
    .catch(() => false);
  if (mine) {
    try {
      await build();
      await fsp.writeFile(done, '');
    } finally {
      await fsp.rm(lock, { force: true });
    }
    return;
  }
  const builderAlive = async (): Promise<boolean> => {
    const text = await fsp.readFile(lock, 'utf8').catch(() => undefined);
    if (text === undefined) return false; // released
    const pid = Number(text);
    if (!pid) return true; // just created, its pid not written yet
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const until = Date.now() + waitMs;
  while (Date.now() < until) {
    if (await exists(done)) return;
    // The builder gave up (its own caller saw why) or its Jest worker died: try ourselves.
    if (!(await builderAlive())) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!(await exists(done))) await build();
}

/** `tsc -p tsconfig.build.json` (incremental), once per run: dist/ holds the CLI that `npm start` & co. run. */
export function ensureBuilt(): Promise<void> {
  return once('tsc', async () => {
    await promisify(execFile)(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
    });
  });
}

const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } as never;

function bundle(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: silent });
}

/** ReadFlow's workflows (src/workflows) bundled once per run, as every worker of the run loads them. */
export async function sharedWorkflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  const dir = runDir();
  if (!dir) return bundle();
  const code = path.join(dir, 'workflow-bundle.js');
  const map = path.join(dir, 'workflow-bundle.js.map');
  await once('workflow-bundle', async () => {
    const b = await bundle();
    await fsp.writeFile(code, b.code);
    await fsp.writeFile(map, b.sourceMap);
  });
  const [c, m] = await Promise.all([fsp.readFile(code, 'utf8'), fsp.readFile(map, 'utf8')]);
  return { code: c, sourceMap: m };
}
