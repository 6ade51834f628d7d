import type { Check, ReleasedScan } from './invariants';
import { accuracy } from './invariants';
import type { Simulation } from './run';
import type { StackResources } from './stack';

/** Max and min of a list of any length (0 when empty); `Math.max(...xs)` overflows the stack on a campaign's ~10⁵ inbox polls. */
function maxOf(xs: number[]): number {
  return xs.reduce((m, x) => (x > m ? x : m), xs.length ? -Infinity : 0);
}
function minOf(xs: number[]): number {
  return xs.reduce((m, x) => (x < m ? x : m), xs.length ? Infinity : 0);
}

export interface SimReport {
  options: Record<string, unknown>;
  wallSeconds: number;
  scans: { total: number; released: number; escalated: number; quarantined: number; other: Record<string, number> };
  tasks: Record<string, number> & { total: number };
  reassignments: number;
  lateRejections: number;
  apiRetries: number;
  latencySeconds: { p50: number; p95: number; max: number };
  /** Assignment → the reader first sees the task in the inbox (projection and polling lag). */
  inboxLagSeconds: { p50: number; p95: number; p99: number; max: number };
  /** Duration of the readers' inbox requests (`GET /me/tasks`), ms. */
  inboxRequestMs: { p50: number; p95: number; p99: number; max: number };
  /** History events per released scan, by policy (a sample of up to 50 per policy; own stack or --temporal-address). */
  historyEvents?: Record<string, { sampled: number; p50: number; max: number }>;
  /** What the run cost the machine (own stack, Linux): see src/simulate/resources.ts. */
  resources?: StackResources;
  scansPerMinute: { minute: number; scans: number }[];
  readerLoad: { min: number; max: number; mean: number; stddev: number; perReader: Record<string, number> };
  accuracy: ReturnType<typeof accuracy>;
  meanAgreement: number | null;
  chaos: { at: number; fault: string; detail?: string }[];
  invariants: Check[];
  ok: boolean;
}

function q(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

export function buildReport(
  sim: Simulation,
  result: { checks: Check[]; released: ReleasedScan[]; tasks: Record<string, number> },
  chaos: { at: number; fault: string; detail?: string }[],
  extra: { historyEvents?: SimReport['historyEvents']; resources?: StackResources } = {},
): SimReport {
  const by: Record<string, number> = {};
  for (const s of sim.scans) by[s.stage ?? 'never-seen'] = (by[s.stage ?? 'never-seen'] ?? 0) + 1;
  const { released = 0, quarantined = 0, cancelled = 0, 'needs-attention': attention = 0, ...other } = by;
  const latencies = sim.scans
    .filter((s) => s.stage === 'released' && s.uploadedAt !== undefined)
    .map((s) => ((s.releasedAt ?? s.finishedAt ?? s.uploadedAt ?? 0) - (s.uploadedAt ?? 0)) / 1000);
  const perMinute = new Map<number, number>();
  for (const s of sim.scans) {
    if (s.stage !== 'released') continue;
    const t = (s.releasedAt ?? s.finishedAt ?? sim.startedAt) - sim.startedAt;
    const m = Math.max(0, Math.floor(t / 60_000));
    perMinute.set(m, (perMinute.get(m) ?? 0) + 1);
  }
  const load: Record<string, number> = {};
  for (const r of sim.readers) load[r.id] = r.counters.submitted;
  const loads = Object.values(load);
  const mean = loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length);
  const agreements = result.released.map((r) => r.agreement).filter((a): a is number => typeof a === 'number');
  const totalTasks = Object.values(result.tasks).reduce((a, b) => a + b, 0);
  return {
    options: { ...sim.opts, readTime: sim.opts.readTime },
    wallSeconds: Math.round((sim.finishedAt - sim.startedAt) / 100) / 10,
    scans: { total: sim.scans.length, released, escalated: attention + cancelled, quarantined, other },
    tasks: { ...result.tasks, total: totalTasks },
    reassignments: (result.tasks.expired ?? 0) + (result.tasks.reassigned ?? 0),
    lateRejections: sim.readers.reduce((a, r) => a + r.counters.lateRejections, 0),
    apiRetries: sim.stats.retries,
    latencySeconds: { p50: q(latencies, 0.5), p95: q(latencies, 0.95), max: maxOf(latencies) },
    inboxLagSeconds: (() => {
      const lags = sim.readers.flatMap((r) => r.pickupLagMs).map((ms) => ms / 1000);
      return { p50: q(lags, 0.5), p95: q(lags, 0.95), p99: q(lags, 0.99), max: maxOf(lags) };
    })(),
    inboxRequestMs: (() => {
      const ms = sim.readers.flatMap((r) => r.inboxMs).map((x) => Math.round(x * 10) / 10);
      return { p50: q(ms, 0.5), p95: q(ms, 0.95), p99: q(ms, 0.99), max: maxOf(ms) };
    })(),
    ...(extra.historyEvents ? { historyEvents: extra.historyEvents } : {}),
    ...(extra.resources ? { resources: extra.resources } : {}),
    scansPerMinute: [...perMinute.entries()].sort((a, b) => a[0] - b[0]).map(([minute, scans]) => ({ minute, scans })),
    readerLoad: {
      min: minOf(loads),
      max: maxOf(loads),
      mean: Math.round(mean * 10) / 10,
      stddev: Math.round(Math.sqrt(loads.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, loads.length)) * 10) / 10,
      perReader: load,
    },
    accuracy: accuracy(result.released),
    meanAgreement: agreements.length ? Math.round((agreements.reduce((a, b) => a + b, 0) / agreements.length) * 1000) / 1000 : null,
    chaos,
    invariants: result.checks,
    ok: result.checks.every((c) => c.ok),
  };
}

export function formatReport(r: SimReport): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
  const lines = [
    '',
    `ReadFlow simulation: ${r.scans.total} scans in ${r.wallSeconds} s (${((r.scans.total * 60) / Math.max(r.wallSeconds, 0.001)).toFixed(1)} scans/min)`,
    `  scans        released ${r.scans.released}, escalated ${r.scans.escalated}, quarantined ${r.scans.quarantined}${Object.keys(r.scans.other).length ? `, other ${JSON.stringify(r.scans.other)}` : ''}`,
    `  tasks        ${r.tasks.total} (${Object.entries(r.tasks).filter(([k]) => k !== 'total').map(([k, v]) => `${k} ${v}`).join(', ')}); reassignments ${r.reassignments}; late rejections ${r.lateRejections}; API retries ${r.apiRetries}`,
    `  latency      upload → released p50 ${r.latencySeconds.p50.toFixed(1)} s, p95 ${r.latencySeconds.p95.toFixed(1)} s, max ${r.latencySeconds.max.toFixed(1)} s`,
    `  inbox lag    assignment → seen by the reader p50 ${r.inboxLagSeconds.p50.toFixed(1)} s, p95 ${r.inboxLagSeconds.p95.toFixed(1)} s, p99 ${r.inboxLagSeconds.p99.toFixed(1)} s, max ${r.inboxLagSeconds.max.toFixed(1)} s`,
    `  inbox        GET /me/tasks p50 ${r.inboxRequestMs.p50} ms, p95 ${r.inboxRequestMs.p95} ms, p99 ${r.inboxRequestMs.p99} ms, max ${r.inboxRequestMs.max} ms`,
    `  throughput   scans released per minute: ${r.scansPerMinute.map((m) => `[${m.minute}] ${m.scans}`).join(' ')}`,
    `  reader load  submissions per reader min ${r.readerLoad.min}, max ${r.readerLoad.max}, mean ${r.readerLoad.mean}, sd ${r.readerLoad.stddev}`,
    `  accuracy     released boxes vs seeded truth, F1 at IoU ≥ 0.4: ${pct(r.accuracy.overall)}; mean reader agreement ${r.meanAgreement ?? 'n/a'}`,
    ...Object.entries(r.accuracy.perLabel).map(([l, a]) => `                 ${l.padEnd(20)} F1 ${pct(a.f1).padStart(7)}  (truth ${a.truth}, released ${a.found})`),
  ];
  if (r.historyEvents) {
    lines.push(`  history      events per released scan: ${Object.entries(r.historyEvents).map(([p, h]) => `${p} p50 ${h.p50}, max ${h.max} (${h.sampled} sampled)`).join('; ')}`);
  }
  if (r.resources) {
    const u = (name: string, x?: { cpuSeconds: number; peakRssMiB: number }): string => (x ? `${name} ${x.cpuSeconds} s CPU, peak RSS ${x.peakRssMiB} MiB` : `${name} n/a`);
    const res = r.resources;
    lines.push(`  resources    ${[u('worker', res.worker), u('API', res.api), u('Temporal', res.temporal), u(`Postgres (${res.postgres.processes} backends)`, res.postgres)].join('; ')}`);
    lines.push(`               Temporal SQLite ${res.temporalDbMiB} MiB, Postgres database ${res.postgresDbMiB} MiB`);
  }
  if (r.chaos.length) lines.push(`  chaos        ${r.chaos.map((c) => `${(c.at / 1000).toFixed(0)} s ${c.fault}${c.detail ? ` (${c.detail})` : ''}`).join('; ')}`);
  lines.push('  invariants');
  for (const c of r.invariants) {
    lines.push(`    ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}`);
    for (const f of c.failures) lines.push(`         ${f}`);
  }
  lines.push(r.ok ? 'All invariants hold.' : 'INVARIANTS BROKEN: the run fails.', '');
  return lines.join('\n');
}
