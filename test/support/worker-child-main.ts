/**
 * A ReadFlow worker in its own process, for the crash-recovery test (started by worker-child.js).
 * Configuration comes as JSON in READFLOW_CHILD_WORKER; prints `ready` once polling.
 */
import 'reflect-metadata';

import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';

import { createActivities } from '../../src/activities';
import { createDataSource } from '../../src/db/data-source';
import { LocalBlobStore } from '../../src/storage/blob-store';
import { createReadflowWorker } from '../../src/temporal/worker';
import { testDataConverter } from './services';

export interface ChildWorkerConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  databaseUrl: string;
  storeDir: string;
  deidSecret: string;
  bundlePath: string;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.env.READFLOW_CHILD_WORKER ?? '') as ChildWorkerConfig;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const ds = createDataSource(cfg.databaseUrl, { poolSize: 4 });
  await ds.initialize();
  const connection = await NativeConnection.connect({ address: cfg.address });
  const worker = await createReadflowWorker({
    connection,
    namespace: cfg.namespace,
    taskQueue: cfg.taskQueue,
    activities: createActivities({ dataSource: ds, store: new LocalBlobStore(cfg.storeDir), deidSecret: cfg.deidSecret, maxDicomBytes: 64 * 1024 * 1024 }),
    workflowBundle: { codePath: cfg.bundlePath },
    dataConverter: testDataConverter(),
  });
  const running = worker.run();
  process.stdout.write('ready\n');
  await running;
  await ds.destroy();
  await connection.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`worker-child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
