/**
 * Helpers for the workflow integration tests: roster seeding, DICOM variants (distinct SOP Instance UIDs from
 * the real chest radiographs), a worker on the real dev server, simulated readers, and polling helpers.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { Client, WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { DataSource } from 'typeorm';

import { createActivities } from '../../src/activities';
import { stageIncoming } from '../../src/ingest/stage-incoming';
import { DEFAULT_ROSTER, seedRoster } from '../../src/db/seed';
import type { Reading, ReadingPolicy } from '../../src/domain';
import { LocalBlobStore } from '../../src/storage/blob-store';
import { createReadflowWorker } from '../../src/temporal/worker';
import type { ScanLifecycleInput, ScanLifecycleResult, ScanSplit, ScanStatus, TaskView } from '../../src/workflows/scan-lifecycle.messages';
import { reviewContextQuery, statusQuery, submitReadingUpdate } from '../../src/workflows/scan-lifecycle.messages';
import { scanStartMetadata } from '../../src/workflows/scan-ui.messages';
import { sharedWorkflowBundle } from './run-once';
import { connectTemporal, openTestDataSource, testConfig, testDataConverter, testServices } from './services';
import type { ChildWorkerConfig } from './worker-child-main';

export const DEID_SECRET = 'test-secret-test-secret-test-secret-0123456789';
/** Real chest radiographs checked in with their sources (test/fixtures/dicom/SOURCES.tsv). */
export const CXR_DIR = path.resolve(__dirname, '../fixtures/dicom/cxr');
/** NIH ChestX-ray14 frontal DX (implicit VR little endian, 1024×1024). */
export const NIH_CXR = path.join(CXR_DIR, 'dicom_00000001_000.dcm');

/**
 * Makes sure the 17 radiologists (rad01…rad17, rad01–03 senior) and the manager exist. Uses `seedRoster`
 * (which seeds an empty table with tokens) and then adds any missing default reader, since other test files
 * of the same run may have created readers first.
 */
export async function seedTestRoster(ds: DataSource): Promise<void> {
  await seedRoster(ds, { seed: true });
  for (const r of DEFAULT_ROSTER) {
    await ds.query(
      `INSERT INTO readers (id, display_name, role, senior, active, open_task_cap) VALUES ($1, $2, $3, $4, true, 50)
       ON CONFLICT (id) DO NOTHING`,
      [r.id, r.displayName, r.role, r.senior],
    );
  }
}

/** The workflows, bundled once per run (test/support/run-once.ts); pass the result to every worker. */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return sharedWorkflowBundle();
}

/** A unique numeric tag for this test file's scans (digits only, no leading zero). */
export function uniqueTag(): string {
  return `9${BigInt(`0x${randomBytes(6).toString('hex')}`).toString().padStart(15, '0')}`;
}

/**
 * A copy of a real DICOM file with another SOP Instance UID (same length, both in the file meta and the data
 * set), so that each copy is a distinct source scan. `n` and `tag` make the UID unique.
 */
export function dicomVariant(bytes: Buffer, tag: string, n: number): Buffer {
  const text = bytes.toString('latin1');
  const m = /1\.3\.6\.1\.4\.1\.11129\.5\.5\.(\d{30,})/.exec(text);
  if (!m) throw new Error('no SOP Instance UID found to vary');
  const uid = m[0];
  const lastLen = m[1].length;
  const suffix = `${tag}${String(n).padStart(8, '0')}`;
  const replacement = uid.slice(0, uid.length - lastLen) + suffix.padEnd(lastLen, '1').slice(0, lastLen);
  return Buffer.from(text.split(uid).join(replacement), 'latin1');
}

/** Everything a test needs to run scans on the real services. */
export interface ScanRig {
  client: Client;
  taskQueue: string;
  storeDir: string;
  store: LocalBlobStore;
  /** Stages a DICOM buffer (like the API upload does) and returns the scan workflow input. */
  stage(bytes: Buffer, opts: { split?: ScanSplit; policy: ReadingPolicy; filename?: string; batchId?: string }): Promise<ScanLifecycleInput>;
}

export async function createScanRig(client: Client): Promise<ScanRig> {
  const config = testConfig();
  const storeDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'readflow-wf-'));
  const store = new LocalBlobStore(storeDir);
  return {
    client,
    taskQueue: config.temporal.taskQueue,
    storeDir,
    store,
    async stage(bytes, opts) {
      const staged = await stageIncoming({ store, deidSecret: DEID_SECRET, maxDicomBytes: 64 * 1024 * 1024 }, bytes, opts.filename);
      const input: ScanLifecycleInput = {
        scanId: staged.scanId,
        sourceKey: staged.sourceKey,
        split: opts.split ?? 'train',
        policy: opts.policy,
        startedBy: 'test',
      };
      if (opts.filename) input.filename = opts.filename;
      if (opts.batchId) input.batchId = opts.batchId;
      return input;
    },
  };
}

/**
 * The real activities (ingest + scan projection + batch) over the test database and a temp store. Batches may read
 * only files under `opts.importDir` (READFLOW_IMPORT_DIR; unset: every batch path is refused).
 */
export function realActivities(ds: DataSource, store: LocalBlobStore, opts: { importDir?: string } = {}): object {
  return createActivities({ dataSource: ds, store, deidSecret: DEID_SECRET, maxDicomBytes: 64 * 1024 * 1024, importDir: opts.importDir });
}

/**
 * The same activities, but a scan on a worker with these activities is only ever given the readers `keep` accepts
 * (`loadRoster` sees only them; `reserveReaders` excludes every other reader): such a scan can run out of eligible
 * readers without touching the shared roster other test files use.
 */
export function withRosterFilter(activities: object, keep: (readerId: string) => boolean): object {
  const a = activities as {
    loadRoster: () => Promise<{ readerId: string }[]>;
    reserveReaders: (input: { excludedReaderIds: string[] }) => Promise<unknown>;
  };
  return {
    ...activities,
    async loadRoster() {
      return (await a.loadRoster()).filter((e) => keep(e.readerId));
    },
    async reserveReaders(input: { excludedReaderIds: string[] }) {
      const others = (await a.loadRoster()).map((e) => e.readerId).filter((id) => !keep(id));
      return a.reserveReaders({ ...input, excludedReaderIds: [...new Set([...input.excludedReaderIds, ...others])] });
    },
  };
}

export async function startWorker(opts: {
  /** The task queue to poll (a scan rig's, or any). */
  rig: Pick<ScanRig, 'taskQueue'>;
  nativeConnection: Parameters<typeof createReadflowWorker>[0]['connection'];
  namespace: string;
  activities: object;
  workflowBundle: WorkflowBundleWithSourceMap;
}): Promise<{ stop: () => Promise<void> }> {
  const worker = await createReadflowWorker({
    connection: opts.nativeConnection,
    namespace: opts.namespace,
    taskQueue: opts.rig.taskQueue,
    activities: opts.activities,
    workflowBundle: opts.workflowBundle,
    dataConverter: testDataConverter(),
  });
  const running = worker.run();
  return {
    stop: async () => {
      worker.shutdown();
      await running;
    },
  };
}

/** The Temporal connections of a test file (`connectTemporal`). */
export type TestTemporal = Awaited<ReturnType<typeof connectTemporal>>;

/**
 * One workflow test file's services: the run's database (roster seeded) and Temporal dev server, the bundled workflows,
 * and a scan rig (its own task queue and store) with a worker running on it. Start it in `beforeAll`, close it in
 * `afterAll`; `addQueue` gives more task queues with workers of their own (e.g. a worker that sees part of the roster).
 */
export interface WorkflowRig extends ScanRig {
  ds: DataSource;
  temporal: TestTemporal;
  bundle: WorkflowBundleWithSourceMap;
  /** Another task queue and store on the same services, with a worker running `activities(ds, store)`. */
  addQueue(activities: (ds: DataSource, store: LocalBlobStore) => object): Promise<ScanRig>;
  /** Stops the workers, closes the connections and deletes the stores. */
  close(): Promise<void>;
}

export interface WorkflowRigOptions {
  /**
   * The activities of the rig's own worker, over its store (default: `realActivities`); `false`: no worker (the test
   * runs its own, e.g. in a child process).
   */
  activities?: ((ds: DataSource, store: LocalBlobStore) => object) | false;
}

export async function startWorkflowRig(opts: WorkflowRigOptions = {}): Promise<WorkflowRig> {
  const stops: (() => Promise<void>)[] = [];
  const dirs: string[] = [];
  let ds: DataSource | undefined;
  let temporal: TestTemporal | undefined;
  const close = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) await stop();
    if (ds?.isInitialized) await ds.destroy();
    await temporal?.close();
    for (const dir of dirs.splice(0)) await fsp.rm(dir, { recursive: true, force: true });
  };
  try {
    ds = await openTestDataSource();
    temporal = await connectTemporal();
    await seedTestRoster(ds);
    const bundle = await bundleWorkflows();
    const [db, t] = [ds, temporal];
    const addQueue = async (activities: ((ds: DataSource, store: LocalBlobStore) => object) | false): Promise<ScanRig> => {
      const rig = await createScanRig(t.client);
      dirs.push(rig.storeDir);
      if (activities) {
        const worker = await startWorker({
          rig,
          nativeConnection: t.nativeConnection,
          namespace: testServices().namespace,
          activities: activities(db, rig.store),
          workflowBundle: bundle,
        });
        stops.push(worker.stop);
      }
      return rig;
    };
    const main = await addQueue(opts.activities ?? ((d, store) => realActivities(d, store)));
    return { ...main, ds, temporal, bundle, addQueue, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Starts a scan the way the API does: id = scanId, USE_EXISTING while running, REJECT_DUPLICATE once closed. */
export async function startScan(
  client: Client,
  taskQueue: string,
  input: ScanLifecycleInput,
): Promise<WorkflowHandleWithFirstExecutionRunId> {
  return client.workflow.start('scanLifecycle', {
    taskQueue,
    workflowId: input.scanId,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    ...scanStartMetadata(input),
  });
}

/**
 * The simulated reading of a slot: readers draw Cardiomegaly with a small per-slot jitter (fused by WBF),
 * slot 2 also draws a nodule nobody else sees (dropped by the quorum), and slots 0/1 report Pneumonia.
 */
export function simulatedReading(slot: number): Reading {
  const j = slot * 6;
  const boxes = [{ label: 'Cardiomegaly', x_min: 300 + j, y_min: 500 + j, x_max: 700 + j, y_max: 800 - j }];
  if (slot === 2) boxes.push({ label: 'Nodule/Mass', x_min: 100, y_min: 100, x_max: 140, y_max: 150 });
  return { boxes, globalLabels: slot < 2 ? ['Pneumonia'] : ['Other diseases'] };
}

export async function status(handle: WorkflowHandle): Promise<ScanStatus> {
  return handle.query(statusQuery);
}

/** Polls `status` until `pred` holds (or throws after `timeoutMs`). */
export async function waitForStatus(handle: WorkflowHandle, pred: (s: ScanStatus) => boolean, timeoutMs = 60_000): Promise<ScanStatus> {
  const until = Date.now() + timeoutMs;
  let last: ScanStatus | undefined;
  for (;;) {
    try {
      last = await status(handle);
      if (pred(last)) return last;
    } catch (err) {
      // The first workflow task may not have run yet.
      if (Date.now() > until) throw err;
    }
    if (Date.now() > until) throw new Error(`timed out waiting; last status: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

export const openTasks = (s: ScanStatus, role: 'reader' | 'reviewer' = 'reader'): TaskView[] =>
  s.tasks.filter((t) => t.status === 'open' && t.role === role);

/** Submits the simulated reading for every open reader task of the scan. */
export async function submitAllOpenReadings(handle: WorkflowHandle, s: ScanStatus): Promise<void> {
  for (const t of openTasks(s)) {
    await handle.executeUpdate(submitReadingUpdate, {
      args: [{ taskId: t.taskId, readerId: t.readerId, reading: simulatedReading(t.slot) }],
    });
  }
}

/** Answers every open task of the scan once, like its readers and reviewers would (reviewers accept the fused proposal). */
export async function answerOpenTasks(handle: WorkflowHandle, s: ScanStatus): Promise<void> {
  await submitAllOpenReadings(handle, s);
  for (const t of openTasks(s, 'reviewer')) {
    if (t.slot === 0) {
      const ctx = await handle.query(reviewContextQuery, t.taskId);
      const reading: Reading = {
        boxes: ctx.fused.boxes.map(({ label, x_min, y_min, x_max, y_max }) => ({ label, x_min, y_min, x_max, y_max })),
        globalLabels: ctx.fused.globalLabels,
      };
      await handle.executeUpdate(submitReadingUpdate, { args: [{ taskId: t.taskId, readerId: t.readerId, reading, decision: 'submit' }] });
    } else {
      await handle.executeUpdate(submitReadingUpdate, { args: [{ taskId: t.taskId, readerId: t.readerId, decision: 'confirm' }] });
    }
  }
}

/** Drives a scan to release like its readers (and reviewers) would, from wherever it stands. */
export async function readScanToRelease(handle: WorkflowHandle, timeoutMs = 60_000): Promise<ScanLifecycleResult> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await waitForStatus(
      handle,
      (x) => x.stage === 'released' || ((x.stage === 'reading' || x.stage === 'reviewing') && x.tasks.some((t) => t.status === 'open')),
      Math.max(1000, until - Date.now()),
    );
    if (s.stage === 'released') break;
    await answerOpenTasks(handle, s);
  }
  return handle.result();
}

/** The `ApplicationFailure` behind a rejected update (validator or handler). */
export async function updateFailure(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    const cause = err instanceof WorkflowUpdateFailedError ? err.cause : err;
    if (cause instanceof ApplicationFailure) return cause;
    throw err;
  }
  throw new Error('expected the update to be rejected');
}

export function readFixture(file: string): Buffer {
  return readFileSync(file);
}

/** A worker in a child process (crash-recovery test): kill it with SIGKILL, start another. */
export interface ChildWorker {
  pid: number;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function writeBundle(bundle: WorkflowBundleWithSourceMap, dir: string): Promise<string> {
  const file = path.join(dir, 'workflow-bundle.js');
  await fsp.writeFile(file, bundle.code);
  return file;
}

export async function spawnChildWorker(cfg: ChildWorkerConfig): Promise<ChildWorker> {
  const child = spawn(process.execPath, [path.join(__dirname, 'worker-child.js')], {
    env: { ...process.env, READFLOW_CHILD_WORKER: JSON.stringify(cfg) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child worker not ready after 60 s: ${stderr}`)), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child worker exited (${code}) before ready: ${stderr}`));
    });
  });
  return {
    pid: child.pid!,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
