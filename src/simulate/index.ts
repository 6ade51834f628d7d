import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { SingleBar } from 'cli-progress';

import { ensureTemporalCli } from '../temporal/temporal-cli';
import type { ChaosEvent } from './chaos';
import { chaosPlan, runChaos } from './chaos';
import { checkInvariants } from './invariants';
import type { SimOptions } from './options';
import type { SimReport } from './report';
import { buildReport } from './report';
import type { RunTarget } from './run';
import { Simulation } from './run';
import { Stack } from './stack';
import type { ToolchainConfig } from '../config/toolchain';

export { parseOptions, USAGE, UsageError } from './options';
export type { SimOptions } from './options';
export type { SimReport } from './report';
export { formatReport } from './report';

export interface SimulateHooks {
  log?: (line: string) => void;
  /** Postgres server for the simulator's own stack (default postgres://postgres@127.0.0.1:5432/postgres). */
  postgresUrl?: string;
  temporalCli?: string;
  /** Where the Temporal CLI is found or built, and the system environment (PATH, HOME) the stack's processes get. */
  toolchain?: ToolchainConfig;
  /** Chaos: how many rounds of every fault, over how long, and the database outage length. */
  chaos?: { rounds?: number; spanMs?: number; databaseOutageMs?: number; storageFullMs?: number };
}

/** Largest RAM-backed storage filesystem chaos mounts to fill it up (beyond it the fault is skipped). */
const MAX_CHAOS_STORAGE_BYTES = 1024 * 1024 * 1024;

/**
 * The storage filesystem chaos gives a run: room for every scan's files (incoming, originals, de-identified, 16-bit
 * pixels, with margin) plus 64 MiB; undefined (fault skipped) when that would take more than 1 GiB of RAM.
 */
export function chaosStorageBytes(scans: number, imageSize: number): number | undefined {
  const bytes = 64 * 1024 * 1024 + scans * imageSize * imageSize * 2 * 4;
  return bytes <= MAX_CHAOS_STORAGE_BYTES ? bytes : undefined;
}

/**
 * Runs a simulation: its own ReadFlow (Temporal dev server, worker and API as child processes on a fresh database)
 * unless `opts.url` names one; simulated radiologists through the REST API; chaos if asked; then the invariants and
 * the report. Resolves with the report (`ok` false when an invariant broke).
 */
function requireToolchain(hooks: SimulateHooks): ToolchainConfig {
  if (!hooks.toolchain) throw new Error('simulate: give hooks.temporalCli or hooks.toolchain');
  return hooks.toolchain;
}

export async function simulate(opts: SimOptions, hooks: SimulateHooks = {}): Promise<SimReport> {
  const log = hooks.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let stack: Stack | undefined;
  let dir: string | undefined;
  let target: RunTarget;
  if (opts.url) {
    target = { apiUrl: opts.url.replace(/\/$/, ''), adminToken: opts.adminToken as string, temporalAddress: opts.temporalAddress, payloadKeys: opts.payloadKeys };
  } else {
    dir = mkdtempSync(path.join(tmpdir(), 'readflow-sim-'));
    stack = new Stack({
      dir,
      temporalCli: hooks.temporalCli ?? (await ensureTemporalCli({ ...requireToolchain(hooks), log })),
      systemEnv: { PATH: hooks.toolchain?.searchPath, HOME: hooks.toolchain?.buildEnv.HOME },
      postgresUrl: hooks.postgresUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres',
      database: `readflow_sim_${process.pid}_${Date.now()}`,
      taskDeadline: opts.taskDeadline,
      reviewDeadline: opts.reviewDeadline,
      ...(opts.chaos ? { storageQuotaBytes: chaosStorageBytes(opts.scans, opts.imageSize) ?? 0 } : {}),
      log,
    });
    log(`starting ReadFlow under ${dir} (Temporal dev server, worker, API)…`);
    try {
      await stack.start();
    } catch (err) {
      await stack.stop({ drop: true });
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    log(`ReadFlow up: API ${stack.apiUrl}, Temporal ${stack.temporalAddress}, database ${stack.databaseUrl}`);
    target = { apiUrl: stack.apiUrl, adminToken: stack.adminToken, temporalAddress: stack.temporalAddress, payloadKeys: stack.payloadKeys, importDir: stack.importDir, deidSecret: stack.deidSecret };
  }
  const bar = opts.progress ? new SingleBar({ format: 'scans {bar} {value}/{total} finished | {eta_formatted} | {stages}', hideCursor: true, etaBuffer: 50 }) : undefined;
  // Without the bar (no TTY, --no-progress) a line a minute says how far the run is, for long runs read from a log.
  let latest = { done: 0, stages: '' };
  const sim = new Simulation(opts, target, (done, stages) => {
    latest = { done, stages: Object.entries(stages).map(([k, v]) => `${k} ${v}`).join(', ') };
    bar?.update(done, { stages: latest.stages });
  });
  const started = Date.now();
  const ticker = bar
    ? undefined
    : setInterval(() => log(`${new Date().toISOString()} +${Math.round((Date.now() - started) / 60_000)} min: ${latest.done}/${sim.scans.length} scans finished${latest.stages ? ` (${latest.stages})` : ''}`), 60_000);
  ticker?.unref();
  let chaos: ChaosEvent[] = [];
  try {
    log(`planning ${opts.scans} scans…`);
    sim.plan();
    bar?.start(sim.scans.length, 0, { stages: '' });
    const chaosRun =
      opts.chaos && stack
        ? runChaos(
            stack,
            chaosPlan(
              opts.seed,
              hooks.chaos?.spanMs ?? Math.max(20_000, sim.scans.length * 300),
              hooks.chaos?.rounds ?? 1,
              hooks.chaos?.databaseOutageMs ?? 5000,
              hooks.chaos?.storageFullMs ?? 3000,
            ),
            () => sim.done(),
            (l) => (bar ? undefined : log(l)),
          )
        : Promise.resolve([]);
    // A few scans wait for the plan: the run cannot end before its faults, however fast the readers.
    if (opts.chaos && stack) sim.holdUntil(chaosRun, Math.max(1, Math.min(5, Math.ceil(sim.scans.length / 5))));
    await sim.run();
    chaos = await chaosRun;
    bar?.stop();
    log('checking invariants…');
    const result = await checkInvariants(sim);
    const historyEvents = await historyByPolicy(sim);
    const resources = stack ? await stack.resources() : undefined;
    const report = buildReport(sim, result, chaos, { historyEvents, resources });
    if (opts.json) writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    if (ticker) clearInterval(ticker);
    bar?.stop();
    if (stack) await stack.stop({ drop: !opts.keep });
    if (dir && !opts.keep) rmSync(dir, { recursive: true, force: true });
    else if (dir) log(`kept ${dir}${stack ? ` and database ${stack.databaseUrl}` : ''}`);
  }
}



/** History events of released scans by policy: a sample of up to 50 per policy (read-only: the scans' histories). */
async function historyByPolicy(sim: Simulation): Promise<SimReport['historyEvents']> {
  const t = await sim.temporal().catch(() => undefined);
  if (!t) return undefined;
  try {
    const out: NonNullable<SimReport['historyEvents']> = {};
    const byPolicy = new Map<string, string[]>();
    for (const s of sim.scans) {
      if (s.stage !== 'released' || !s.scanId) continue;
      const ids = byPolicy.get(s.policy) ?? [];
      if (ids.length < 50) ids.push(s.scanId);
      byPolicy.set(s.policy, ids);
    }
    for (const [policy, ids] of byPolicy) {
      const lengths: number[] = [];
      for (const id of ids) {
        const h = await t.client.workflow.getHandle(id).fetchHistory().catch(() => undefined);
        if (h) lengths.push(h.events?.length ?? 0);
      }
      lengths.sort((a, b) => a - b);
      if (lengths.length) out[policy] = { sampled: lengths.length, p50: lengths[Math.floor(lengths.length / 2)], max: lengths[lengths.length - 1] };
    }
    return out;
  } finally {
    await t.close();
  }
}
