/**
 * `npm run gen:client`: boots the ReadFlow HTTP API (the real Nest app, on a throwaway Postgres database; Temporal
 * is not contacted to serve the spec), fetches the served /api/v1/openapi.json and writes its types to
 * generated/readflow-api.d.ts with openapi-typescript (types only, outside src/: generated, not maintained by hand). Commit the result; the simulator's client is typed by it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { Client, Connection } from '@temporalio/client';
import pino from 'pino';

import { createApiApp } from '../../api/bootstrap';
import { loadConfig } from '../../config/config';
import { dropDatabase, openDatabase } from '../../db/data-source';
import { LocalBlobStore } from '../../storage/blob-store';
import { repoRoot } from '../stack';
import { renderClientTypes } from './render';

export const SCHEMA_FILE = path.join('generated', 'readflow-api.d.ts');

async function main(): Promise<void> {
  // The Postgres server to boot a throwaway API on: the first argument, else the local one.
  const server = new URL(process.argv[2] || 'postgres://postgres@127.0.0.1:5432/postgres');
  server.pathname = `/readflow_genclient_${process.pid}`;
  const dbUrl = server.toString();
  const dir = mkdtempSync(path.join(tmpdir(), 'readflow-genclient-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: dbUrl,
    TEMPORAL_START_DEV_SERVER: 'false',
    READFLOW_DEID_SECRET: 'genclient-secret-genclient-secret-0123456789',
    PORT: '0',
    STORAGE_DIR: dir,
  });
  const ds = await openDatabase(dbUrl);
  const connection = Connection.lazy({ address: config.temporal.address });
  const app = await createApiApp({
    config,
    dataSource: ds,
    temporalClient: new Client({ connection, namespace: config.temporal.namespace }),
    store: new LocalBlobStore(dir),
    logger: pino({ level: 'silent' }),
  });
  try {
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as { port: number };
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/openapi.json`);
    if (!res.ok) throw new Error(`GET /api/v1/openapi.json: ${res.status}`);
    const file = path.join(repoRoot(), SCHEMA_FILE);
    writeFileSync(file, await renderClientTypes((await res.json()) as object));
    process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
  } finally {
    await app.close();
    await connection.close().catch(() => undefined);
    await ds.destroy();
    await dropDatabase(dbUrl);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
