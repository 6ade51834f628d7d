import type { DataConverter } from '@temporalio/common';
import type { NativeConnection, WorkerOptions } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';

/** Options for ReadFlow's worker: one task queue serving every workflow and activity. */
export interface ReadflowWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: object;
  /** Pre-bundled workflow code (tests bundle once and reuse); defaults to bundling `src/workflows`. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  maxConcurrentActivityTaskExecutions?: number;
  /** The payload codec (src/temporal/connect.ts `readflowDataConverter`); payloads in clear without it. */
  dataConverter?: DataConverter;
}

/** Path of the workflows entry module (TypeScript under Jest, JavaScript under dist/). */
export const WORKFLOWS_PATH = require.resolve('../workflows');

/** Creates the ReadFlow worker. */
export async function createReadflowWorker(opts: ReadflowWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: opts.activities,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivityTaskExecutions ?? 20,
    ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
  });
}
