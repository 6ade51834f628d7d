import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { INestApplication } from '@nestjs/common';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import pino from 'pino';
import request from 'supertest';
import type { DataSource } from 'typeorm';

import { createActivities } from '../../src/activities';

import type { ApiDeps } from '../../src/api/bootstrap';
import { createApiApp } from '../../src/api/bootstrap';
import type { Config } from '../../src/config/config';
import type { ReaderRole } from '../../src/db/entities';
import { acceptanceWithViews } from '../../src/dicom';
import { hashToken, newToken } from '../../src/db/tokens';
import { DEFAULT_ROSTER } from '../../src/db/seed';
import { LocalBlobStore } from '../../src/storage/blob-store';
import { createReadflowWorker } from '../../src/temporal/worker';
import { dropDatabase, openDatabase } from '../../src/db/data-source';
import { sharedWorkflowBundle } from './run-once';
import { connectTemporal, ensureTestDatabase, openTestDataSource, testConfig, testDataConverter, testServices } from './services';

/** NIH ChestX-ray14 frontal DX, implicit VR little endian, 1024×1024 (test/fixtures/dicom/SOURCES.tsv). */
export const NIH_CXR = path.resolve(__dirname, '../fixtures/dicom/cxr/dicom_00000001_000.dcm');

/**
 * A copy of a real DICOM file with another SOP Instance UID of the same length (file meta and data set), so each
 * copy is a distinct source scan (the run's database and Temporal namespace are shared by every test file).
 */
export function dicomVariant(bytes: Buffer): Buffer {
  const text = bytes.toString('latin1');
  const m = /1\.3\.6\.1\.4\.1\.11129\.5\.5\.(\d{30,})/.exec(text);
  if (!m) throw new Error('no SOP Instance UID found to vary');
  const digits = BigInt(`0x${randomBytes(16).toString('hex')}`).toString().padStart(m[1].length, '7');
  const replacement = m[0].slice(0, m[0].length - m[1].length) + `8${digits}`.slice(0, m[1].length);
  return Buffer.from(text.split(m[0]).join(replacement), 'latin1');
}

/** A fresh variant of the NIH chest film. */
export function freshCxr(): Buffer {
  return dicomVariant(readFileSync(NIH_CXR));
}

/** Polls `fn` until it returns a value (not undefined), or throws after `timeoutMs`. */
export async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 60_000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** The workflows bundled once per run (test/support/run-once.ts), loaded once per test file. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= sharedWorkflowBundle();
  return bundle;
}

/** Makes sure the default roster (rad01…rad17, rad01–03 senior) exists and is active, as the workflow tests do. */
export async function ensureDefaultRoster(ds: DataSource): Promise<void> {
  for (const r of DEFAULT_ROSTER) {
    if (r.role !== 'radiologist') continue;
    await ds.query(
      `INSERT INTO readers (id, display_name, role, senior, active, open_task_cap) VALUES ($1, $2, $3, $4, true, 50)
       ON CONFLICT (id) DO NOTHING`,
      [r.id, r.displayName, r.role, r.senior],
    );
  }
}

export interface ApiHarness {
  app: INestApplication;
  /** The Node http.Server for supertest. */
  server: ReturnType<INestApplication['getHttpServer']>;
  config: Config;
  ds: DataSource;
  temporal: Awaited<ReturnType<typeof connectTemporal>>;
  store: LocalBlobStore;
  storageDir: string;
  /** The worker's import directory (READFLOW_IMPORT_DIR): a batch may read only files under it. */
  importDir: string;
  /** A unique prefix for ids created by this harness (the database is shared by the run's test files). */
  prefix: string;
  /** Creates a reader directly in the database and returns a token for it. */
  addReader(id: string, role: ReaderRole, opts?: { senior?: boolean; active?: boolean; openTaskCap?: number }): Promise<string>;
  /** Issues an extra token for an existing reader (e.g. one a workflow assigned), bypassing the API. */
  tokenFor(readerId: string): Promise<string>;
  /** supertest on the app. */
  http(): ReturnType<typeof request>;
  /** `{ Authorization: 'Bearer …' }` */
  bearer(token: string): { Authorization: string };
  close(): Promise<void>;
}

export interface ApiHarnessOptions {
  /** Config overrides (environment variable names). */
  env?: Record<string, string>;
  deps?: Partial<ApiDeps>;
  /** Also run a real ReadFlow worker (real activities, bundled workflows) on the app's task queue. */
  worker?: boolean;
  /**
   * A database of the harness's own (created and migrated, dropped by `close`) instead of the run's shared one: for
   * tests that assert exact totals (other test files write the shared database at the same time).
   */
  ownDatabase?: boolean;
}

/** A task as `GET /scans/{id}` lists it. */
export interface ScanTask {
  taskId: string;
  readerId: string;
  role: string;
  slot: number;
  round: number;
  status: string;
  dueAt: string;
}

/**
 * What the end-to-end API tests start from: the app with a real worker (`worker: true`), the default roster of
 * radiologists, and a manager of this harness with a token.
 */
export async function startReadingApp(opts: Omit<ApiHarnessOptions, 'worker'> = {}): Promise<{ h: ApiHarness; manager: string }> {
  const h = await startApiHarness({ ...opts, worker: true });
  try {
    await ensureDefaultRoster(h.ds);
    return { h, manager: await h.addReader(`${h.prefix}-mgr`, 'manager') };
  } catch (e) {
    await h.close();
    throw e;
  }
}

/** A fresh migrated database on the run's Postgres server; `drop` removes it. */
export async function scratchDatabase(): Promise<{ url: string; ds: DataSource; drop: () => Promise<void> }> {
  const url = new URL(testServices().databaseUrl);
  url.pathname = `${url.pathname}_${randomBytes(4).toString('hex')}`;
  await ensureTestDatabase(url.toString());
  const ds = await openDatabase(url.toString(), { poolSize: 4 });
  return {
    url: url.toString(),
    ds,
    drop: async () => {
      if (ds.isInitialized) await ds.destroy();
      await dropDatabase(url.toString());
    },
  };
}

/** A real API app (createApiApp) on the run's Postgres and Temporal dev server, with a temp blob store. */
export async function startApiHarness(opts: ApiHarnessOptions = {}): Promise<ApiHarness> {
  const importDir = opts.env?.READFLOW_IMPORT_DIR ?? mkdtempSync(path.join(tmpdir(), 'readflow-import-'));
  const own = opts.ownDatabase ? await scratchDatabase() : undefined;
  const config = testConfig({
    READFLOW_RATE_LIMIT_PER_MINUTE: '100000',
    READFLOW_IMPORT_DIR: importDir,
    ...(own ? { DATABASE_URL: own.url } : {}),
    ...opts.env,
  });
  const ds = own ? own.ds : await openTestDataSource();
  const temporal = await connectTemporal();
  const storageDir = mkdtempSync(path.join(tmpdir(), 'readflow-api-'));
  const store = new LocalBlobStore(storageDir);
  // Releases live beside the store's areas, as STORAGE_DIR would put them (the worker's default too).
  const appConfig: Config = { ...config, storageDir, releases: { ...config.releases, dir: path.join(storageDir, 'releases') } };
  const logger = pino({ level: process.env.READFLOW_TEST_LOG_LEVEL ?? 'silent' });
  const app = await createApiApp({
    config: appConfig,
    dataSource: ds,
    temporalClient: temporal.client,
    store,
    logger,
    ...opts.deps,
  });
  const prefix = `t${randomUUID().slice(0, 6)}`;
  let stopWorker: (() => Promise<void>) | undefined;
  if (opts.worker) {
    const worker = await createReadflowWorker({
      connection: temporal.nativeConnection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      activities: createActivities({
        dataSource: ds,
        store,
        deidSecret: config.deidSecret,
        maxDicomBytes: config.maxDicomBytes,
        importDir: config.importDir,
        acceptance: acceptanceWithViews(config.acceptance.viewPositions, config.acceptance.maxImagePixels),
        taxonomy: config.taxonomy,
        logger,
      }),
      workflowBundle: await workflowBundle(),
      dataConverter: testDataConverter(),
    });
    const running = worker.run();
    stopWorker = async () => {
      worker.shutdown();
      await running;
    };
  }

  const tokenFor = async (readerId: string): Promise<string> => {
    const token = newToken();
    await ds.query(`INSERT INTO api_tokens (reader_id, token_hash) VALUES ($1, $2)`, [readerId, hashToken(token)]);
    return token;
  };

  return {
    app,
    server: app.getHttpServer(),
    config: appConfig,
    ds,
    temporal,
    store,
    storageDir,
    importDir,
    prefix,
    async addReader(id, role, o = {}) {
      await ds.query(
        `INSERT INTO readers (id, display_name, role, senior, active, open_task_cap) VALUES ($1, $2, $3, $4, $5, $6)`,
        [id, `Test ${id}`, role, o.senior ?? false, o.active ?? true, o.openTaskCap ?? 50],
      );
      return tokenFor(id);
    },
    tokenFor,
    bearer: (token) => ({ Authorization: `Bearer ${token}` }),
    http: () => request(app.getHttpServer()),
    async close() {
      await stopWorker?.();
      await app.close();
      if (own) await own.drop();
      else await ds.destroy();
      await temporal.close();
      rmSync(storageDir, { recursive: true, force: true });
      if (!opts.env?.READFLOW_IMPORT_DIR) rmSync(importDir, { recursive: true, force: true });
    },
  };
}
