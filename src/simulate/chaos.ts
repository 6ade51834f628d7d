import { Rng } from './random';
import type { Stack } from './stack';

export interface ChaosEvent {
  at: number;
  fault: string;
  detail?: string;
}

/** The faults chaos mode injects, one list (names appear in the report). */
export const FAULTS = ['kill-worker', 'restart-temporal', 'database-outage', 'restart-api', 'fill-storage'] as const;
export type Fault = (typeof FAULTS)[number];

export interface ChaosPlan {
  faults: { fault: Fault; afterMs: number }[];
  databaseOutageMs: number;
  /** How long the storage stays full (short enough for the ingest activities' retries, ~15 s). */
  storageFullMs: number;
}

/**
 * A seeded schedule: each fault `rounds` times, at random moments spread over `spanMs`, in random order.
 * Faults run one at a time (a fault waits for the previous recovery).
 */
export function chaosPlan(seed: number, spanMs: number, rounds = 1, databaseOutageMs = 5000, storageFullMs = 3000): ChaosPlan {
  const rng = new Rng(`chaos-${seed}`);
  const faults: ChaosPlan['faults'] = [];
  for (let r = 0; r < rounds; r++) for (const fault of FAULTS) faults.push({ fault, afterMs: Math.round(rng.float() * spanMs) });
  faults.sort((a, b) => a.afterMs - b.afterMs);
  return { faults, databaseOutageMs, storageFullMs };
}

/** Runs the plan against the stack until it is done or `stopped()`; returns what happened when. */
export async function runChaos(stack: Stack, plan: ChaosPlan, stopped: () => boolean, log: (line: string) => void): Promise<ChaosEvent[]> {
  const t0 = Date.now();
  const events: ChaosEvent[] = [];
  for (const f of plan.faults) {
    while (Date.now() - t0 < f.afterMs) {
      if (stopped()) return events;
      await new Promise((r) => setTimeout(r, 200));
    }
    if (stopped()) return events;
    const at = Date.now() - t0;
    log(`chaos: ${f.fault}`);
    let detail: string | undefined;
    switch (f.fault) {
      case 'kill-worker':
        await stack.killWorker();
        break;
      case 'restart-temporal':
        await stack.restartTemporal(1000);
        break;
      case 'database-outage': {
        const n = await stack.databaseOutage(plan.databaseOutageMs);
        detail = `${plan.databaseOutageMs} ms, ${n} backends terminated`;
        break;
      }
      case 'restart-api':
        await stack.restartApi();
        break;
      case 'fill-storage': {
        const r = await stack.fillStorage(plan.storageFullMs);
        detail = 'skipped' in r ? `skipped: ${r.skipped}` : `${plan.storageFullMs} ms full (${Math.round(r.filled / 1024)} KiB taken)`;
        break;
      }
    }
    events.push({ at, fault: f.fault, detail: `${detail ? `${detail}, ` : ''}recovered in ${Date.now() - t0 - at} ms` });
  }
  return events;
}
