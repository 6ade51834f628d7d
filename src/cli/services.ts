import { NativeConnection } from '@temporalio/worker';
import type { DataSource } from 'typeorm';

import { createActivities } from '../activities';
import { acceptanceWithViews } from '../dicom';
import { createApiApp } from '../api/bootstrap';
import type { Config } from '../config/config';
import type { Logger } from '../logger';
import type { BlobStore } from '../storage/blob-store';
import { LocalBlobStore } from '../storage/blob-store';
import { startSweeper } from '../storage/sweeper';
import { keepCapacitySweeper } from '../temporal/capacity-sweeper';
import { connectTemporalClient } from '../temporal/client';
import { readflowDataConverter, temporalConnectionOptions } from '../temporal/connect';
import { createReadflowWorker } from '../temporal/worker';

export interface Running {
  stop(): Promise<void>;
}

export function createStore(config: Config): LocalBlobStore {
  return new LocalBlobStore(config.storageDir, { retentionMs: { incoming: config.incomingRetentionMs } });
}

/** Connects to Temporal and runs the ReadFlow worker until stopped. */
export async function startWorker(
  config: Config,
  logger: Logger,
  dataSource: DataSource,
  store: LocalBlobStore,
): Promise<Running> {
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal.address, config.security));
  const activities = createActivities({
    dataSource,
    store,
    deidSecret: config.deidSecret,
    maxDicomBytes: config.maxDicomBytes,
    importDir: config.importDir,
    acceptance: acceptanceWithViews(config.acceptance.viewPositions, config.acceptance.maxImagePixels),
    releasesDir: config.releases.dir,
    taxonomy: config.taxonomy,
    logger: logger.child({ component: 'activities' }),
  });
  const worker = await createReadflowWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    activities,
    dataConverter: readflowDataConverter(config.security),
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
  // The task queue's capacity sweeper (a workflow): made sure of at every worker start, with this worker's settings.
  const temporal = await connectTemporalClient({ address: config.temporal.address, namespace: config.temporal.namespace, security: config.security });
  const capacitySweeper = keepCapacitySweeper(temporal.client, {
    taskQueue: config.temporal.taskQueue,
    intervalMs: config.capacitySweep.intervalMs,
    logger: logger.child({ component: 'capacity-sweeper' }),
  });
  return {
    stop: async () => {
      stopSweeper();
      capacitySweeper.stop();
      await temporal.close().catch(() => undefined);
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
  const temporal = await connectTemporalClient({ address: config.temporal.address, namespace: config.temporal.namespace, security: config.security });
  const app = await createApiApp({
    config,
    dataSource,
    temporalClient: temporal.client,
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
      await temporal.close();
    },
  };
}
