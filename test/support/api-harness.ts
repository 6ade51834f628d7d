import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { INestApplication } from '@nestjs/common';
import pino from 'pino';
import type { DataSource } from 'typeorm';

import type { ApiDeps } from '../../src/api/bootstrap';
import { createApiApp } from '../../src/api/bootstrap';
import type { Config } from '../../src/config/config';
import type { ReaderRole } from '../../src/db/entities';
import { hashToken, newToken } from '../../src/db/tokens';
import { LocalBlobStore } from '../../src/storage/blob-store';
import { connectTemporal, openTestDataSource, testConfig } from './services';

export interface ApiHarness {
  app: INestApplication;
  /** The Node http.Server for supertest. */
  server: ReturnType<INestApplication['getHttpServer']>;
  config: Config;
  ds: DataSource;
  temporal: Awaited<ReturnType<typeof connectTemporal>>;
  store: LocalBlobStore;
  storageDir: string;
  /** A unique prefix for ids created by this harness (the database is shared by the run's test files). */
  prefix: string;
  /** Creates a reader directly in the database and returns a token for it. */
  addReader(id: string, role: ReaderRole, opts?: { senior?: boolean; active?: boolean; openTaskCap?: number }): Promise<string>;
  /** Issues an extra token for an existing reader (e.g. one a workflow assigned), bypassing the API. */
  tokenFor(readerId: string): Promise<string>;
  /** `{ Authorization: 'Bearer …' }` */
  bearer(token: string): { Authorization: string };
  close(): Promise<void>;
}

export interface ApiHarnessOptions {
  /** Config overrides (environment variable names). */
  env?: Record<string, string>;
  /** Builds extra things (e.g. a worker) once the deps exist; its result's `close` runs before the app closes. */
  deps?: Partial<ApiDeps>;
}

/** A real API app (createApiApp) on the run's Postgres and Temporal dev server, with a temp blob store. */
export async function startApiHarness(opts: ApiHarnessOptions = {}): Promise<ApiHarness> {
  const config = testConfig({ READFLOW_RATE_LIMIT_PER_MINUTE: '100000', ...opts.env });
  const ds = await openTestDataSource();
  const temporal = await connectTemporal();
  const storageDir = mkdtempSync(path.join(tmpdir(), 'readflow-api-'));
  const store = new LocalBlobStore(storageDir);
  const logger = pino({ level: process.env.READFLOW_TEST_LOG_LEVEL ?? 'silent' });
  const app = await createApiApp({
    config: { ...config, storageDir },
    dataSource: ds,
    temporalClient: temporal.client,
    store,
    logger,
    ...opts.deps,
  });
  const prefix = `t${randomUUID().slice(0, 6)}`;

  const tokenFor = async (readerId: string): Promise<string> => {
    const token = newToken();
    await ds.query(`INSERT INTO api_tokens (reader_id, token_hash) VALUES ($1, $2)`, [readerId, hashToken(token)]);
    return token;
  };

  return {
    app,
    server: app.getHttpServer(),
    config: { ...config, storageDir },
    ds,
    temporal,
    store,
    storageDir,
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
    async close() {
      await app.close();
      await ds.destroy();
      await temporal.close();
      rmSync(storageDir, { recursive: true, force: true });
    },
  };
}
