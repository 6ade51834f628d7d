/**
 * Capacity sweep benchmark (issue #12): what one round of the `capacitySweeper` costs at VinDr scale. Each round the
 * `sweepCapacity` activity reads every scan holding reader capacity or waiting for it, asks Temporal which of them are
 * still running (visibility, one list call per hundred scans; `describe` for the rest), then reads the whole waitlist
 * to name the scans to wake. In a campaign where 17 readers with a cap of 50 are full and the rest of the 18,000 scans
 * wait, that is about 17,000 waiting scans.
 *
 * One run, one Temporal dev server, one fresh database: 17 radiologists (cap 50) all full (283 scans reading, 849
 * open tasks), 50,000 closed tasks of released scans, and N scans on `reader_waitlist`. Every holding or waiting scan
 * has a running workflow of its id (an idle workflow on a task queue nobody polls: visibility lists it as running,
 * describe says RUNNING), and its rows carry that run's id. Baseline: N = 100; then N = 17,000. For each size:
 * - Postgres alone: the holders query and the wake-up computation (`scansToWake`, no Temporal; with every reader full it
 *   no longer reads the queue);
 * - before: a full round, as every round was (and the periodic full round still is; list calls one after the other);
 * - full: the same with four list calls at once (slower on the dev server's SQLite visibility: kept at one);
 * - after: an incremental round (only scans that started holding or whose workflow closed since the last round).
 * Each is timed over R rounds (mean, p50) with its Temporal calls per round (list / describe / query), and its ratio
 * to the baseline's. At the end, a check that the incremental round still finds what it must: five waiting scans
 * terminated at 17,000 are released by the next incremental round.
 *
 * Run: `npm run bench:capacity-sweep [-- --waiting 17000 --rounds 5 --closed 50000]` (builds, then
 * `node dist/bench/capacity-sweep.js`). Needs Postgres (DATABASE_URL, else postgres://postgres@127.0.0.1:5432) and
 * starts its own Temporal dev server.
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';

import { clientSweepProbes } from '../src/activities/capacity.activities';
import { scansToWake, sweepClosedScans } from '../src/db/capacity-queue';
import type { CapacitySweep, SweepMemory } from '../src/db/capacity-queue';
import { dropDatabase, openDatabase } from '../src/db/data-source';
import { repositories } from '../src/db/repositories';
import { startBenchDevServer, pool } from './support';

const READERS = 17;
const CAP = 50;
const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const WAITING = arg('waiting', 17_000);
const BASELINE = arg('baseline', 100);
const ROUNDS = arg('rounds', 5);
const CLOSED = arg('closed', 50_000);
/** Idle workflows' task queue: nobody polls it, so they stay running with nothing to do. */
const IDLE_QUEUE = `bench-sweep-idle-${process.pid}`;

/** Temporal calls made by the sweep, counted at the connection. */
const calls = { list: 0, describe: 0, query: 0 };
const COUNTED: Record<string, keyof typeof calls> = {
  listWorkflowExecutions: 'list',
  describeWorkflowExecution: 'describe',
  queryWorkflow: 'query',
};

function countCalls(connection: Connection): void {
  const svc = connection.workflowService as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  for (const [method, key] of Object.entries(COUNTED)) {
    const inner = svc[method];
    svc[method] = (...a: unknown[]) => {
      calls[key] += 1;
      return inner(...a);
    };
  }
}

interface Measured {
  mean: number;
  p50: number;
  list: number;
  describe: number;
  query: number;
  checked: number;
  released: number;
}

async function timeRounds(round: () => Promise<CapacitySweep | unknown>, rounds: number): Promise<Measured> {
  const ms: number[] = [];
  const before = { ...calls };
  let last: unknown;
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    last = await round();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const s = [...ms].sort((a, b) => a - b);
  const sweep = last as Partial<CapacitySweep> | undefined;
  return {
    mean: ms.reduce((a, b) => a + b, 0) / ms.length,
    p50: s[Math.floor(s.length / 2)],
    list: (calls.list - before.list) / rounds,
    describe: (calls.describe - before.describe) / rounds,
    query: (calls.query - before.query) / rounds,
    checked: sweep?.checked ?? 0,
    released: sweep?.released?.length ?? 0,
  };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const env = await startBenchDevServer();
  const base = new URL(process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres');
  base.pathname = `/readflow_bench_sweep_${process.pid}`;
  const dbUrl = base.toString();
  const ds = await openDatabase(dbUrl, { poolSize: 8 });
  const connection = await Connection.connect({ address: env.address });
  const client = new Client({ connection, namespace: 'readflow' });
  try {
    for (let r = 0; r < READERS; r++) {
      await ds.query(`INSERT INTO readers (id, display_name, role, senior, active, open_task_cap) VALUES ($1, $1, 'radiologist', $2, true, $3)`, [
        `rad${String(r + 1).padStart(2, '0')}`,
        r < 3,
        CAP,
      ]);
    }
    // A campaign's closed work (released scans' submitted tasks): no capacity held, but the tables are that big.
    await ds.query(`INSERT INTO scans (id, split, policy, stage) SELECT 'scan-done-' || g, 'train', 'independent-3', 'released' FROM generate_series(1, $1::int) g`, [
      Math.ceil(CLOSED / 3),
    ]);
    await ds.query(
      `INSERT INTO tasks (id, scan_id, reader_id, role, slot, round, status, assigned_at, due_at, submitted_at, closed_at, run_id)
       SELECT gen_random_uuid(), 'scan-done-' || g, 'rad' || lpad((((g * 3 + k) % ${READERS}) + 1)::text, 2, '0'), 'reader', k, 0, 'submitted',
              now() - interval '2 days', now() - interval '1 day', now() - interval '1 day', now() - interval '1 day', 'run-done'
         FROM generate_series(1, $1::int) g, generate_series(0, 2) k`,
      [Math.ceil(CLOSED / 3)],
    );

    /** Starts an idle running workflow per id (nobody polls its queue); returns the run ids. */
    const startIdle = async (ids: string[], label: string): Promise<Map<string, string>> => {
      const runs = new Map<string, string>();
      const t0 = Date.now();
      await pool(ids, 32, async (id, i) => {
        const h = await client.workflow.start('benchIdle', { taskQueue: IDLE_QUEUE, workflowId: id, args: [] });
        runs.set(id, h.firstExecutionRunId);
        if ((i + 1) % 2000 === 0) process.stderr.write(`  ${label}: ${i + 1}/${ids.length} workflows started (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
      });
      return runs;
    };

    // The readers are full: 283 scans reading, three open tasks each.
    const readingIds = Array.from({ length: Math.floor((READERS * CAP) / 3) }, (_, i) => `scan-reading-${i}`);
    const readingRuns = await startIdle(readingIds, 'reading scans');
    await ds.query(`INSERT INTO scans (id, split, policy, stage) SELECT unnest($1::text[]), 'train', 'independent-3', 'reading'`, [readingIds]);
    await ds.query(
      `INSERT INTO tasks (id, scan_id, reader_id, role, slot, round, status, assigned_at, due_at, run_id)
       SELECT gen_random_uuid(), s.id, 'rad' || lpad((((s.n * 3 + k) % ${READERS}) + 1)::text, 2, '0'), 'reader', k, 0, 'open', now(), now() + interval '1 day', s.run_id
         FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS s(id, run_id, n), generate_series(0, 2) k`,
      [readingIds, readingIds.map((id) => readingRuns.get(id))],
    );

    let waiting = 0;
    /** `n` more scans waiting for three readers each (first come, first served), each with its running workflow. */
    const addWaiting = async (n: number): Promise<void> => {
      const ids = Array.from({ length: n }, (_, i) => `scan-waiting-${waiting + i}`);
      const runs = await startIdle(ids, 'waiting scans');
      await ds.query(`INSERT INTO scans (id, split, policy, stage) SELECT unnest($1::text[]), 'train', 'independent-3', 'waiting-for-readers'`, [ids]);
      await ds.query(
        `INSERT INTO reader_waitlist (scan_id, role, priority, enqueued_at, request, run_id)
         SELECT s.id, 'reader', 0, now() - make_interval(secs => ($3::int - s.n)::double precision),
                jsonb_build_object('scanId', s.id, 'role', 'reader', 'count', 3, 'excludedReaderIds', '[]'::jsonb, 'spareSeniors', true), s.run_id
           FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS s(id, run_id, n)`,
        [ids, ids.map((id) => runs.get(id)), waiting + n],
      );
      waiting += n;
      await ds.query(`ANALYZE`);
    };

    const probes = clientSweepProbes(client);
    const fourAtOnce = clientSweepProbes(client, { listConcurrency: 4 });
    countCalls(connection);

    const measure = async (): Promise<Record<'pg' | 'wake' | 'before' | 'full' | 'after', Measured>> => {
      const pg = await timeRounds(() => repositories(ds).tasks.capacityHolders(), ROUNDS);
      const wake = await timeRounds(() => scansToWake(ds), ROUNDS);
      const before = await timeRounds(() => sweepClosedScans(ds, probes), ROUNDS);
      const full = await timeRounds(() => sweepClosedScans(ds, fourAtOnce), ROUNDS);
      const memory: SweepMemory = { seen: new Set(), lastAt: 0, fullAt: Number.NEGATIVE_INFINITY };
      await sweepClosedScans(ds, probes, memory); // primes the memory (a full round)
      const after = await timeRounds(() => sweepClosedScans(ds, probes, memory), ROUNDS);
      return { pg, wake, before, full, after };
    };

    await addWaiting(BASELINE);
    await measure(); // warm-up: plans, connections, the server's caches
    const rows: { label: string; m: Awaited<ReturnType<typeof measure>> }[] = [];
    rows.push({ label: `${BASELINE.toLocaleString('en')} waiting`, m: await measure() });
    await addWaiting(WAITING - BASELINE);
    rows.push({ label: `${WAITING.toLocaleString('en')} waiting`, m: await measure() });

    const b = rows[0].m;
    const fmt = (x: number): string => x.toFixed(1).padStart(8);
    console.log(
      `capacity sweep, one round (${READERS} readers full at cap ${CAP}, ${readingIds.length} scans reading, ${CLOSED.toLocaleString('en')} closed tasks), ${ROUNDS} rounds each; ms; Temporal calls per round list/describe/query`,
    );
    console.log(`${'state'.padEnd(16)} ${'round'.padEnd(44)} ${'mean'.padStart(8)} ${'p50'.padStart(8)}  ratio   calls       checked`);
    const kinds: [keyof typeof b, string][] = [
      ['pg', 'Postgres: holders query'],
      ['wake', 'Postgres: scans to wake (whole waitlist)'],
      ['before', 'before: every round full (= periodic full)'],
      ['full', 'full round, 4 list calls at once (rejected)'],
      ['after', 'after: incremental round'],
    ];
    for (const { label, m } of rows) {
      for (const [k, name] of kinds) {
        const x = m[k];
        const c = k === 'pg' || k === 'wake' ? '' : `${x.list}/${x.describe}/${x.query}`;
        console.log(
          `${label.padEnd(16)} ${name.padEnd(44)} ${fmt(x.mean)} ${fmt(x.p50)} ${(x.mean / b[k].mean).toFixed(2).padStart(6)}   ${c.padEnd(11)} ${k === 'pg' || k === 'wake' ? '' : x.checked}`,
        );
      }
    }
    const big = rows[rows.length - 1].m;
    console.log(
      `at ${WAITING.toLocaleString('en')} waiting: incremental round ${(big.before.mean / big.after.mean).toFixed(1)}× faster than a full round as before (${big.before.list} → ${big.after.list} list calls); 4 list calls at once: ${(big.full.mean / big.before.mean).toFixed(2)}× the time of one at a time`,
    );

    // The incremental round still finds what it must: five waiting scans terminated from outside.
    const memory: SweepMemory = { seen: new Set(), lastAt: 0, fullAt: Number.NEGATIVE_INFINITY };
    await sweepClosedScans(ds, probes, memory);
    const victims = [17, 4_000, 9_999, 12_345, WAITING - 1].filter((i) => i < WAITING).map((i) => `scan-waiting-${i}`);
    for (const id of victims) await client.workflow.getHandle(id).terminate('bench: terminated from outside');
    let found = 0;
    let rounds = 0;
    for (; rounds < 20 && found < victims.length; rounds++) {
      const r = await sweepClosedScans(ds, probes, memory);
      found += r.released.filter((x) => victims.includes(x.scanId)).length;
      if (found < victims.length) await new Promise((res) => setTimeout(res, 500));
    }
    console.log(`check: ${found}/${victims.length} terminated waiting scans released by incremental rounds (${rounds} round${rounds === 1 ? '' : 's'}; visibility lag)`);
    if (found < victims.length) process.exitCode = 1;
  } finally {
    await connection.close();
    await ds.destroy();
    await dropDatabase(dbUrl);
    await env.teardown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
