/**
 * Lifecycle run: N simulated scans (default 200; the three policies mixed) through a real Temporal dev server
 * and a real Postgres, with the real ingest activities on a real chest radiograph (one distinct SOP Instance
 * UID per scan), short deadlines, one radiologist who never answers (rad17: his tasks expire and are
 * reassigned), and every 25th scan deliberately escalated (its first reader never answers and the policy
 * allows no reassignment → needs-attention). Simulated readers work from the Postgres inbox projection (the
 * `tasks` table, as the API does) and submit through the `submitReading` update.
 *
 * Prints wall time, scans/s, and the history length per scan (events, fetched through the client) per policy.
 *
 * Run: `npm run build && node dist/bench/lifecycle.js [scans]`. Needs Postgres: DATABASE_URL, else
 * postgres://postgres@127.0.0.1:5432; starts its own Temporal dev server (the `temporal` CLI, as the tests do).
 */
import 'reflect-metadata';

import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';

import { createActivities } from '../src/activities';
import { stageIncoming } from '../src/ingest/stage-incoming';
import { dropDatabase, openDatabase } from '../src/db/data-source';
import { seedRoster } from '../src/db/seed';
import type { PolicyName } from '../src/domain';
import { DEFAULT_POLICIES, policyWithDeadlines } from '../src/domain';
import { LocalBlobStore } from '../src/storage/blob-store';
import { loadToolchainConfig } from '../src/config/toolchain';
import { ensureTemporalCli } from '../src/temporal/temporal-cli';
import { createReadflowWorker, WORKFLOWS_PATH } from '../src/temporal/worker';
import type { ScanLifecycleInput } from '../src/workflows/scan-lifecycle.messages';
import { SEARCH_ATTRIBUTES } from '../src/workflows/search-attributes';
import { answerTask, pool, radiographCopy, slotReading } from './support';

const SCANS = Number(process.argv[2] ?? 200);
const POLICIES: PolicyName[] = ['independent-3', 'consensus-5', 'independent-5'];
const ABSENT = 'rad17';
/** Reading and review deadline: short enough to exercise reassignment, long enough for a loaded 2-core box. */
const DEADLINE_MS = 30_000;
const SECRET = 'bench-secret-bench-secret-bench-secret-0123';
const CXR = path.resolve(process.cwd(), 'test/fixtures/dicom/cxr/dicom_00000001_000.dcm');

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return `n=${s.length} min=${s[0]} median=${q(0.5)} p95=${q(0.95)} max=${s[s.length - 1]}`;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const cli = await ensureTemporalCli(loadToolchainConfig(process.env));
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: cli }, namespace: 'readflow', ip: '127.0.0.1', searchAttributes: [...SEARCH_ATTRIBUTES] },
  });
  const base = new URL(process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres');
  base.pathname = `/readflow_bench_lifecycle_${process.pid}`;
  const dbUrl = base.toString();
  const ds = await openDatabase(dbUrl, { poolSize: 16 });
  const storeDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'readflow-bench-'));
  const store = new LocalBlobStore(storeDir);
  const connection = await Connection.connect({ address: env.address });
  const client = new Client({ connection, namespace: 'readflow' });
  const native = await NativeConnection.connect({ address: env.address });
  try {
    await seedRoster(ds, { seed: true });
    const taskQueue = 'bench-lifecycle';
    const worker = await createReadflowWorker({
      connection: native,
      namespace: 'readflow',
      taskQueue,
      activities: createActivities({ dataSource: ds, store, deidSecret: SECRET, maxDicomBytes: 64 * 1024 * 1024 }),
      workflowBundle: await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('ERROR') }),
      maxConcurrentActivityTaskExecutions: 40,
    });
    const running = worker.run();

    const nih = readFileSync(CXR);
    const inputs: ScanLifecycleInput[] = [];
    const escalate = new Set<string>();
    for (let i = 0; i < SCANS; i++) {
      const name = POLICIES[i % POLICIES.length];
      let policy = policyWithDeadlines(DEFAULT_POLICIES[name], { taskDeadlineMs: DEADLINE_MS, reviewDeadlineMs: DEADLINE_MS });
      const staged = await stageIncoming({ store, deidSecret: SECRET, maxDicomBytes: 64 * 1024 * 1024 }, radiographCopy(nih, i, '7'));
      if (i % 25 === 0) {
        policy = { ...policy, maxReassignmentsPerTask: 0 };
        escalate.add(staged.scanId);
      }
      inputs.push({ scanId: staged.scanId, sourceKey: staged.sourceKey, split: name === 'consensus-5' ? 'test' : 'train', policy, batchId: 'bench' });
    }

    const started = Date.now();
    await pool(inputs, 20, async (input) => {
      await client.workflow.start('scanLifecycle', {
        taskQueue,
        workflowId: input.scanId,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    });

    // Simulated readers: poll the inbox projection, answer what is open (except the absent reader, and the
    // first reader of a scan meant to escalate).
    const answered = new Set<string>();
    let done = false;
    const readers = (async () => {
      while (!done) {
        const open: { id: string; scan_id: string; reader_id: string; role: string; slot: number }[] = await ds.query(
          `SELECT id, scan_id, reader_id, role, slot FROM tasks WHERE status = 'open' AND scan_id = ANY($1) ORDER BY assigned_at`,
          [inputs.map((x) => x.scanId)],
        );
        const todo = open.filter((t) => !answered.has(t.id) && t.reader_id !== ABSENT && !(escalate.has(t.scan_id) && t.role === 'reader' && t.slot === 0));
        await pool(todo, 16, async (t) => {
          answered.add(t.id);
          try {
            await answerTask(client, t, slotReading(t.slot, t.slot < 2 ? ['Pneumonia'] : ['Other diseases']));
          } catch {
            answered.delete(t.id); // e.g. expired meanwhile; the replacement task is picked up next round
          }
        });
        await new Promise((r) => setTimeout(r, 250));
      }
    })();

    let last = '';
    for (;;) {
      const rows: { stage: string; n: number }[] = await ds.query(`SELECT stage, count(*)::int AS n FROM scans WHERE batch_id = 'bench' GROUP BY stage ORDER BY stage`);
      const by = Object.fromEntries(rows.map((r) => [r.stage, r.n]));
      const line = rows.map((r) => `${r.stage}=${r.n}`).join(' ');
      if (line !== last) process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${line}\n`);
      last = line;
      if ((by.released ?? 0) + (by['needs-attention'] ?? 0) === SCANS && (by['needs-attention'] ?? 0) === escalate.size) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const wallMs = Date.now() - started;
    done = true;
    await readers;

    const [{ expired }] = await ds.query(`SELECT count(*)::int AS expired FROM tasks WHERE status = 'expired' AND scan_id = ANY($1)`, [inputs.map((x) => x.scanId)]);
    const lengths: Record<string, number[]> = {};
    await pool(inputs, 10, async (input) => {
      const history = await client.workflow.getHandle(input.scanId).fetchHistory();
      const key = escalate.has(input.scanId) ? `${input.policy.name} (escalated, still open)` : input.policy.name;
      (lengths[key] ??= []).push(history.events?.length ?? 0);
    });
    process.stdout.write(`\n${SCANS} scans (${POLICIES.join(', ')} mixed): ${SCANS - escalate.size} released, ${escalate.size} deliberately escalated\n`);
    process.stdout.write(`wall time ${(wallMs / 1000).toFixed(1)} s, ${((SCANS * 1000) / wallMs).toFixed(2)} scans/s; ${expired} tasks expired and reassigned (absent ${ABSENT}, deadline ${DEADLINE_MS} ms)\n`);
    process.stdout.write('history length per scan (events):\n');
    for (const [k, v] of Object.entries(lengths).sort()) process.stdout.write(`  ${k}: ${stats(v)}\n`);

    // Leave no scan running: cancel the escalated ones.
    for (const id of escalate) await client.workflow.getHandle(id).executeUpdate('cancelScan', { args: [{ by: 'bench', reason: 'end of run' }] });
    worker.shutdown();
    await running;
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
