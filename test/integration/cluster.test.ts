/**
 * `npm run start:cluster` on this machine: the production Temporal server on Postgres (SQL visibility), the UI server,
 * 2 worker processes and 2 API processes behind the load balancer. A small campaign runs through the balancer while one
 * worker is SIGKILLed and one API process is killed: every scan is released exactly once, and both API processes
 * show every reader the same inbox. A second start migrates nothing; Ctrl-C leaves no process behind.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';

import { dropDatabase } from '../../src/db/data-source';
import { ensureServerBinaries } from '../../src/temporal/server-binaries';
import { ensureBuilt } from '../support/run-once';
import { testServices } from '../support/services';
import { dicomVariant, NIH_CXR } from '../support/workflow-harness';
import { loadToolchainConfig } from '../../src/config/toolchain';

const root = join(__dirname, '../..');

function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}

/** `n` consecutive free ports, below 32768 (Temporal keeps membership ports in a smallint column). */
async function freeRange(n: number): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    let ok = true;
    for (let p = base; p < base + n && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
}

interface Cluster {
  child: ChildProcess;
  output: () => string;
}

async function startCluster(env: NodeJS.ProcessEnv, timeoutMs = 420_000): Promise<Cluster> {
  const child = spawn(process.execPath, [join(root, 'dist/src/cli/start-cluster.js')], { env, detached: true, stdio: 'pipe' });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + timeoutMs;
  while (!out.includes('Press Ctrl-C to stop everything')) {
    if (child.exitCode !== null) throw new Error(`start:cluster exited early (${child.exitCode}):\n${out}`);
    if (Date.now() > deadline) {
      process.kill(-child.pid!, 'SIGINT');
      throw new Error(`start:cluster did not come up in time:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return { child, output: () => out };
}

async function ctrlC(c: Cluster): Promise<number | null> {
  const exited = new Promise<number | null>((res) => c.child.once('exit', (code) => res(code)));
  process.kill(-c.child.pid!, 'SIGINT');
  return exited;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every pid the cluster printed or logged (the supervisor logs the restarted ones). */
function pidsOf(out: string): number[] {
  const pids = new Set<number>();
  for (const m of out.matchAll(/pid (\d+)/g)) pids.add(Number(m[1]));
  for (const m of out.matchAll(/"childPid":(\d+)/g)) pids.add(Number(m[1]));
  return [...pids];
}

describe('npm run start:cluster: production-shaped Temporal, 2 workers, 2 APIs behind a balancer', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'readflow-cluster-'));
  const tag = `${Date.now().toString(36)}_${process.pid}`;
  const pgBase = new URL(process.env.READFLOW_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres');
  const dbUrl = (name: string): string => Object.assign(new URL(pgBase), { pathname: `/${name}` }).toString();
  const dbs = { app: `rf_cluster_${tag}`, temporal: `rf_cluster_${tag}_t`, visibility: `rf_cluster_${tag}_v` };
  let env: NodeJS.ProcessEnv;
  let lbPort: number;
  let apiPorts: number[];
  let clusters: Cluster[] = [];

  beforeAll(async () => {
    testServices(); // run through `npm test`
    await ensureBuilt(); // the cluster runs the compiled CLI, as `npm run start:cluster` does (it builds first)
    await ensureServerBinaries({ toolchain: loadToolchainConfig(process.env) });
    const ports = await freeRange(16);
    lbPort = ports;
    apiPorts = [ports + 1, ports + 2];
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: String(lbPort),
      READFLOW_API_BASE_PORT: String(apiPorts[0]),
      READFLOW_WORKERS: '2',
      READFLOW_APIS: '2',
      READFLOW_DATA_DIR: dataDir,
      DATABASE_URL: dbUrl(dbs.app),
      TEMPORAL_DB: dbs.temporal,
      TEMPORAL_VISIBILITY_DB: dbs.visibility,
      TEMPORAL_ADDRESS: `127.0.0.1:${ports + 3}`,
      TEMPORAL_UI_PORT: String(ports + 4),
      TEMPORAL_SERVER_PORT_BASE: String(ports + 5),
      READFLOW_ADMIN_TOKEN: 'admin-token-for-the-cluster-test',
      READFLOW_TASK_DEADLINE: '1h',
      READFLOW_REVIEW_DEADLINE: '1h',
    };
  }, 600_000);

  afterAll(async () => {
    for (const c of clusters) {
      for (const pid of pidsOf(c.output())) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    for (const name of Object.values(dbs)) await dropDatabase(dbUrl(name)).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('runs a campaign through worker and API deaths: every scan released once, the same inboxes through either API', async () => {
    const first = await startCluster(env);
    clusters.push(first);
    const out = first.output();
    expect(out).toMatch(/Migrating rf_cluster_\w+_t \(temporal\) from 0\.0 to 1\.\d+/);
    const lb = `http://127.0.0.1:${lbPort}`;
    const tokens = new Map<string, string>();
    for (const m of out.matchAll(/^\s+(rad\d\d|manager)\s+(rf_[A-Za-z0-9_-]+)$/gm)) tokens.set(m[1], m[2]);
    expect(tokens.size).toBe(18);
    const manager = tokens.get('manager')!;
    const workerPids = [...out.matchAll(/worker-\d pid (\d+)/g)].map((m) => Number(m[1]));
    const apiPids = [...out.matchAll(/api-\d :\d+ pid (\d+)/g)].map((m) => Number(m[1]));
    expect(workerPids).toHaveLength(2);
    expect(apiPids).toHaveLength(2);
    expect((await fetch(`http://127.0.0.1:${Number(env.TEMPORAL_UI_PORT)}/`)).status).toBe(200);

    /** Through the balancer, retrying what a dying backend cut (502/503), as a client would. */
    const call = async (path: string, token: string, init: RequestInit = {}, base = lb): Promise<Response> => {
      for (let attempt = 0; ; attempt++) {
        try {
          const r = await fetch(`${base}${path}`, { ...init, headers: { ...(init.headers ?? {}), authorization: `Bearer ${token}` } });
          if ((r.status === 502 || r.status === 503) && attempt < 30) {
            await new Promise((res) => setTimeout(res, 500));
            continue;
          }
          return r;
        } catch (err) {
          if (attempt >= 30) throw err;
          await new Promise((res) => setTimeout(res, 500));
        }
      }
    };

    // Six scans: four training (3 readers), two test (5 readers + 2 senior reviewers).
    const scanIds: string[] = [];
    for (let i = 0; i < 6; i++) {
      const form = new FormData();
      form.set('split', i < 4 ? 'train' : 'test');
      form.set('file', new Blob([dicomVariant(readFileSync(NIH_CXR), `9${tag.replace(/\D/g, '').slice(0, 6)}`, i)]), `scan-${i}.dcm`);
      const r = await call('/api/v1/scans', manager, { method: 'POST', body: form });
      expect(r.status).toBe(202);
      scanIds.push(((await r.json()) as { scanId: string }).scanId);
    }

    // Readers work their inboxes through the balancer; after the first submissions, a worker and an API die.
    let submissions = 0;
    let killed = false;
    const deadline = Date.now() + 480_000;
    const released = async (): Promise<number> => {
      let n = 0;
      for (const id of scanIds) {
        const r = await call(`/api/v1/scans/${id}`, manager);
        if (r.status === 200 && ((await r.json()) as { stage: string }).stage === 'released') n++;
      }
      return n;
    };
    while ((await released()) < scanIds.length) {
      expect(Date.now()).toBeLessThan(deadline);
      for (const [reader, token] of tokens) {
        if (reader === 'manager') continue;
        const inbox = await call('/api/v1/me/tasks?status=open', token);
        if (inbox.status !== 200) continue;
        for (const item of ((await inbox.json()) as { items: { taskId: string; role: string }[] }).items) {
          let body: unknown;
          if (item.role === 'reader') {
            const j = submissions % 3;
            body = { boxes: [{ label: 'Cardiomegaly', x_min: 300 + j * 6, y_min: 500, x_max: 700, y_max: 800 }], globalLabels: ['Pneumonia'] };
          } else {
            const detail = (await (await call(`/api/v1/tasks/${item.taskId}`, token)).json()) as {
              review: { proposal?: unknown; fused: { boxes: Record<string, unknown>[]; globalLabels: string[] } };
            };
            body = detail.review.proposal
              ? { decision: 'confirm' }
              : {
                  decision: 'submit',
                  globalLabels: detail.review.fused.globalLabels,
                  boxes: detail.review.fused.boxes.map(({ label, x_min, y_min, x_max, y_max }) => ({ label, x_min, y_min, x_max, y_max })),
                };
          }
          const r = await call(`/api/v1/tasks/${item.taskId}/submission`, token, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
          expect([200, 409]).toContain(r.status); // 409: already settled (e.g. a retried submission after a cut)
          if (r.status === 200) submissions++;
          if (!killed && submissions >= 4) {
            killed = true;
            process.kill(workerPids[0], 'SIGKILL');
            process.kill(apiPids[0], 'SIGKILL');
          }
        }
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(killed).toBe(true);

    // Exactly once: one release per scan in the audit trail and in scan_results, one reading per submitted task.
    const pg = new PgClient({ connectionString: env.DATABASE_URL });
    await pg.connect();
    try {
      const releases = await pg.query(`SELECT scan_id, count(*)::int AS n FROM audit_events WHERE action = 'stage:released' GROUP BY scan_id`);
      expect(releases.rows.map((r: { scan_id: string }) => r.scan_id).sort()).toEqual([...scanIds].sort());
      expect(releases.rows.every((r: { n: number }) => r.n === 1)).toBe(true);
      const results = await pg.query(`SELECT count(*)::int AS n FROM scan_results WHERE scan_id = ANY($1)`, [scanIds]);
      expect(results.rows[0].n).toBe(scanIds.length);
      const dupReadings = await pg.query(`SELECT task_id FROM readings GROUP BY task_id HAVING count(*) > 1`);
      expect(dupReadings.rows).toEqual([]);
      // The Temporal database is the server's own, on Postgres.
      const t = await pg.query(`SELECT 1 FROM pg_database WHERE datname = ANY($1)`, [[dbs.temporal, dbs.visibility]]);
      expect(t.rowCount).toBe(2);
    } finally {
      await pg.end();
    }
    // Both processes were replaced by the supervisor.
    expect(first.output()).toMatch(/Process restarted/);

    // Inboxes are the same through either API process (they share nothing but Postgres, Temporal and storage).
    for (const [reader, token] of tokens) {
      if (reader === 'manager') continue;
      const views = await Promise.all(
        apiPorts.map(async (p) => {
          const r = await call('/api/v1/me/tasks?status=submitted&limit=100', token, {}, `http://127.0.0.1:${p}`);
          expect(r.status).toBe(200);
          return ((await r.json()) as { items: { taskId: string }[] }).items.map((i) => i.taskId).sort();
        }),
      );
      expect(views[0]).toEqual(views[1]);
    }
    // SQL visibility on Postgres answers ReadFlow's search attributes (eventually consistent).
    const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
    try {
      const client = new Client({ connection, namespace: 'readflow' });
      let count = 0;
      for (let i = 0; i < 60 && count !== scanIds.length; i++) {
        count = (await client.workflow.count(`Stage = "released" AND ScanId IN (${scanIds.map((id) => `"${id}"`).join(', ')})`)).count;
        if (count !== scanIds.length) await new Promise((res) => setTimeout(res, 500));
      }
      expect(count).toBe(scanIds.length);
    } finally {
      await connection.close();
    }

    const all = pidsOf(first.output());
    expect(await ctrlC(first)).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(all.filter(alive)).toEqual([]);

    // A second start reuses the databases: nothing to migrate; Ctrl-C again stops everything.
    const second = await startCluster(env);
    clusters.push(second);
    expect(second.output()).toMatch(new RegExp(`Temporal database ${dbs.temporal} is up to date`));
    expect(second.output()).toMatch(new RegExp(`Temporal database ${dbs.visibility} is up to date`));
    expect(second.output()).not.toMatch(/Migrating rf_cluster/);
    const again = pidsOf(second.output());
    expect(await ctrlC(second)).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(again.filter(alive)).toEqual([]);
    clusters = [];
  }, 1_500_000);
});
