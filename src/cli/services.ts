import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import type { DataSource } from 'typeorm';

import { createActivities } from '../activities';
import { acceptanceWithViews } from '../dicom';
import { createApiApp } from '../api/bootstrap';
import type { Config } from '../config/config';
import type { Logger } from '../logger';
import type { BlobStore } from '../storage/blob-store';
import { LocalBlobStore } from '../storage/blob-store';
import { startSweeper } from '../storage/sweeper';
import { createReadflowWorker } from '../temporal/worker';

export interface Running {
  stop(): Promise<void>;
}

export function createStore(config: Config): LocalBlobStore {
  return new LocalBlobStore(config.storageDir, { retentionMs: { incoming: config.incomingRetentionMs } });
}

/** Routes the Temporal SDK's logs through pino. Call once per process, before any worker. */
export function installTemporalRuntime(logger: Logger): void {
  const log = logger.child({ component: 'temporal' });
  Runtime.install({
    logger: {
      log: (level, message, meta) =>
        log[level === 'TRACE' ? 'trace' : (level.toLowerCase() as 'info')](meta ?? {}, message),
      trace: (m, meta) => log.trace(meta ?? {}, m),
      debug: (m, meta) => log.debug(meta ?? {}, m),
      info: (m, meta) => log.debug(meta ?? {}, m),
      warn: (m, meta) => log.warn(meta ?? {}, m),
      error: (m, meta) => log.error(meta ?? {}, m),
    },
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } },
  });
}

/** Connects to Temporal and runs the ReadFlow worker until stopped. */
export async function startWorker(
  config: Config,
  logger: Logger,
  dataSource: DataSource,
  store: LocalBlobStore,
): Promise<Running> {
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const activities = createActivities({
    dataSource,
    store,
    deidSecret: config.deidSecret ?? '',
    maxDicomBytes: config.maxDicomBytes,
    importDir: config.importDir,
    acceptance: acceptanceWithViews(config.acceptance.viewPositions),
    releasesDir: config.releases.dir,
    logger: logger.child({ component: 'activities' }),
  });
  const worker = await createReadflowWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    activities,
  });
  const running = worker.run();
  logger.info(
    { taskQueue: config.temporal.taskQueue, namespace: config.temporal.namespace },
    'Worker running',
  );
  const stopSweeper = startSweeper(store, {
    areas: ['incoming'],
    intervalMs: Math.min(config.incomingRetentionMs, 3_600_000),
    logger: logger.child({ component: 'sweeper' }),
  });
  return {
    stop: async () => {
      stopSweeper();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

/** Connects to Temporal and serves the HTTP API until stopped. */
export async function startApi(
  config: Config,
  logger: Logger,
  dataSource: DataSource,
  store: BlobStore,
): Promise<Running & { url: string }> {
  const connection = await Connection.connect({ address: config.temporal.address });
  const temporalClient = new Client({ connection, namespace: config.temporal.namespace });
  const app = await createApiApp({
    config,
    dataSource,
    temporalClient,
    store,
    logger: logger.child({ component: 'api' }),
  });
  await app.listen(config.http.port, config.http.host);
  const address = app.getHttpServer().address() as { port: number } | null;
  const url = config.http.publicUrl.replace(/:\d+$/, `:${address?.port ?? config.http.port}`);
  return {
    url,
    stop: async () => {
      await app.close();
      await connection.close();
    },
  };
}
