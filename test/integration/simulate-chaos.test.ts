import { parseOptions, simulate } from '../../src/simulate';
import { ensureBuilt } from '../support/run-once';
import { testServices } from '../support/services';
import { loadToolchainConfig } from '../../src/config/toolchain';

/**
 * The small chaos run of `npm run simulate -- --chaos`: ReadFlow as separate processes (Temporal dev server on a
 * SQLite file, worker, API, all from dist/), 24 synthetic scans read by the seeded roster through the REST API, while
 * the worker is SIGKILLed and replaced, the Temporal server is stopped and restarted on the same file, Postgres
 * refuses connections and has its backends terminated for 4 s, and the API restarts. Every invariant must hold.
 */
describe('simulate --chaos (small)', () => {
  beforeAll(async () => {
    // The supervised processes run the compiled CLI, as `npm run simulate` does (it builds first).
    await ensureBuilt();
  }, 300_000);

  it('keeps every invariant through a worker kill, a Temporal restart, a database outage, an API restart and a full storage disk', async () => {
    const s = testServices();
    const pg = new URL(s.databaseUrl);
    pg.pathname = '/postgres';
    const opts = parseOptions([
      '--scans', '24',
      '--test-fraction', '0.25',
      '--read-time', 'uniform:0-300',
      '--absent-fraction', '0',
      '--bad-fraction', '0.25',
      '--batch-fraction', '0.25',
      '--image-size', '96',
      '--seed', '7',
      '--chaos',
      '--no-progress',
      '--timeout-min', '6',
    ]);
    const lines: string[] = [];
    const report = await simulate(opts, {
      log: (l) => lines.push(l),
      postgresUrl: pg.toString(),
      temporalCli: s.temporalCli,
      toolchain: loadToolchainConfig(process.env),
      // Faults run one at a time, each after the previous one recovered (src/simulate/chaos.ts): over 10 s they come
      // back to back while the scans are in flight (a few scans are held until the last one), in the seed's order.
      chaos: { rounds: 1, spanMs: 10_000, databaseOutageMs: 4000 },
    });
    const failed = report.invariants.filter((c) => !c.ok);
    expect(failed).toEqual([]);
    expect(report.chaos.map((c) => c.fault).sort()).toEqual(['database-outage', 'fill-storage', 'kill-worker', 'restart-api', 'restart-temporal']);
    // The store really filled up for 3 s (root mounts a tmpfs on it): uploads meanwhile get 507 and retry, ingest retries.
    expect(report.chaos.find((c) => c.fault === 'fill-storage')?.detail).toMatch(/^3000 ms full/);
    expect(report.scans.released + report.scans.quarantined).toBe(24);
    expect(report.scans.quarantined).toBeGreaterThan(0);
    expect(report.tasks.submitted).toBeGreaterThanOrEqual(report.scans.released * 3);
  }, 600_000);
});
