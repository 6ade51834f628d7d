/**
 * End-to-end benchmark: in one run on the same Temporal dev server, scans per second through ReadFlow's whole
 * lifecycle (real ingest and de-identification of a real radiograph, assignment, 3 independent readers answering at
 * once, fusion, release, every projection write to Postgres) against a floor workflow doing only Temporal's
 * irreducible part of the same protocol (bench/floor: one ingest activity, 3 updates answered at once, 3 deadline
 * timers, one release activity, no projection). Prints both rates, the ratio, and history events per scan.
 *
 * Readers of ReadFlow are instant: a driver polls the `tasks` inbox projection every 100 ms and answers each open
 * task through the `submitReading` update (as bench:lifecycle does). The floor's driver sends its 3 updates as soon
 * as the workflow is started.
 *
 * Run: `npm run bench:e2e -- [scans=200] [concurrency=50] [--distinct-films]`. Needs Postgres (DATABASE_URL, else 127.0.0.1:5432);
 * starts its own Temporal dev server.
 */
import 'reflect-metadata';

import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';

import { createActivities } from '../src/activities';
import { dropDatabase, openDatabase } from '../src/db/data-source';
import { seedRoster } from '../src/db/seed';
import { DEFAULT_POLICIES, policyWithDeadlines } from '../src/domain';
import { stageIncoming } from '../src/ingest/stage-incoming';
import { LocalBlobStore } from '../src/storage/blob-store';
import { createReadflowWorker, WORKFLOWS_PATH } from '../src/temporal/worker';
import type { ScanLifecycleInput } from '../src/workflows/scan-lifecycle.messages';
import { submitReadingUpdate } from '../src/workflows/scan-lifecycle.messages';
import * as floorActivities from './floor/activities';
import { floorSubmitUpdate } from './floor/workflows';
import { ActivityTimes, CpuSampler, cpuLine, HistoryTimes } from './profile';
import { median, pool, radiographCopy, slotReading, startBenchDevServer } from './support';

const ARGS = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const SCANS = Number(ARGS[0] ?? 200);
const CONCURRENCY = Number(ARGS[1] ?? 50);
/**
 * `--distinct-films`: each copy also gets its own pixels (a few hundred values changed), so nothing that is identical per
 * pixel data (the burned-in text check's verdict) is shared between scans, as in a real campaign. Default: copies of
 * one film that differ in their UIDs only.
 */
const DISTINCT_FILMS = process.argv.includes('--distinct-films');

/** A copy of the film with `n`'s own pixel values near the end of the pixel data (the file's last bytes are pixels). */
function distinctPixels(film: Buffer, n: number): Buffer {
  const out = Buffer.from(film);
  for (let k = 0; k < 500; k++) out[out.length - 1 - k * 401] = (n * 37 + k * 11) & 0xff;
  return out;
}
const READERS = 3;
const DEADLINE_MS = 10 * 60_000; // never reached: readers are instant
const SECRET = 'bench-secret-bench-secret-bench-secret-0123';
const CXR = path.resolve(process.cwd(), 'test/fixtures/dicom/cxr/dicom_00000001_000.dcm');

/** Event types of one history, by count (most first), e.g. `ActivityTaskScheduled 9`. */
type EventMix = Map<string, number>;

function eventMix(events: { eventType?: number | null }[]): EventMix {
  const names = temporal.api.enums.v1.EventType as unknown as Record<number, string>;
  const mix: EventMix = new Map();
  for (const e of events) {
    const name = (names[e.eventType ?? 0] ?? String(e.eventType)).replace(/^EVENT_TYPE_/, '').toLowerCase().replace(/_(\w)/g, (_, c: string) => c.toUpperCase());
    mix.set(name, (mix.get(name) ?? 0) + 1);
  }
  return mix;
}

function mixLine(mix: EventMix): string {
  return [...mix.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}

/** History lengths of the workflows, the event mix of the first one (what a scan's history is made of), and latencies. */
async function historyLengths(client: Client, ids: string[]): Promise<number[] & { mix?: EventMix; times: HistoryTimes }> {
  const out: number[] & { mix?: EventMix; times: HistoryTimes } = Object.assign([], { times: new HistoryTimes() });
  await pool(ids, 10, async (id) => {
    const h = await client.workflow.getHandle(id).fetchHistory();
    out.push(h.events?.length ?? 0);
    out.times.add(h.events ?? []);
    if (id === ids[0]) out.mix = eventMix(h.events ?? []);
  });
  return out;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const env = await startBenchDevServer();
  const base = new URL(process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres');
  base.pathname = `/readflow_bench_e2e_${process.pid}`;
  const dbUrl = base.toString();
  const ds = await openDatabase(dbUrl, { poolSize: 16 });
  const storeDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'readflow-bench-e2e-'));
  const store = new LocalBlobStore(storeDir);
  const connection = await Connection.connect({ address: env.address });
  const client = new Client({ connection, namespace: 'readflow' });
  const native = await NativeConnection.connect({ address: env.address });
  const quiet = new DefaultLogger('ERROR');
  try {
    await seedRoster(ds, { seed: true });

    // ReadFlow: the full lifecycle.
    const rfTimes = new ActivityTimes();
    const cpu = new CpuSampler(ds);
    const rfWorker = await createReadflowWorker({
      connection: native,
      namespace: 'readflow',
      taskQueue: 'bench-e2e-readflow',
      activities: rfTimes.wrap(createActivities({ dataSource: ds, store, deidSecret: SECRET, maxDicomBytes: 64 * 1024 * 1024 })),
      workflowBundle: await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet }),
      maxConcurrentActivityTaskExecutions: 40,
    });
    const nih = readFileSync(CXR);
    const inputs: ScanLifecycleInput[] = [];
    const policy = policyWithDeadlines(DEFAULT_POLICIES['independent-3'], { taskDeadlineMs: DEADLINE_MS, reviewDeadlineMs: DEADLINE_MS });
    for (let i = 0; i < SCANS; i++) {
      const staged = await stageIncoming({ store, deidSecret: SECRET, maxDicomBytes: 64 * 1024 * 1024 }, DISTINCT_FILMS ? distinctPixels(radiographCopy(nih, i, '9'), i) : radiographCopy(nih, i, '9'));
      inputs.push({ scanId: staged.scanId, sourceKey: staged.sourceKey, split: 'train', policy, batchId: 'bench-e2e' });
    }
    const rfRunning = rfWorker.run();
    await cpu.begin();
    const rfStart = Date.now();
    let done = false;
    const answered = new Set<string>();
    const readers = (async () => {
      while (!done) {
        const open: { id: string; scan_id: string; reader_id: string; slot: number }[] = await ds.query(
          `SELECT id, scan_id, reader_id, slot FROM tasks WHERE status = 'open' AND role = 'reader'`,
        );
        await pool(open.filter((t) => !answered.has(t.id)), 32, async (t) => {
          answered.add(t.id);
          await client.workflow
            .getHandle(t.scan_id)
            .executeUpdate(submitReadingUpdate, { args: [{ taskId: t.id, readerId: t.reader_id, reading: slotReading(t.slot, ['Other diseases']) }] })
            .catch(() => answered.delete(t.id));
        });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await pool(inputs, CONCURRENCY, async (input) => {
      const h = await client.workflow.start('scanLifecycle', { taskQueue: 'bench-e2e-readflow', workflowId: input.scanId, args: [input] });
      await h.result();
    });
    const rfMs = Date.now() - rfStart;
    const rfCpu = await cpu.end();
    done = true;
    await readers;
    rfWorker.shutdown();
    await rfRunning;
    const rfEvents = await historyLengths(client, inputs.map((x) => x.scanId));

    // The floor: Temporal's irreducible part of the same protocol.
    const floorTimes = new ActivityTimes();
    const floorWorker = await Worker.create({
      connection: native,
      namespace: 'readflow',
      taskQueue: 'bench-e2e-floor',
      activities: floorTimes.wrap(floorActivities),
      workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('./floor/workflows'), logger: quiet }),
      maxConcurrentActivityTaskExecutions: 40,
    });
    const floorRunning = floorWorker.run();
    const floorIds = inputs.map((_, i) => `floor-${process.pid}-${i}`);
    await cpu.begin();
    const floorStart = Date.now();
    await pool(floorIds, CONCURRENCY, async (id) => {
      const h = await client.workflow.start('floorScan', { taskQueue: 'bench-e2e-floor', workflowId: id, args: [{ scanId: id, readers: READERS, deadlineMs: DEADLINE_MS }] });
      await Promise.all(Array.from({ length: READERS }, (_, slot) => h.executeUpdate(floorSubmitUpdate, { args: [slot] })));
      await h.result();
    });
    const floorMs = Date.now() - floorStart;
    const floorCpu = await cpu.end();
    floorWorker.shutdown();
    await floorRunning;
    const floorEvents = await historyLengths(client, floorIds);

    const rfRate = (SCANS * 1000) / rfMs;
    const floorRate = (SCANS * 1000) / floorMs;
    const out = [
      '',
      `bench:e2e — ${SCANS} scans each, independent-3 (3 instant readers), ${CONCURRENCY} scans in flight, one Temporal dev server; ${DISTINCT_FILMS ? 'distinct films (own pixels each)' : 'copies of one film (UIDs differ)'}`,
      `  ReadFlow lifecycle  ${(rfMs / 1000).toFixed(1)} s  ${rfRate.toFixed(2)} scans/s  history median ${median(rfEvents)} events/scan (max ${Math.max(...rfEvents)})`,
      `  floor workflow      ${(floorMs / 1000).toFixed(1)} s  ${floorRate.toFixed(2)} scans/s  history median ${median(floorEvents)} events/scan (max ${Math.max(...floorEvents)})`,
      `  ReadFlow history of one scan: ${mixLine(rfEvents.mix ?? new Map())}`,
      `  floor history of one scan:    ${mixLine(floorEvents.mix ?? new Map())}`,
      '  where the time goes (CPU of each phase; activities as the worker ran them; latencies from the histories):',
      cpuLine('ReadFlow', rfCpu, SCANS),
      cpuLine('floor   ', floorCpu, SCANS),
      '  ReadFlow activities:',
      ...rfTimes.lines(SCANS),
      '  ReadFlow histories:',
      ...rfEvents.times.lines(),
      '  floor histories:',
      ...floorEvents.times.lines(),
      `  load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (${os.cpus().length} cores)`,
      `  ratio               ReadFlow = ${((rfRate / floorRate) * 100).toFixed(1)} % of the floor's rate (goal ≥ 70 %); history ${(median(rfEvents) / median(floorEvents)).toFixed(2)}× the floor's (goal ≤ 1.5×)`,
      '',
    ];
    process.stdout.write(out.join('\n'));
  } finally {
    await native.close();
    await connection.close();
    await env.teardown();
    await ds.destroy();
    await dropDatabase(dbUrl);
    await fsp.rm(storeDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
