import { randomUUID } from 'node:crypto';

import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { Client as PgClient } from 'pg';
import type { DataSource } from 'typeorm';

import type { Config } from '../../src/config/config';
import { loadConfig } from '../../src/config/config';
import { createDataSource, ensureDatabase } from '../../src/db/data-source';
import { readflowDataConverter } from '../../src/temporal/connect';
import { parsePayloadKeys } from '../../src/temporal/payload-codec';

/**
 * The payload keys of every test client and worker (READFLOW_PAYLOAD_KEYS): tests run with encrypted payloads, like
 * `npm start` and production. `old1` is a retired key still listed for decryption.
 */
export const TEST_PAYLOAD_KEYS = `test1:${Buffer.alloc(32, 7).toString('base64')},old1:${Buffer.alloc(32, 9).toString('base64')}`;

/** The data converter (payload codec) of test clients and workers. */
export function testDataConverter(): ReturnType<typeof readflowDataConverter> {
  return readflowDataConverter({ payloadKeys: parsePayloadKeys(TEST_PAYLOAD_KEYS) });
}

/** The services started by global-setup, as seen from a test worker. */
export function testServices(): { temporalAddress: string; namespace: string; databaseUrl: string; temporalCli: string } {
  const temporalAddress = process.env.READFLOW_TEST_TEMPORAL_ADDRESS;
  const databaseUrl = process.env.READFLOW_TEST_DATABASE_URL;
  if (!temporalAddress || !databaseUrl) {
    throw new Error('Integration services are missing: run through `npm test` (jest global-setup starts them).');
  }
  return {
    temporalAddress,
    databaseUrl,
    namespace: process.env.READFLOW_TEST_TEMPORAL_NAMESPACE ?? 'readflow',
    temporalCli: process.env.READFLOW_TEST_TEMPORAL_CLI ?? 'temporal',
  };
}

/** A Config pointing at the test services, with overrides. Each call gets its own task queue. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  const s = testServices();
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATABASE_URL: s.databaseUrl,
    TEMPORAL_ADDRESS: s.temporalAddress,
    TEMPORAL_NAMESPACE: s.namespace,
    TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
    TEMPORAL_START_DEV_SERVER: 'false',
    READFLOW_DEID_SECRET: 'test-secret-test-secret-test-secret-0123456789',
    PORT: '0',
    READFLOW_PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
    ...overrides,
  });
}

/** An initialized DataSource on the run's (already migrated) database. */
export async function openTestDataSource(): Promise<DataSource> {
  const ds = createDataSource(testServices().databaseUrl, { poolSize: 4 });
  await ds.initialize();
  return ds;
}

/** Client and NativeConnection to the run's Temporal dev server. Close both in afterAll. */
export async function connectTemporal(): Promise<{
  client: Client;
  connection: Connection;
  nativeConnection: NativeConnection;
  close: () => Promise<void>;
}> {
  const s = testServices();
  const connection = await Connection.connect({ address: s.temporalAddress });
  const nativeConnection = await NativeConnection.connect({ address: s.temporalAddress });
  const client = new Client({ connection, namespace: s.namespace, dataConverter: testDataConverter() });
  return {
    client,
    connection,
    nativeConnection,
    close: async () => {
      await connection.close();
      await nativeConnection.close();
    },
  };
}

/**
 * Creates (if missing) a test database with commits that do not wait for the WAL flush (`synchronous_commit = off`,
 * for every session on it): a committed write is visible to every other session at once, exactly as before; only a
 * crash of the Postgres server itself could lose the last ones, which no test causes on this server (the outage tests
 * cut connections or terminate backends). Saves an fsync per transaction, milliseconds each on CI's disk.
 */
export async function ensureTestDatabase(url: string): Promise<void> {
  await ensureDatabase(url);
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const pg = new PgClient({ connectionString: admin.toString() });
  await pg.connect();
  try {
    await pg.query(`ALTER DATABASE "${name}" SET synchronous_commit = off`);
  } finally {
    await pg.end();
  }
}
